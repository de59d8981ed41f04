"""The failure reason: one line in /opt/ml/output/failure, whose first 1024 characters become FailureReason.

The useful part comes first (which phase failed and what to do), details after, so SageMaker's truncation and the
Step Functions ``error`` field (256 characters) keep what matters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

MAX_REASON = 1024
_LAUNCHER_LINE = re.compile(r"ChildFailedError|torch\.distributed\.elastic|SignalException")
_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt)|AssertionError|KeyError)\b.*")


def one_line(text: str) -> str:
    """Collapse newlines and runs of spaces: the failure file is read as one line."""
    return re.sub(r"\s+", " ", text.replace("\n", " | ")).strip(" |")


def reason(phase: str, message: str, *, limit: int = MAX_REASON) -> str:
    line = one_line(f"{phase}: {message}")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def crash_summary(stderr_tail: Sequence[str], *, limit: int = 600) -> str:
    """The trainer's own error first (its last exception line), then the end of its stderr up to that line.

    A Python traceback ends with the exception line; torchrun then prints its own report (ChildFailedError, the
    failed ranks, a link): that report is skipped so the worker's traceback is what the reason shows.
    """
    lines = [ln.rstrip() for ln in stderr_tail if ln.strip()]
    if not lines:
        return "the trainer printed nothing on stderr"
    worker_errors = [i for i, ln in enumerate(lines) if _EXCEPTION_LINE.match(ln) and not _LAUNCHER_LINE.search(ln)]
    if worker_errors:
        lines = lines[: worker_errors[-1] + 1]
    error = lines[-1].strip() if worker_errors else ""
    tail: list[str] = []
    size = 0
    for ln in reversed(lines):
        size += len(ln) + 3
        if size > limit:
            break
        tail.append(ln.strip())
    tail.reverse()
    text = " | ".join(tail)
    return f"{error} || stderr tail: {text}" if error else f"stderr tail: {text}"


def write_failure(path: Path, text: str) -> None:
    """Write the reason; never raise (a failure while reporting a failure must not hide the first one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text[:MAX_REASON] + "\n", encoding="utf-8")
    except OSError:
        pass
