"""The failure reason: one line in /opt/ml/output/failure, whose first 1024 characters become FailureReason.

The useful part comes first (which phase failed and what to do), details after, so SageMaker's truncation and the
Step Functions ``error`` field (256 characters) keep what matters. :func:`report` is the one place that turns an
exception into that line and the entry's exit code (docs/container.md, "Failure").
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from gr00t_core.errors import TrainingError, UploadError, UserError
from sagemaker_entry.contract import BASE_DIR_ENV, DEFAULT_BASE_DIR

log = logging.getLogger("gr00t_sm.entry")

MAX_REASON = 1024
_LAUNCHER_LINE = re.compile(r"ChildFailedError|torch\.distributed\.elastic|SignalException")
_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt)|AssertionError|KeyError)\b.*")


# What each phase was doing, named after the phase in the reason: "<phase> (<hint>): <message>".
PHASE_HINTS = {
    "setup": "reading the job's configuration",
    "dataset": "preparing the dataset",
    "model": "fetching the base model",
    "training": "training",
    "upload": "copying outputs to the asset",
    "inference": "loading the final checkpoint and running get_action on a dataset frame",
    "release": "publishing to the Hugging Face Hub",
}

EXIT_USER_ERROR = 2
EXIT_FAILED = 1


def one_line(text: str) -> str:
    """Collapse newlines and runs of spaces: the failure file is read as one line."""
    return re.sub(r"\s+", " ", text.replace("\n", " | ")).strip(" |")


def reason(phase: str, message: str, *, limit: int = MAX_REASON) -> str:
    line = one_line(f"{phase}: {message}")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def phase_reason(phase: str, message: str) -> str:
    return reason(f"{phase} ({PHASE_HINTS.get(phase, phase)})", message)


def report(exc: Exception, phase: str, path: Path, *, dry_run: bool = False) -> int:
    """Log ``exc``, write its reason to ``path`` and return the exit code: 2 for a user error (no traceback: the
    message says what to change), 1 for a trainer crash or a failed copy, 1 with the traceback for anything else
    (a bug). A dry run (``--print-command``) prints a user error's reason on stderr instead of writing the file."""
    if isinstance(exc, UserError):
        text = phase_reason(phase, str(exc))
        log.error("%s", str(exc))
        if dry_run:
            print(text, file=sys.stderr)
        else:
            write_failure(path, text)
        return EXIT_USER_ERROR
    if isinstance(exc, (TrainingError, UploadError)):
        log.error("%s", exc)
        write_failure(path, phase_reason(phase, str(exc)))
        return EXIT_FAILED
    traceback.print_exc()
    write_failure(path, phase_reason(
        phase, f"unexpected error {type(exc).__name__}: {exc} (a bug: the job log has the traceback)"))
    return EXIT_FAILED


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


def fallback_path(environ: Mapping[str, str]) -> Path:
    """Where the reason goes when the contract itself could not be read (TrainingEnv.failure_file otherwise)."""
    base = Path(environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
    return Path(environ.get("SM_OUTPUT_DIR") or base / "output") / "failure"


def write_failure(path: Path, text: str) -> None:
    """Write the reason; never raise (a failure while reporting a failure must not hide the first one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text[:MAX_REASON] + "\n", encoding="utf-8")
    except OSError:
        pass
