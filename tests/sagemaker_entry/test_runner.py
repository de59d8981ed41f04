"""The trainer process: line-by-line streaming, the stderr tail, SIGTERM reaching torchrun's workers."""

import io
import signal
import sys
import textwrap
import threading
import time

from sagemaker_entry import failure
from sagemaker_entry.engines import Command, NodeLayout, torchrun_argv
from sagemaker_entry.runner import TrainerProcess, child_pids
from tests.entry_jobs import free_port

WORKER = textwrap.dedent("""
    import os, signal, sys, time
    out = sys.argv[1]
    step = 0
    def stop(*_):
        open(out, "w").write("saved at step %d" % step)
        print("worker stopping cleanly", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("{'loss': 1.5, 'grad_norm': 0.3, 'learning_rate': 0.0001, 'epoch': 0.1}", flush=True)
    sys.stdout.write("progress 10%\\rprogress 20%\\r")
    sys.stdout.flush()
    print("ready", flush=True)
    while True:
        step += 1
        time.sleep(0.05)
""")


def test_output_is_streamed_line_by_line_and_the_tail_kept(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text("import sys\nprint('line one', flush=True)\nfor i in range(200): print(f'noise {i}', file=sys.stderr)\n"
                      "raise ValueError('modality.json lacks video.front')\n")
    seen, out, err = [], io.StringIO(), io.StringIO()
    proc = TrainerProcess(Command([sys.executable, str(script)], {}), on_line=lambda line, s: seen.append((s, line)),
                          out=out, err=err, tail_lines=20)
    proc.start()
    assert proc.wait() == 1
    assert out.getvalue() == "line one\n" and err.getvalue().count("\n") > 200  # nothing dropped from the log
    assert len(proc.stderr_tail) == 20 and proc.stderr_tail[-1] == "ValueError: modality.json lacks video.front"
    summary = failure.crash_summary(proc.stderr_tail)
    assert summary.startswith("ValueError: modality.json lacks video.front || stderr tail:")


def test_sigterm_reaches_torchrun_workers_which_save_and_exit_zero(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    marker = tmp_path / "saved.txt"
    layout = NodeLayout(1, 1, 0, "127.0.0.1", free_port())
    lines = []
    ready = threading.Event()

    def on_line(line, stream):
        lines.append(line)
        if line == "ready":
            ready.set()

    proc = TrainerProcess(Command(torchrun_argv(sys.executable, layout, [str(script), str(marker)]), {}),
                          on_line=on_line, out=io.StringIO(), err=io.StringIO(), grace_seconds=60)
    proc.start()
    assert ready.wait(60), lines
    assert "progress 10%" in lines and "progress 20%" in lines  # carriage-return updates are lines too
    workers = child_pids(proc.pid)
    assert workers  # torchrun's worker is its child
    proc.terminate()
    assert proc.wait() == 0
    assert marker.read_text().startswith("saved at step")
    assert "worker stopping cleanly" in lines


def test_watchdog_kills_a_trainer_that_ignores_sigterm(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)\n")
    up = threading.Event()
    proc = TrainerProcess(Command([sys.executable, str(script)], {}), on_line=lambda _line, _stream: up.set(),
                          out=io.StringIO(), err=io.StringIO(), grace_seconds=0.5)
    proc.start()
    assert up.wait(30)
    started = time.monotonic()
    proc.terminate()
    assert proc.wait() == -signal.SIGKILL and time.monotonic() - started < 30


def test_failure_reason_is_one_bounded_line():
    text = failure.reason("training (training)", "x" * 3000 + "\nsecond line")
    assert "\n" not in text and len(text) == failure.MAX_REASON and text.startswith("training (training): xxx")
    assert failure.crash_summary([]) == "the trainer printed nothing on stderr"


def test_crash_summary_prefers_the_worker_error_over_torchruns_report():
    tail = [
        "Traceback (most recent call last):", '  File "train.py", line 3, in <module>',
        "KeyError: 'video.front'",
        "E1122 00:00:00 torch.distributed.elastic.multiprocessing.api: [ERROR] failed (exitcode: 1) local_rank: 0",
        "Traceback (most recent call last):", "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:",
        "============================================================", "Root Cause (first observed failure):",
    ]
    summary = failure.crash_summary(tail)
    assert summary.startswith("KeyError: 'video.front' || stderr tail: Traceback")
    assert "ChildFailedError" not in summary
