"""Checkpoints in /opt/ml/checkpoints: when one is complete, which one to resume from, what was uploaded.

Complete means: the builtin engine wrote its ``.complete`` marker (it writes it last); a GR00T (Hugging Face
Trainer) checkpoint has ``trainer_state.json`` (saved after weights, optimizer and RNG state) and has not
changed for a few seconds. On resume, checkpoint folders that never became complete (the job died while
saving) are removed: they are our own torn writes, and the Trainer would otherwise resume from the highest
number, complete or not.

The upload manifest lives beside the checkpoints so SageMaker's checkpoint sync restores it on a spot restart:
files already copied to the output folder are not sent again. A file inside ``checkpoint-N`` is identified by
its size only (checkpoints never change once complete, and SageMaker's restore gives files new mtimes); any
other file (train_result.json, a final model) by size and mtime, since the trainer may rewrite it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gr00t_core.parameters import Engine

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
COMPLETE_MARKER = ".complete"
TRAINER_STATE = "trainer_state.json"
MANIFEST_NAME = ".gr00t-uploads.json"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """``checkpoint-N`` folders sorted by step."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def has_completion_mark(checkpoint: Path, engine: str) -> bool:
    name = COMPLETE_MARKER if engine == Engine.BUILTIN.value else TRAINER_STATE
    return (checkpoint / name).is_file()


def signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime) of every file: equal twice in a row means nothing is writing there."""
    rows = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            try:
                st = path.stat()
            except OSError:
                continue
            rows.append((str(path.relative_to(folder)), st.st_size, st.st_mtime_ns))
    return tuple(sorted(rows))


@dataclass
class CompletionWatch:
    """Decides when a checkpoint folder is complete while the trainer may still be writing it."""

    engine: str
    stable_seconds: float = 3.0  # GR00T only: no file changed for this long after trainer_state.json appeared
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Path, tuple[tuple[tuple[str, int, int], ...], float]] = field(default_factory=dict)

    def is_complete(self, checkpoint: Path) -> bool:
        if not has_completion_mark(checkpoint, self.engine):
            return False
        if self.engine == Engine.BUILTIN.value:
            return True  # the marker is written last, after every file is closed
        sig = signature(checkpoint)
        now = self.clock()
        previous = self._seen.get(checkpoint)
        if previous is None or previous[0] != sig:
            self._seen[checkpoint] = (sig, now)
            return False
        return now - previous[1] >= self.stable_seconds


@dataclass
class ResumeState:
    latest: Path | None  # the checkpoint to resume from (None: fresh start)
    removed: list[str]  # incomplete checkpoint folders deleted

    @property
    def step(self) -> int:
        return int(CHECKPOINT_RE.match(self.latest.name).group(1)) if self.latest else 0  # type: ignore[union-attr]


def prepare_resume(folder: Path, engine: str, *, dry_run: bool = False) -> ResumeState:
    """Find the latest complete checkpoint left by an earlier attempt and drop incomplete ones
    (``dry_run``: only say which, for --print-command)."""
    latest: Path | None = None
    removed: list[str] = []
    for _step, path in list_checkpoints(folder):
        if has_completion_mark(path, engine):
            latest = path
        else:
            if not dry_run:
                shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return ResumeState(latest, removed)


def fingerprint(path: Path, relative: str) -> str:
    st = path.stat()
    return str(st.st_size) if CHECKPOINT_RE.match(relative.split("/", 1)[0]) else f"{st.st_size}:{st.st_mtime_ns}"


class UploadManifest:
    """What has been copied to which output prefix; saved atomically, safe to use from several threads."""

    def __init__(self, path: Path, output_prefix: str) -> None:
        self.path = path
        self.output_prefix = output_prefix
        self._lock = threading.Lock()
        self._files: dict[str, str] = {}  # relative path -> fingerprint
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        # Files copied to a different output folder (another run reusing this folder) do not count.
        if isinstance(data, dict) and data.get("output_prefix") == self.output_prefix and isinstance(data.get("files"), dict):
            self._files = {str(k): str(v) for k, v in data["files"].items()}

    def uploaded(self, relative: str, print_: str) -> bool:
        with self._lock:
            return self._files.get(relative) == print_

    def record(self, relative: str, print_: str) -> None:
        with self._lock:
            self._files[relative] = print_

    def count(self) -> int:
        with self._lock:
            return len(self._files)

    def save(self) -> None:
        with self._lock:
            data = {"output_prefix": self.output_prefix, "files": dict(sorted(self._files.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.path)
