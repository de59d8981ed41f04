"""The run's lifecycle: which phase is running and for how long, the trainer process, and SIGTERM.

Each phase prints ``[gr00t-sm] phase=<name> seconds=<s>`` (a metric, gr00t_core.metrics). SIGTERM (spot
interruption, StopTrainingJob) before the trainer starts abandons the phase at once: there is nothing to save.
During training it is forwarded to the trainer, which saves the running step; what follows must be done by
:meth:`Lifecycle.deadline`, before SageMaker's SIGKILL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from gr00t_core import metrics

if TYPE_CHECKING:
    from sagemaker_entry.engines import Command
    from sagemaker_entry.runner import LineHandler, TrainerProcess

TRAINER_GRACE_SECONDS = 90.0  # after SIGTERM: time the trainer gets to save before we kill it
STOP_DEADLINE_SECONDS = 112.0  # after SIGTERM: everything done before SageMaker's SIGKILL (~120 s)

# Phases in which SIGTERM finds nothing to save.
_ABANDONABLE = ("setup", "dataset", "model")

T = TypeVar("T")


class StopRequested(Exception):
    """SIGTERM arrived before the trainer started: nothing to save, exit cleanly."""


class Lifecycle:
    def __init__(self) -> None:
        self.phase = "setup"
        self.phase_seconds: dict[str, float] = {}
        self.stop = threading.Event()
        self.stop_at: float | None = None
        self.trainer: TrainerProcess | None = None

    def request_stop(self, *_: object) -> None:
        """The SIGTERM handler (``signal.signal`` passes the signal number and frame, unused)."""
        if self.stop.is_set():
            return
        self.stop_at = time.monotonic()
        self.stop.set()
        print(f"{metrics.LOG_PREFIX} SIGTERM received in phase {self.phase}: stopping", flush=True)
        if self.trainer is not None:
            self.trainer.terminate()
        elif self.phase in _ABANDONABLE:
            # Abandon a long download now rather than be killed in the middle of it (temporary folders and cache
            # locks are released on the way out).
            raise StopRequested()

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise StopRequested()

    def timed(self, name: str, fn: Callable[[], T], *, stoppable: bool = True) -> T:
        """Run ``fn`` as phase ``name`` and print its phase line, also when it fails. A stoppable phase does not
        start after SIGTERM; the final copy is not stoppable (it is what SIGTERM leaves to do)."""
        if stoppable:
            self.check_stop()
        self.phase = name
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.phase_seconds[name] = time.monotonic() - started
            print(metrics.phase_line(name, self.phase_seconds[name]), flush=True)

    def deadline(self) -> float | None:
        """When everything must be done (time.monotonic), or None when no SIGTERM came."""
        return None if self.stop_at is None else self.stop_at + STOP_DEADLINE_SECONDS

    def run_trainer(self, command: Command, on_line: LineHandler) -> int:
        """Start the trainer and wait for it; a SIGTERM from now on is forwarded to it."""
        from sagemaker_entry.runner import TrainerProcess

        self.check_stop()
        trainer = TrainerProcess(command, on_line=on_line, grace_seconds=TRAINER_GRACE_SECONDS)
        self.trainer = trainer
        trainer.start()
        print(f"{metrics.LOG_PREFIX} trainer started pid={trainer.pid} at={trainer.started_at:.3f}", flush=True)
        if self.stop.is_set():  # SIGTERM raced with the start
            trainer.terminate()
        return trainer.wait()
