"""Upload tail after the trainer's last save: background checkpoint uploads vs. uploading everything at the end.

A "trainer" thread saves 3 checkpoints of ``--checkpoint-mb`` each (default 500 MB, two files: a big shard and a
small one), training ``interval`` seconds between saves, while :class:`OutputPublisher` copies each complete one
in the background. Measured against a moto S3 server on loopback (its own process, so its CPU work does not
share the measuring process's interpreter lock):

* ``tail``: from the last ``.complete`` marker to "all outputs in S3" (``OutputPublisher.finish``),
* ``last_alone``: uploading the last checkpoint by itself (the floor),
* ``all_at_end``: uploading the 3 checkpoints after training (what a copy-at-the-end pipeline does).

Target: tail <= 1.3 x last_alone. Run: ``.venv/bin/python -m benchmarks.bench_uploads [--checkpoint-mb 500]``.
Disk: writes 3 x checkpoint-mb under a temporary folder in /tmp and removes it; moto keeps objects in memory, so
each scenario's bucket is emptied before the next.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import boto3

from benchmarks._support import moto_workspace
from gr00t_aws import uploads
from gr00t_aws.clients import client_config
from sagemaker_entry.checkpoints import MANIFEST_NAME, UploadManifest
from sagemaker_entry.outputs import OutputPublisher

MIB = 1024 * 1024
BLOCK = os.urandom(8 * MIB)  # incompressible content, written repeatedly (fast, and not a sparse file)


def _client(url: str):  # noqa: ANN202
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                        config=client_config())


def _write_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(BLOCK))
            f.write(BLOCK[:n])
            left -= n


def _save_checkpoint(root: Path, step: int, size: int) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    _write_file(folder / "model.safetensors", size * 9 // 10)
    _write_file(folder / "optimizer.pt", size - size * 9 // 10)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (folder / ".complete").write_text("")  # written last, as the builtin engine does
    return folder


def _empty(client, bucket: str) -> None:  # noqa: ANN001
    keys = [o["Key"] for p in client.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])]
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})


def _upload_folders(client, bucket: str, folders: list[Path], root: Path) -> float:  # noqa: ANN001
    items = [uploads.UploadItem(p, f"run/{p.relative_to(root)}") for f in folders for p in sorted(f.iterdir())]
    started = time.monotonic()
    uploads.upload_batch(client, bucket, items)
    return time.monotonic() - started


def _background_scenario(client, ck: Path, size: int, train_seconds: float) -> float:  # noqa: ANN001
    """Train (sleep), save, repeat 3 times while the publisher copies in the background; returns the tail."""
    ck.mkdir()
    prefix = "s3://bench/pipelines/p/files/gr00tOutput_bench/"
    publisher = OutputPublisher(client, prefix, ck, UploadManifest(ck / MANIFEST_NAME, prefix), engine="builtin",
                                poll_seconds=0.2)
    publisher.start()
    last_save = [0.0]

    def trainer() -> None:
        for step in (1, 2, 3):
            time.sleep(train_seconds)
            _save_checkpoint(ck, step, size)
            last_save[0] = time.monotonic()

    thread = threading.Thread(target=trainer)
    thread.start()
    thread.join()
    publisher.finish()
    tail = time.monotonic() - last_save[0]
    assert publisher.stats.checkpoints == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    _empty(client, "bench")
    shutil.rmtree(ck)
    return tail


def run(checkpoint_mb: int, interval: float | None, repeats: int = 2) -> dict[str, float]:
    """Medians over ``repeats`` (this machine is shared: single timings are noisy)."""
    size = checkpoint_mb * MIB
    with moto_workspace("bench-uploads-", "bench") as (work, url):
        client = _client(url)
        base = work / "baseline"
        folders = [_save_checkpoint(base, step, size) for step in (1, 2, 3)]
        alone, at_end = [], []
        for _ in range(repeats):
            alone.append(_upload_folders(client, "bench", folders[-1:], base))
            _empty(client, "bench")
            at_end.append(_upload_folders(client, "bench", folders, base))
            _empty(client, "bench")
        shutil.rmtree(base)
        last_alone, all_at_end = statistics.median(alone), statistics.median(at_end)
        # The interval between saves is longer than one upload, as in real runs (minutes of training per
        # checkpoint), so the background copy keeps up.
        train_seconds = interval if interval is not None else max(2.0, 1.5 * max(alone))
        tails = [_background_scenario(client, work / f"checkpoints-{i}", size, train_seconds) for i in range(repeats)]
        tail = statistics.median(tails)
        return {
            "checkpoint_mb": checkpoint_mb,
            "repeats": repeats,
            "train_seconds_between_saves": round(train_seconds, 2),
            "last_alone_s": round(last_alone, 2),
            "tail_s": round(tail, 2),
            "all_at_end_s": round(all_at_end, 2),
            "tail_vs_last_alone": round(tail / last_alone, 3),
            "all_at_end_vs_last_alone": round(all_at_end / last_alone, 3),
            "all_at_end_vs_tail": round(all_at_end / tail, 3),
            "samples": {"last_alone": [round(x, 2) for x in alone], "all_at_end": [round(x, 2) for x in at_end],
                        "tail": [round(x, 2) for x in tails]},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-mb", type=int, default=500)
    parser.add_argument("--interval", type=float, default=None, help="seconds of 'training' between saves")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    result = run(args.checkpoint_mb, args.interval, args.repeats)
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["tail_vs_last_alone"] <= 1.3 else "MISSES"
    print(f"tail = {result['tail_vs_last_alone']} x last checkpoint alone ({verdict} the <= 1.3 target); "
          f"uploading everything at the end = {result['all_at_end_vs_last_alone']} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
