"""Route what one thread prints (a Lambda handler running in-process) away from the console.

The console belongs to the progress view; a Lambda's own output (Powertools JSON log lines, EMF metric blobs)
belongs to its log, as in AWS. While :func:`routed_output` is active, ``sys.stdout``/``sys.stderr`` and every
logging handler that wrote to them go through a proxy; inside :func:`capture_thread` the current thread's writes
go to a buffer instead of the console.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_local = threading.local()


class _ThreadRoutedStream(io.TextIOBase):
    def __init__(self, default: TextIO) -> None:
        self.default = default

    def _target(self) -> Any:
        return getattr(_local, "sink", None) or self.default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.default.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.default, "encoding", "utf-8")


def _stream_handlers(streams: dict[int, Any]) -> list[logging.StreamHandler]:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    found = []
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in streams:
                found.append(handler)
    return found


@contextmanager
def routed_output() -> Iterator[TextIO]:
    """Install the per-thread routing; yields the real stdout (for the console view)."""
    real_out, real_err = sys.stdout, sys.stderr
    proxies = {id(real_out): _ThreadRoutedStream(real_out), id(real_err): _ThreadRoutedStream(real_err)}
    handlers = _stream_handlers(proxies)
    saved = [(h, h.stream) for h in handlers]
    for handler in handlers:
        handler.stream = proxies[id(handler.stream)]
    sys.stdout, sys.stderr = proxies[id(real_out)], proxies[id(real_err)]
    try:
        yield real_out
    finally:
        sys.stdout, sys.stderr = real_out, real_err
        for handler, stream in saved:
            handler.stream = stream


@contextmanager
def capture_thread() -> Iterator[io.StringIO]:
    """Collect what this thread writes to stdout/stderr (through the routing) into a buffer."""
    buffer = io.StringIO()
    previous = getattr(_local, "sink", None)
    _local.sink = buffer
    try:
        yield buffer
    finally:
        _local.sink = previous
