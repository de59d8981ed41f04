"""TensorBoard event files of a trainer that writes them elsewhere, copied into the TensorBoard folder as they grow.

SageMaker copies ``TensorBoardOutputConfig.LocalPath`` to S3 while the job runs, and Studio's TensorBoard reads
it there. The builtin engine writes into that folder itself. GR00T N1.5's ``gr00t_finetune.py`` cannot be told
where to: it builds TrainingArguments without ``logging_dir``, so transformers 4.x puts the events in
``<output_dir>/runs/<date>_<host>/`` (``scripts/gr00t_finetune.py``, ``gr00t/experiment/runner.py`` at the pinned
commit), and 4.x reads no variable for that folder (TENSORBOARD_LOGGING_DIR came with transformers 5). So the
entry copies them, the way it watches checkpoints: a thread polls, and a last pass runs after the trainer exits.

An event file only ever grows (records are appended and flushed), so each pass appends what is new to the copy:
nothing already copied is rewritten and a reader never sees a shorter file. A file that shrank (a new file under
the same name) is copied again whole. Every run folder's files go flat into the TensorBoard folder (their names
carry time, host and pid): a job resumed after a spot interruption starts a new ``runs/`` folder, and flat files
make Studio show the whole job as one run.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

log = logging.getLogger("gr00t_sm.tensorboard")

EVENT_FILE_PREFIX = "events.out.tfevents."  # the name every TensorBoard writer gives its files


class EventMirror:
    def __init__(self, source: Path, dest: Path, *, poll_seconds: float = 10.0) -> None:
        self.source = source
        self.dest = dest
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self) -> int:
        """Copy what was appended to every event file under ``source`` since the last pass; returns bytes copied."""
        copied = 0
        for src in sorted(self.source.rglob(f"{EVENT_FILE_PREFIX}*")) if self.source.is_dir() else []:
            dst = self.dest / src.name
            have = dst.stat().st_size if dst.is_file() else 0
            size = src.stat().st_size
            if size == have:
                continue
            start, mode = (have, "ab") if size > have else (0, "wb")  # appended records, or another file
            self.dest.mkdir(parents=True, exist_ok=True)
            with src.open("rb") as reader, dst.open(mode) as writer:
                reader.seek(start)
                shutil.copyfileobj(reader, writer)
                copied += writer.tell() - start
        return copied

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sync()
            except OSError as exc:  # keep training; the next pass (or the last one) copies it
                log.warning("TensorBoard events not copied this time: %s", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tensorboard-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and copy what the trainer wrote last (call after it exited)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            copied = self.sync()
        except OSError as exc:
            log.warning("TensorBoard events not copied to %s: %s", self.dest, exc)
            return
        if copied:
            log.info("TensorBoard events copied to %s", self.dest)


__all__ = ["EVENT_FILE_PREFIX", "EventMirror"]
