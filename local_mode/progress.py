"""The live view of a local run: one line per phase as it ends, one line per logged training step.

Phases: preflight and launch (the launch Lambda), dataset, model, training, upload (the job, read from its log
lines: ``[gr00t-sm] phase=NAME seconds=S``, the trainer's dict lines and ``[gr00t-sm] step=N ...``), callback
(the job-events Lambda and the state machine's end). Plain lines, no cursor tricks: the same output reads well in
a terminal and in a CI log. ``verbose`` also echoes every job log line.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TextIO

from gr00t_core import metrics

_PHASE = re.compile(r"\[gr00t-sm\] phase=(\w+) seconds=([0-9.]+)")
_STEP = re.compile(r"\[gr00t-sm\] step=(\d+)")
_TIER = re.compile(r"base model served by tier '([^']+)'")
_PROBLEM = re.compile(r"\[gr00t-sm\] (error|warning):? (.*)", re.IGNORECASE)
_PROBLEM_ITEM = re.compile(r"^\s+- ")
# Entry phases shown under their own name; "setup" (reading the contract) is folded into "dataset".
JOB_PHASES = ("dataset", "model", "training", "upload")


class ProgressView:
    def __init__(self, out: TextIO, *, verbose: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.verbose = verbose
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        utf8 = "utf" in (getattr(out, "encoding", "") or "").lower()
        # ✓/✗ are verdicts (pipeline steps, the job); • marks a job phase that ended (its verdict is the job's)
        self._ok, self._bad, self._run, self._ended = ("✓", "✗", "…", "•") if utf8 else ("ok", "XX", "..", "--")
        self.final_loss: float | None = None
        self.last_step: int | None = None
        self.max_steps: int | None = None
        self.phase_seconds: dict[str, float] = {}
        self._pending_loss: float | None = None
        self._model_tier = ""
        self._after_problem = False

    # --- what the pipeline reports ------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def _elapsed(self) -> str:
        return f"{self.clock() - self.started:6.1f}s"

    def _line(self, head: str, text: str) -> None:
        """Continuation lines of a multi-line text (error lists) line up under its first line."""
        first, *rest = text.splitlines() or [""]
        self._write("\n".join([f"{head} {first}", *(f"{'':{len(head)}} {line}" for line in rest)]))

    def step(self, phase: str, text: str, *, ok: bool = True) -> None:
        mark = self._ok if ok else self._bad
        self._line(f"{self._elapsed()} {mark} {phase:<10}", text)

    def ended(self, phase: str, text: str) -> None:
        self._line(f"{self._elapsed()} {self._ended} {phase:<10}", text)

    def running(self, phase: str, text: str) -> None:
        self._line(f"{self._elapsed()} {self._run} {phase:<10}", text)

    def note(self, text: str) -> None:
        self._line(f"{'':7}   {'':<10}", text)

    # --- what the job prints ------------------------------------------------------------------------------------
    def job_line(self, host: str, line: str) -> None:
        """Feed one line of the training job's log (any host; phases and steps come from the leader)."""
        if self.verbose:
            self._write(f"{'':7}   {host:<10} {line}")
        leader = host in ("algo-1", "local", "compose")
        problem = _PROBLEM.search(line)
        if problem and not self.verbose:
            self.note(f"{host}: {problem.group(1).lower()}: {problem.group(2)[:300]}")
        self._after_problem = bool(problem) or (self._after_problem and bool(_PROBLEM_ITEM.match(line)))
        if self._after_problem and not problem and not self.verbose:
            self.note(f"{host}: {line.strip()[:300]}")  # the problem list under an error line
        if not leader:
            return
        tier = _TIER.search(line)
        if tier:
            self._model_tier = tier.group(1)
        phase = _PHASE.search(line)
        if phase:
            self._phase_done(phase.group(1), float(phase.group(2)))
            return
        values = metrics.parse_trainer_line(line)
        if values:
            if "loss" in values:
                self._pending_loss = values["loss"]
            if "train_loss" in values:
                self.final_loss = values["train_loss"]
            return
        step = _STEP.search(line)
        if step and self._pending_loss is not None:
            self.last_step = int(step.group(1))
            self.final_loss = self._pending_loss
            total = f"/{self.max_steps}" if self.max_steps else ""
            self._write(f"{self._elapsed()}   {'training':<10} step {self.last_step}{total}  loss {self._pending_loss:.4f}")
            self._pending_loss = None

    def _phase_done(self, name: str, seconds: float) -> None:
        self.phase_seconds[name] = seconds
        if name == "setup":
            return
        detail = f"{seconds:.1f} s"
        if name == "model" and self._model_tier:
            detail += f" (served by {self._model_tier})"
        if name == "training" and self.last_step is not None:
            detail += f", {self.last_step} steps"
        self.ended(name, detail)


def problem_lines(lines: list[str], limit: int = 20) -> list[str]:
    """The error and warning lines of a job log with the problem lists under them (what a failure is about)."""
    found: list[str] = []
    after = False
    for line in lines:
        text = line.split(" | ", 1)[-1]
        problem = _PROBLEM.search(text) and "error" in text.lower()
        after = bool(problem) or (after and bool(_PROBLEM_ITEM.match(text)))
        if after:
            found.append(line)
    return found[-limit:]
