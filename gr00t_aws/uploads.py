"""S3 transfers for the training container: parallel multipart uploads with whole-batch retries, and the
prefix operations the S3 model-cache tier needs (download, list, delete).

Every function takes a boto3 S3 client (tests pass one bound to moto). Retries are two-level: botocore retries
each request; a batch that still fails is retried as a whole (files already copied are not sent again), and a
permanent error (access denied, no such bucket) stops at once with a message naming what was not copied.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from gr00t_aws.aws_errors import error_code
from gr00t_core.content_types import content_type
from gr00t_core.errors import UploadError
from gr00t_core.s3_uri import S3Uri

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
# Permanent S3 errors: retrying cannot help, the message must say what to fix.
PERMANENT_CODES = ("AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
                   "InvalidBucketName", "KMS.AccessDeniedException", "AccountProblem")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix/")`` (:class:`gr00t_core.s3_uri.S3Uri`)."""
    parsed = S3Uri.parse(uri)
    return parsed.bucket, parsed.key


def join_key(prefix: str, relative: str) -> str:
    return f"{prefix.rstrip('/')}/{relative}" if prefix.strip("/") else relative


def transfer_config(*, chunk_mib: int = 64, concurrency: int = 8) -> TransferConfig:
    """Multipart above one chunk, ``concurrency`` parts in flight per file."""
    return TransferConfig(
        multipart_threshold=chunk_mib * MIB, multipart_chunksize=chunk_mib * MIB, max_concurrency=concurrency, use_threads=True
    )


def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return error_code(exc) in PERMANENT_CODES
    text = str(exc)  # boto3's S3UploadFailedError carries the ClientError only as text
    return any(f"({code})" in text for code in PERMANENT_CODES)


@dataclass(frozen=True)
class UploadItem:
    path: Path
    key: str  # object key in the destination bucket

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def upload_batch(
    client: S3Client,
    bucket: str,
    items: Sequence[UploadItem],
    *,
    config: TransferConfig | None = None,
    workers: int = 4,
    attempts: int = 3,
    backoff_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    on_uploaded: Callable[[UploadItem], None] | None = None,
    what: str = "files",
) -> int:
    """Upload every item (``workers`` files at a time, each multipart); returns the bytes sent.

    Every object gets an explicit ``ContentType`` from its key: VAMS checks it on every object it registers.

    A failed batch is retried ``attempts`` times with exponential backoff, sending only what is still missing.
    Raises :class:`UploadError` naming the files not copied. ``on_uploaded`` runs once per copied file (in the
    uploading thread), so callers can record progress as it happens.
    """
    config = config or transfer_config()
    pending = list(items)
    sent = 0
    last_error: BaseException | None = None
    for attempt in range(1, attempts + 1):
        failed: list[UploadItem] = []
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="s3-upload") as pool:
            futures = {
                pool.submit(
                    client.upload_file, str(i.path), bucket, i.key, ExtraArgs={"ContentType": content_type(i.key)},
                    Config=config,
                ): i
                for i in pending
            }
            for future in as_completed(futures):
                item = futures[future]
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - every failure is retried or reported below
                    failed.append(item)
                    last_error = exc
                    continue
                sent += item.size
                if on_uploaded:
                    on_uploaded(item)
        if not failed:
            return sent
        pending = sorted(failed, key=lambda i: i.key)
        if last_error is not None and is_permanent(last_error):
            break
        if attempt < attempts:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    names = ", ".join(i.key for i in pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
    raise UploadError(
        f"{len(pending)} of {len(items)} {what} were not copied to s3://{bucket}/ ({names}): {describe_error(last_error)}"
        " (objects already copied are kept)"
    )


_AWS_ERROR = re.compile(r"An error occurred \(([\w.]+)\)[^:]*: (.*)$")
_HINTS = {
    "NoSuchBucket": "the bucket does not exist: check the output path the job was given",
    "AccessDenied": "allow s3:PutObject on it in the training job's role (and kms:GenerateDataKey for a KMS key)",
}


def describe_error(exc: BaseException | None) -> str:
    """``Code: message; what to do`` from a boto3/botocore error, without the local file paths."""
    text = str(exc).strip().splitlines()[-1] if exc is not None and str(exc).strip() else type(exc).__name__
    match = _AWS_ERROR.search(text)
    if not match:
        return f"{text}; S3 kept failing after retries"
    code, message = match.groups()
    return f"{code}: {message}; {_HINTS.get(code, 'S3 kept failing after retries')}"


def put_json(client: S3Client, uri: str, data: Any) -> None:
    bucket, key = parse_s3_uri(uri)
    body = json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def list_prefix(client: S3Client, uri: str) -> dict[str, int]:
    """Relative key -> size of every object under the prefix."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"][len(prefix):]] = int(obj["Size"])
    return found


def download_prefix(
    client: S3Client, uri: str, dest: Path, *, relative_keys: Iterable[str] | None = None, config: TransferConfig | None = None,
    workers: int = 4,
) -> int:
    """Copy the objects under ``uri`` into ``dest`` keeping relative paths; returns bytes received."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    keys = list(relative_keys) if relative_keys is not None else list(list_prefix(client, uri))
    config = config or transfer_config()

    def fetch(rel: str) -> int:
        target = dest / rel
        if dest.resolve() not in target.resolve().parents:
            raise ValueError(f"refusing to write outside {dest}: {rel!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, prefix + rel, str(target), Config=config)
        return target.stat().st_size

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="s3-download") as pool:
        return sum(pool.map(fetch, keys))


def delete_prefix(client: S3Client, uri: str) -> int:
    """Delete every object under the prefix (model-cache invalidation only); returns how many."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    keys = [join_key(prefix, rel) for rel in list_prefix(client, uri)]
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
    return len(keys)
