"""Run the trainer: stream its output line by line to the job log, keep a tail for the failure reason, and
forward SIGTERM so the running step's checkpoint is saved before SageMaker's SIGKILL (~120 s later).

SIGTERM goes to torchrun's worker processes, not to torchrun itself: torchrun would give its workers only 30 s
before killing them, while the workers (the builtin engine) save a checkpoint and exit 0 on SIGTERM; torchrun
then ends by itself. A watchdog kills the whole process group if it is still alive after ``grace_seconds``.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sagemaker_entry.engines import Command

LineHandler = Callable[[str, str], None]  # (line, "stdout" | "stderr")


def child_pids(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Direct children of ``pid`` (scans /proc: works on every kernel, no psutil)."""
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


class TrainerProcess:
    def __init__(
        self, command: Command, *, cwd: Path | None = None, on_line: LineHandler | None = None, tail_lines: int = 80,
        out: IO[str] | None = None, err: IO[str] | None = None, grace_seconds: float = 100.0,
    ) -> None:
        self.command = command
        self.cwd = cwd
        self.on_line = on_line
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.stdout_tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.grace_seconds = grace_seconds
        self.started_at: float | None = None
        self.terminated = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pumps: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        env = {**os.environ, **self.command.env}
        self._proc = subprocess.Popen(  # noqa: S603 - argv built by engines.build_command
            self.command.argv, cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.started_at = time.time()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        for pipe, name, sink, tail in (
            (self._proc.stdout, "stdout", self.out, self.stdout_tail),
            (self._proc.stderr, "stderr", self.err, self.stderr_tail),
        ):
            thread = threading.Thread(target=self._pump, args=(pipe, name, sink, tail), name=f"trainer-{name}", daemon=True)
            thread.start()
            self._pumps.append(thread)

    def _pump(self, pipe: IO[bytes], name: str, sink: IO[str], tail: collections.deque[str]) -> None:
        """Forward every line as soon as it ends. Progress bars end lines with '\\r': split on it too, so a bar
        neither sits in a buffer until the run ends nor grows into one endless line."""
        fd = pipe.fileno()
        pending = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for raw in lines:
                self._emit(raw, name, sink, tail)
        if pending:
            self._emit(pending, name, sink, tail)

    def _emit(self, raw: bytes, name: str, sink: IO[str], tail: collections.deque[str]) -> None:
        line = raw.decode("utf-8", errors="replace")
        if not line.strip():
            return
        tail.append(line)
        with self._write_lock:
            sink.write(line + "\n")
            sink.flush()
        if self.on_line:
            self.on_line(line, name)

    def terminate(self) -> None:
        """Ask the trainer to save and stop (SIGTERM to the workers), then kill it after the grace period."""
        if not self._proc or self._proc.poll() is not None or self.terminated.is_set():
            return
        self.terminated.set()
        workers = child_pids(self._proc.pid)
        targets = workers or [self._proc.pid]
        for pid in targets:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        threading.Thread(target=self._watchdog, name="trainer-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        assert self._proc is not None
        try:
            self._proc.wait(timeout=self.grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        assert self._proc is not None, "start() first"
        code = self._proc.wait()
        for thread in self._pumps:
            thread.join(timeout=10)
        return code
