"""A handler's prints go to its invocation, the rest of the process keeps the console."""

from __future__ import annotations

import logging
import sys
import threading

from local_mode.capture import capture_thread, routed_output


def test_thread_output_is_captured_and_others_are_not(capsys):
    logger = logging.getLogger("gr00t-sm-test-capture")
    handler = logging.StreamHandler(sys.stdout)  # bound to the stream before routing, like Powertools' handler
    original_stream = handler.stream
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    captured = {}
    try:
        with routed_output() as console:
            def lambda_thread():
                with capture_thread() as buf:
                    print("from the handler")
                    logger.info("handler log line")
                captured["text"] = buf.getvalue()

            worker = threading.Thread(target=lambda_thread)
            worker.start()
            worker.join()
            print("from the main thread")
            console.write("straight to the console\n")
            assert handler.stream is not original_stream  # routed while local mode runs
    finally:
        logger.removeHandler(handler)
    assert captured["text"] == "from the handler\nhandler log line\n"
    out = capsys.readouterr().out
    assert "from the main thread" in out and "straight to the console" in out and "from the handler" not in out
    assert handler.stream is original_stream  # and given back afterwards
