"""Copy the run's outputs into the VAMS asset while training continues.

A background thread watches /opt/ml/checkpoints and uploads each ``checkpoint-N`` as soon as it is complete
(parallel multipart, whole-checkpoint retries). At the end only what is new is copied, plus the reports. Every
key is written under this run's own ``gr00tOutput_*`` folder: nothing outside it is listed, read or deleted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_aws import uploads
from gr00t_core.content_types import refused_by_vams
from gr00t_core.errors import UploadError
from sagemaker_entry.checkpoints import (
    CHECKPOINT_RE,
    MANIFEST_NAME,
    CompletionWatch,
    UploadManifest,
    fingerprint,
    has_completion_mark,
    list_checkpoints,
)

log = logging.getLogger("gr00t_sm.outputs")

VAMS_OBJECT_LIMIT = 1000  # VAMS registers what ONE list_objects_v2 call returns
WARN_OBJECTS = 900
IGNORED_NAMES = {MANIFEST_NAME}


@dataclass
class UploadStats:
    checkpoints: list[str] = field(default_factory=list)  # checkpoint folders fully copied, in order
    bytes: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files VAMS would refuse, left out of the asset


class OutputPublisher:
    def __init__(
        self, client: Any, output_prefix_uri: str, checkpoint_dir: Path, manifest: UploadManifest, *, engine: str,
        expected_checkpoints: int = 0, stable_seconds: float = 3.0, poll_seconds: float = 1.0, workers: int = 4,
        config: Any = None, attempts: int = 3, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.bucket, self.prefix = uploads.parse_s3_uri(output_prefix_uri)
        self.uri = output_prefix_uri
        self.checkpoint_dir = checkpoint_dir
        self.manifest = manifest
        self.watch = CompletionWatch(engine, stable_seconds=stable_seconds)
        self.expected_checkpoints = expected_checkpoints
        self.poll_seconds = poll_seconds
        self.workers = workers
        self.config = config or uploads.transfer_config()
        self.attempts = attempts
        self.sleep = sleep
        self.stats = UploadStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one upload batch at a time (background and final never overlap)
        self._failed: set[str] = set()  # checkpoints whose background copy failed after its retries
        self._projected_warned = False
        self._count_warned = False

    # --- background ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="checkpoint-uploader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.upload_complete_checkpoints()
            except Exception as exc:  # noqa: BLE001 - keep training; the final pass retries and reports
                log.warning("background upload failed (the final copy retries it): %s", exc)
            self._stop.wait(self.poll_seconds)

    def stop(self, *, wait: bool = True) -> None:
        """Stop watching; ``wait`` for the checkpoint being copied to finish."""
        self._stop.set()
        if self._thread and wait:
            self._thread.join()

    def upload_complete_checkpoints(self, *, final: bool = False) -> None:
        # The final pass tries every checkpoint, then names each one that did not land: stopping at the first
        # failure would leave later checkpoints uncopied and unnamed.
        failures: list[str] = []
        for _step, path in list_checkpoints(self.checkpoint_dir):
            if self._stop.is_set() and not final:
                return
            if path.name in self.stats.checkpoints or (path.name in self._failed and not final):
                continue
            # At the end the trainer has exited: a checkpoint with its completion mark is complete.
            ready = has_completion_mark(path, self.watch.engine) if final else self.watch.is_complete(path)
            if not ready:
                continue
            try:
                sent = self._upload_tree(path, what=f"files of {path.name}")
            except UploadError as exc:
                self._failed.add(path.name)  # retried (already with backoff) only by the final pass
                if not final:
                    raise
                failures.append(f"{path.name} did not land: {exc}")
                continue
            self.stats.checkpoints.append(path.name)
            if sent:
                log.info("copied %s (%d files) to %s%s/", path.name, sent, self.uri, path.name)
            else:
                log.info("%s was already copied by an earlier attempt", path.name)
            self._check_object_count(per_checkpoint=len(_tree_files(path)))
        if failures:
            raise UploadError(" ; ".join(failures))

    # --- shared -------------------------------------------------------------------------------------------
    def _upload_tree(self, folder: Path, *, what: str) -> int:
        items = []
        for path in _tree_files(folder):
            rel = str(path.relative_to(self.checkpoint_dir))
            if self._refused(rel):
                continue
            if not self.manifest.uploaded(rel, fingerprint(path, rel)):
                items.append(uploads.UploadItem(path, uploads.join_key(self.prefix, rel)))
        self._send(items, what=what, record_root=self.checkpoint_dir)
        return len(items)

    def _send(self, items: list[uploads.UploadItem], *, what: str, record_root: Path | None) -> None:
        if not items:
            return
        started = time.monotonic()

        # Fingerprints are taken before sending: a file rewritten during its upload is sent again next time.
        prints = {i.key: fingerprint(i.path, str(i.path.relative_to(record_root))) for i in items} if record_root else {}

        def record(item: uploads.UploadItem) -> None:
            if record_root is not None:
                self.manifest.record(str(item.path.relative_to(record_root)), prints[item.key])

        with self._lock:
            try:
                self.stats.bytes += uploads.upload_batch(
                    self.client, self.bucket, items, config=self.config, workers=self.workers, attempts=self.attempts,
                    sleep=self.sleep, on_uploaded=record, what=what,
                )
            finally:
                if record_root is not None:
                    self.manifest.save()
                self.stats.seconds += time.monotonic() - started

    def _check_object_count(self, *, per_checkpoint: int = 0) -> None:
        count = self.manifest.count()
        if per_checkpoint and self.expected_checkpoints and not self._projected_warned:
            projected = per_checkpoint * self.expected_checkpoints + 10
            if projected > VAMS_OBJECT_LIMIT:
                self._projected_warned = True
                self._warn(
                    f"this run will write about {projected} objects ({per_checkpoint} per checkpoint x "
                    f"{self.expected_checkpoints} checkpoints) but VAMS registers at most {VAMS_OBJECT_LIMIT} per run: "
                    "raise saveSteps so fewer checkpoints are saved"
                )
        if count >= WARN_OBJECTS and not self._count_warned:
            self._count_warned = True
            self._warn(f"{count} objects copied to the output folder: VAMS registers at most {VAMS_OBJECT_LIMIT}")

    def _refused(self, rel: str) -> bool:
        """A file VAMS refuses is never written: one such object and VAMS registers none of the run's files."""
        if not refused_by_vams(rel):
            return False
        if rel not in self.stats.skipped:
            self.stats.skipped.append(rel)
            self._warn(
                f"{rel} was not copied to the asset: VAMS refuses files of its kind and would then register nothing "
                "from this run (it stays in the job's checkpoint location in S3)"
            )
        return True

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.stats.warnings.append(text)

    # --- end of run ---------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Stop watching, then copy everything not yet copied: complete checkpoints and top-level outputs."""
        self.stop()
        errors: list[str] = []
        try:
            self.upload_complete_checkpoints(final=True)
        except UploadError as exc:
            errors.append(str(exc))
        rest = [
            p for p in sorted(self.checkpoint_dir.iterdir()) if p.name not in IGNORED_NAMES and not CHECKPOINT_RE.match(p.name)
            and not p.name.startswith(f"{MANIFEST_NAME}.")
        ] if self.checkpoint_dir.is_dir() else []
        for path in rest:
            try:
                if path.is_dir():
                    self._upload_tree(path, what=f"files of {path.name}/")
                elif path.is_file():
                    self._upload_tree_file(path)
            except UploadError as exc:
                errors.append(str(exc))
        self._check_object_count()
        if errors:
            self.stats.errors.extend(errors)
            raise UploadError(" ; ".join(errors))

    def _upload_tree_file(self, path: Path) -> None:
        rel = str(path.relative_to(self.checkpoint_dir))
        if not self._refused(rel) and not self.manifest.uploaded(rel, fingerprint(path, rel)):
            self._send([uploads.UploadItem(path, uploads.join_key(self.prefix, rel))], what=rel, record_root=self.checkpoint_dir)

    def upload_reports(self, files: dict[str, Path]) -> None:
        """Reports (summary, config, loss curve): always rewritten, they describe this attempt."""
        items = [
            uploads.UploadItem(p, uploads.join_key(self.prefix, name)) for name, p in files.items()
            if p.is_file() and not self._refused(name)
        ]
        self._send(items, what="report files", record_root=None)

    def object_count(self, reports: int = 0) -> int:
        return self.manifest.count() + reports


def _tree_files(folder: Path) -> list[Path]:
    return sorted(Path(root, name) for root, _d, names in os.walk(folder) for name in names)
