"""Many events at once against a moto server (moto's ThreadedMotoServer, in this process so a test can move jobs
to their end as SageMaker would): shared by tests/hostile/test_load.py (counts) and benchmarks/bench_load.py
(throughput and p95 latency).

Each launch event is the real VAMS event of tests/events with its own asset id, execution and token, so every
event must give its own job, and its own token stored for that job and no other.
"""

from __future__ import annotations

import copy
import os
import statistics
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from gr00t_aws.clients import AwsClients
from tests.aws_env import (
    ACCOUNT,
    ASSET_ROOT,
    REGION,
    World,
    create_resources,
    dataset_meta,
    lambda_runtime,
    load_event,
    settings,
)
from tests.entry_jobs import free_port

EXECUTION = "7c1e0b2a-9d4f-4b61-a8a3-0e6f5d2c9b47"


@contextmanager
def server_world() -> Iterator[World]:
    """A ThreadedMotoServer with the asset, the token table and the handlers' clients pointed at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # the backends outlive a server in this process: start from nothing (moto's reset endpoint)
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=10)  # noqa: S310 - loopback
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        # one client per service, shared by every thread (boto3 clients are thread-safe); pool sized for 16 threads
        config = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 6})
        make = lambda service: boto3.client(service, region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}", config=config)  # noqa: E731
        clients = AwsClients(**{s: make(s) for s in ("s3", "sagemaker", "stepfunctions", "dynamodb")})
        create_resources(clients)
        world = World(clients=clients, settings=settings())
        world.put_asset(dataset_meta(), config={"maxSteps": 300})
        with lambda_runtime(world):
            yield world
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def launch_events(count: int, *, tag: str = "load") -> list[dict[str, Any]]:
    """``count`` distinct VAMS events for the one asset: each its own execution, asset id and token."""
    template = load_event("vams_event.json")
    events = []
    for i in range(count):
        event = copy.deepcopy(template)
        body = event["body"]
        execution = f"{tag}-{i:04d}-{EXECUTION[:8]}"
        for key in ("outputS3AssetFilesPath", "outputS3AssetPreviewPath", "outputS3AssetMetadataPath"):
            body[key] = body[key].replace(EXECUTION, execution)
        body["assetId"] = f"{ASSET_ROOT.rstrip('/')}-{tag}{i}"
        body["inputAssetLocationKey"] = ASSET_ROOT
        body["TaskToken"] = f"token-{tag}-{i:04d}"
        events.append(event)
    return events


def terminal_event(job_name: str) -> dict[str, Any]:
    event = load_event("sagemaker_job_completed.json")
    event["detail"]["TrainingJobName"] = job_name
    event["resources"] = [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{job_name}"]
    return event


def finish_all(names: Sequence[str], status: str = "Completed") -> None:
    from moto.sagemaker.models import sagemaker_backends

    jobs = sagemaker_backends[ACCOUNT][REGION].training_jobs
    for name in names:
        jobs[name].training_job_status = jobs[name].secondary_status = status


@dataclass
class Timed:
    results: list[Any]
    latencies: list[float]  # seconds, one per call
    wall: float  # seconds for all calls

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] if len(self.latencies) >= 2 else self.latencies[0]


def run_all(call: Callable[[Any], Any], items: Sequence[Any], *, threads: int) -> Timed:
    """``call(item)`` for every item on ``threads`` threads (1: one after the other); results in item order."""

    def timed(item: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        result = call(item)
        return result, time.perf_counter() - start

    start = time.perf_counter()
    if threads == 1:
        pairs = [timed(item) for item in items]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pairs = list(pool.map(timed, items))
    return Timed([r for r, _ in pairs], [t for _, t in pairs], time.perf_counter() - start)

