"""What several benchmarks set up the same way."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.entry_jobs import start_moto_process


@contextmanager
def moto_workspace(prefix: str, bucket: str) -> Iterator[tuple[Path, str]]:
    """A scratch folder under /tmp and a moto server process with ``bucket`` created; both removed afterwards.

    Yields (folder, endpoint URL). The server runs in its own process so its CPU work stays out of the measurement.
    """
    import boto3

    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    moto, endpoint = start_moto_process()
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x").create_bucket(Bucket=bucket)
        yield work, endpoint
    finally:
        moto.kill()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)
