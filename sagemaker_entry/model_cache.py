"""The base-model cache: warm-pool cache -> file-system channel -> S3 copy -> Hugging Face Hub.

Entries are keyed by model id + revision and live at ``<tier root>/<key>/`` with a ``.gr00t-cache.json`` record
(files and sizes) written before the entry is renamed into place, so a half-written entry is never seen: a
download goes to ``<root>/.tmp-<key>-*`` and is renamed when complete. A lock file per key (POSIX ``fcntl``
record lock, which EFS and FSx for Lustre honour across instances) keeps two jobs sharing a file system from
filling or clearing the same entry at once. After a Hub download the S3 copy is written if it was missing (its
record object last, so a reader never sees a partial S3 entry). ``invalidateModelCache`` clears the entry in
every tier first.

A local directory as ``baseModelPath`` or a pre-filled tier works with no network at all.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_core.errors import ModelFetchError

log = logging.getLogger("gr00t_sm.model_cache")

RECORD = ".gr00t-cache.json"
LOCK_DIR = ".locks"


class Tier:
    LOCAL_PATH = "local path"
    WARM_POOL = "warm-pool cache"
    CHANNEL = "model_cache channel"
    SCRATCH = "instance scratch"
    S3 = "S3 model cache"
    HUB = "Hugging Face Hub"
    NONE = "none (random initialization)"


def cache_key(model_id: str, revision: str) -> str:
    """``nvidia/GR00T-N1.5-3B`` @ ``main`` -> ``nvidia--GR00T-N1.5-3B--main`` (a safe folder/S3 name)."""
    safe = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-") or "x"  # noqa: E731
    return f"{'--'.join(safe(p) for p in model_id.split('/'))}--{safe(revision or 'main')}"


@dataclass(frozen=True)
class LocalTier:
    name: str
    root: Path
    writable: bool


@dataclass
class ModelResult:
    path: Path | None  # None: nothing cached and the engine starts from random initialization
    tier: str
    seconds: float
    key: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path) if self.path else None, "tier": self.tier, "seconds": round(self.seconds, 3),
                "key": self.key, "notes": list(self.notes)}


def _files(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != RECORD
    }


def entry_is_complete(entry: Path) -> bool:
    """The record exists and every file it lists is there with its size (catches half-deleted entries)."""
    try:
        record = json.loads((entry / RECORD).read_text(encoding="utf-8"))
        return all((entry / rel).stat().st_size == size for rel, size in record["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_record(folder: Path, model_id: str, revision: str, source: str) -> dict[str, int]:
    files = _files(folder)
    if not files:
        raise ModelFetchError(f"the download of model {model_id!r} (revision {revision!r}) produced no files")
    record = {"model_id": model_id, "revision": revision, "source": source, "files": files, "created": time.time()}
    (folder / RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return files


class EntryLock:
    """An exclusive lock on one cache key in one tier root, waited for with a timeout."""

    def __init__(self, root: Path, key: str, *, timeout: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.path = root / LOCK_DIR / f"{key}.lock"
        self.timeout, self.clock, self.sleep = timeout, clock, sleep
        self._fd: int | None = None

    def __enter__(self) -> EntryLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = self.clock() + self.timeout
        announced = False
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if self.clock() >= deadline:
                    os.close(fd)
                    raise ModelFetchError(
                        f"gave up after {self.timeout:.0f} s waiting for another job to finish filling the model cache "
                        f"entry locked by {self.path}; retry the run, or remove the lock file if no job is running"
                    ) from None
                if not announced:
                    log.info("another job is filling model cache entry %s; waiting for it", self.path.stem)
                    announced = True
                self.sleep(1.0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _remove_tree(path: Path) -> None:
    """Rename aside first so a reader never sees a half-deleted entry, then delete."""
    if not path.exists():
        return
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


class S3Tier:
    """The S3 copy: ``<uri>/<key>/...`` with the record object written last."""

    def __init__(self, client: Any, uri: str):
        from gr00t_aws import uploads

        self.client, self.uri, self._up = client, uri.rstrip("/") + "/", uploads

    def entry_uri(self, key: str) -> str:
        return f"{self.uri}{key}/"

    def record(self, key: str) -> dict[str, Any] | None:
        bucket, prefix = self._up.parse_s3_uri(self.entry_uri(key))
        try:
            body = self.client.get_object(Bucket=bucket, Key=prefix + RECORD)["Body"].read()
            record = json.loads(body)
            return record if isinstance(record.get("files"), dict) else None
        except Exception:  # noqa: BLE001 - a missing or unreadable record means "not cached"
            return None

    def download(self, key: str, dest: Path) -> None:
        record = self.record(key)
        if record is None:
            raise FileNotFoundError(key)
        self._up.download_prefix(self.client, self.entry_uri(key), dest, relative_keys=list(record["files"]))

    def upload(self, key: str, folder: Path) -> None:
        bucket, prefix = self._up.parse_s3_uri(self.entry_uri(key))
        items = [self._up.UploadItem(folder / rel, prefix + rel) for rel in _files(folder)]
        self._up.upload_batch(self.client, bucket, items, what="model cache files")
        self._up.upload_batch(self.client, bucket, [self._up.UploadItem(folder / RECORD, prefix + RECORD)], what="model cache record")

    def delete(self, key: str) -> int:
        return self._up.delete_prefix(self.client, self.entry_uri(key))


HubFetch = Callable[[str, str, Path, str | None], Any]  # (repo_id, revision, dest, token) -> None


@dataclass
class ModelCache:
    local_tiers: list[LocalTier]  # lookup order; the first writable one receives downloads
    s3: S3Tier | None = None
    hub_fetch: HubFetch | None = None  # None: the Hub is not consulted (builtin engine)
    token_provider: Callable[[], str | None] = lambda: None
    # An engine that can use only some models (the builtin one: its own checkpoints) names a file they hold;
    # entries without it are passed over (not deleted) and never downloaded.
    required_file: str | None = None
    lock_timeout: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def _lock(self, tier: LocalTier, key: str) -> EntryLock:
        return EntryLock(tier.root, key, timeout=self.lock_timeout, clock=self.clock, sleep=self.sleep)

    def destination(self) -> LocalTier:
        for tier in self.local_tiers:
            if tier.writable:
                return tier
        raise ModelFetchError("no writable model cache folder: set a work folder or a writable model_cache channel")

    def invalidate(self, key: str) -> list[str]:
        """Remove the entry from every tier; returns what was cleared (for the log)."""
        cleared: list[str] = []
        for tier in self.local_tiers:
            entry = tier.root / key
            if tier.writable and entry.exists():
                with self._lock(tier, key):
                    _remove_tree(entry)
                cleared.append(tier.name)
            elif entry.exists():
                log.warning("cannot clear model cache entry %s in the read-only %s", entry, tier.name)
        if self.s3 is not None and self.s3.delete(key):
            cleared.append(Tier.S3)
        return cleared

    def _usable(self, entry: Path) -> bool:
        return entry_is_complete(entry) and (not self.required_file or (entry / self.required_file).is_file())

    def _s3_usable(self, key: str) -> bool:
        record = self.s3.record(key) if self.s3 is not None else None
        return record is not None and (not self.required_file or self.required_file in record["files"])

    def planned_path(self, model_id: str, revision: str) -> Path | None:
        """Where :meth:`fetch` would put the model, without fetching (for --print-command)."""
        if model_id.startswith("/"):
            return Path(model_id)
        key = cache_key(model_id, revision)
        for tier in self.local_tiers:
            if self._usable(tier.root / key):
                return tier.root / key
        if self.hub_fetch is None and not self._s3_usable(key):
            return None
        return self.destination().root / key

    def fetch(self, model_id: str, revision: str, *, invalidate: bool = False) -> ModelResult:
        started = self.clock()
        if model_id.startswith("/"):
            path = Path(model_id)
            if not path.is_dir():
                raise ModelFetchError(
                    f"baseModelPath {model_id!r} is a local path but no such folder exists in the container; give a "
                    "Hugging Face id such as nvidia/GR00T-N1.5-3B or mount the model (model_cache channel)"
                )
            return ModelResult(path, Tier.LOCAL_PATH, self.clock() - started, key="")
        key = cache_key(model_id, revision)
        notes: list[str] = []
        if invalidate:
            cleared = self.invalidate(key)
            notes.append(f"invalidateModelCache: cleared {', '.join(cleared) or 'nothing (no cached copy)'}")
        for tier in self.local_tiers:
            if self._usable(tier.root / key):
                return ModelResult(tier.root / key, tier.name, self.clock() - started, key, notes)
        if self.required_file and self.hub_fetch is None and not self._s3_usable(key):
            notes.append(f"no cached copy of {model_id}@{revision} usable by this engine (it needs {self.required_file})")
            return ModelResult(None, Tier.NONE, self.clock() - started, key, notes)
        dest = self.destination()
        with self._lock(dest, key):
            entry = dest.root / key
            if self._usable(entry):  # filled by another job while we waited for the lock
                return ModelResult(entry, dest.name, self.clock() - started, key, notes)
            for stale in dest.root.glob(f".tmp-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)  # left by a job that died mid-download (we hold the lock)
            tier_used = self._fill(dest, key, model_id, revision, notes)
            if tier_used is None:
                notes.append(f"no cached copy of {model_id}@{revision} in any tier and the Hub is not used by this engine")
                return ModelResult(None, Tier.NONE, self.clock() - started, key, notes)
        return ModelResult(entry, tier_used, self.clock() - started, key, notes)

    def _fill(self, dest: LocalTier, key: str, model_id: str, revision: str, notes: list[str]) -> str | None:
        tmp = dest.root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        entry = dest.root / key
        try:
            source = None
            if self.s3 is not None and self._s3_usable(key):
                self.s3.download(key, tmp)
                source = Tier.S3
            elif self.hub_fetch is not None:
                self.hub_fetch(model_id, revision, tmp, self.token_provider())
                source = Tier.HUB
            else:
                return None
            _write_record(tmp, model_id, revision, source)
            if entry.exists():
                _remove_tree(entry)  # an incomplete entry (record missing or files short)
            tmp.rename(entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        if source == Tier.HUB and self.s3 is not None and self.s3.record(key) is None:
            try:
                self.s3.upload(key, entry)
                notes.append(f"refreshed the S3 model cache copy at {self.s3.entry_uri(key)}")
            except Exception as exc:  # noqa: BLE001 - training can go on without the S3 copy
                notes.append(f"could not refresh the S3 model cache copy: {exc}")
        return source
