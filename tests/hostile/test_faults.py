"""Fault injection with the real adapters (issue #12): AWS's own error answers (tests/fixtures/aws_errors.json)
fed through botocore's parser and retry handler (tests/hostile/faults.py) while the project's code runs against a
moto server for state.

- S3 failing 30 % of requests while the checkpoint publisher (sagemaker_entry/outputs.py over
  gr00t_aws/uploads.upload_batch) copies checkpoints: every checkpoint lands, or the failure names each one that
  did not, and the stats never claim one that is not in S3.
- Throttling on Step Functions callbacks and DynamoDB (job-events handler, then the sweep): every finished job gets
  exactly one callback in effect.

botocore decides every retry itself (which codes, how many attempts, its retry quota); only its backoff wait is
skipped (``no_backoff``), or SlowDown's one-second throttling base makes one refused checkpoint cost a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gr00t_aws.clients import client_config
from gr00t_aws.uploads import transfer_config
from gr00t_core.errors import UploadError
from sagemaker_entry.checkpoints import MANIFEST_NAME, UploadManifest
from sagemaker_entry.outputs import OutputPublisher
from tests.entry_jobs import aws_env, free_port
from tests.hostile.conftest import FIGURES
from tests.hostile.faults import failing

S3_FAULTS = ("s3.internal_error", "s3.slow_down")
RUNS = 8  # seeded runs of the 30 % S3 fault test
CHECKPOINTS = (2, 4, 6, 8)
BUCKET = "assets"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = dict(os.environ)
    os.environ.update(aws_env(f"http://127.0.0.1:{port}"))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def s3(endpoint: str) -> Any:
    # The container's own client configuration (standard retry mode, 6 attempts, its timeouts).
    client = boto3.client("s3", endpoint_url=endpoint, config=client_config())
    client.create_bucket(Bucket=BUCKET)
    return client


def _checkpoints(root: Path) -> dict[str, dict[str, bytes]]:
    """Checkpoints as a trainer leaves them: weights big enough for a multipart upload (5 MiB parts), small files,
    the completion mark."""
    made: dict[str, dict[str, bytes]] = {}
    for step in CHECKPOINTS:
        folder = root / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        files = {"model.safetensors": bytes([step]) * (6 * MIB), "optimizer.pt": os.urandom(3000),
                 "trainer_state.json": b'{"global_step": %d}' % step, ".complete": b""}
        for name, data in files.items():
            (folder / name).write_bytes(data)
        made[folder.name] = files
    return made


def _landed(s3: Any, prefix_key: str, made: dict[str, dict[str, bytes]]) -> set[str]:
    """Checkpoints whose every file is in S3 with its exact bytes."""
    listed = {o["Key"]: o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix_key)
              for o in page.get("Contents", [])}
    landed = set()
    for name, files in made.items():
        keys = {f"{prefix_key}{name}/{f}": data for f, data in files.items()}
        if all(listed.get(k) == len(d) for k, d in keys.items()) and all(
                s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() == d for k, d in keys.items() if len(d) < MIB):
            landed.add(name)
    return landed


def _publish(s3: Any, tmp_path: Path, run: str) -> tuple[dict[str, dict[str, bytes]], OutputPublisher, str, str]:
    ck = tmp_path / run / "checkpoints"
    made = _checkpoints(ck)
    prefix_key = f"pipelines/p/{run}/files/gr00tOutput_faults/"
    uri = f"s3://{BUCKET}/{prefix_key}"
    pub = OutputPublisher(s3, uri, ck, UploadManifest(ck / MANIFEST_NAME, uri), engine="builtin",
                          config=transfer_config(chunk_mib=5, concurrency=2), sleep=lambda s: None)
    error = ""
    try:
        pub.finish()
    except UploadError as exc:
        error = str(exc)
    return made, pub, prefix_key, error


def _check_landed_or_named(s3: Any, made: dict[str, dict[str, bytes]], pub: OutputPublisher, prefix_key: str,
                           error: str) -> tuple[set[str], set[str]]:
    landed = _landed(s3, prefix_key, made)
    missing = set(made) - landed
    assert set(pub.stats.checkpoints) <= landed, (pub.stats.checkpoints, landed)  # never claims what is not there
    for name in missing:
        assert f"{name} did not land" in error, (name, error)
    assert bool(error) == bool(missing), error
    return landed, missing


def test_checkpoints_land_or_are_named_under_30_percent_s3_faults(s3: Any, tmp_path: Path) -> None:
    figures = FIGURES[f"S3 30% faults ({RUNS} seeded runs x {len(CHECKPOINTS)} checkpoints)"]
    for seed in range(RUNS):
        with failing(s3, S3_FAULTS, rate=0.3, seed=seed) as faults:
            made, pub, prefix_key, error = _publish(s3, tmp_path, f"run-{seed}")
        landed, missing = _check_landed_or_named(s3, made, pub, prefix_key, error)
        assert faults.failed, "no fault was injected"
        figures["checkpoints landed"] += len(landed)
        figures["checkpoints failed and named"] += len(missing)
        figures["S3 requests"] += faults.requests
        figures["S3 requests answered 500/503"] += faults.failed


def test_a_checkpoint_s3_keeps_refusing_is_named_and_the_later_ones_still_land(s3: Any, tmp_path: Path) -> None:
    # Every request for checkpoint-4's keys answered SlowDown: botocore's retries and the batch retries run out.
    with failing(s3, ("s3.slow_down",), rate=1.0, seed=0, only="/checkpoint-4/") as faults:
        made, pub, prefix_key, error = _publish(s3, tmp_path, "refused")
    landed, missing = _check_landed_or_named(s3, made, pub, prefix_key, error)
    assert missing == {"checkpoint-4"} and landed == {"checkpoint-2", "checkpoint-6", "checkpoint-8"}, (landed, error)
    assert "SlowDown" in error and faults.answered["SlowDown"] > 0
    FIGURES["S3 one checkpoint always refused"].update({"checkpoints landed": len(landed), "failed and named": len(missing)})


# --- throttled callbacks and token table ---------------------------------------------------------------------------
JOBS = 20
LAMBDA_ASYNC_ATTEMPTS = 3  # Lambda developer guide, Asynchronous invocation: a function error is retried twice


class EffectiveCallbacks:
    """Callbacks Step Functions accepted: botocore's after-call with an HTTP 200 answer (once per API call, after
    its retries), by task token. A throttled attempt never reaches moto (tests/hostile/faults.py)."""

    def __init__(self, sfn: Any) -> None:
        self.accepted: list[str] = []
        for operation in ("SendTaskSuccess", "SendTaskFailure"):
            sfn.meta.events.register(f"provide-client-params.sfn.{operation}", self._params)
            sfn.meta.events.register(f"after-call.sfn.{operation}", self._after)
        self._token: dict[int, str] = {}

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["gr00t_token"] = params["taskToken"]

    def _after(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200 and "Error" not in parsed:
            self.accepted.append(context["gr00t_token"])


def test_throttled_callbacks_and_token_table_give_exactly_one_callback_per_finished_job() -> None:
    from lambda_handler.job_events import handler as job_events
    from lambda_handler.launch import handler as launch
    from tests.aws_env import FakeLambdaContext, load_event
    from tests.hostile.load import finish_all, launch_events, server_world, terminal_event

    figures = FIGURES[f"throttling 30% on Step Functions + DynamoDB ({JOBS} finished jobs, each event delivered twice)"]
    with server_world() as world:
        events = launch_events(JOBS, tag="throttle")
        names = [launch(e, FakeLambdaContext())["trainingJobName"] for e in events]
        tokens = {name: e["body"]["TaskToken"] for name, e in zip(names, events, strict=True)}
        # Completed only: on moto's plain (non-parser) Step Functions backend that a server in this process runs,
        # local_mode/moto_fidelity.py's SendTaskFailure patch passes ``cause`` the backend does not take (a 500).
        finish_all(names, "Completed")
        sent = EffectiveCallbacks(world.clients.stepfunctions)
        invocations = failed_invocations = 0
        with failing(world.clients.stepfunctions, ("stepfunctions.throttled",), rate=0.3, seed=7) as sfn_faults, \
                failing(world.clients.dynamodb, ("dynamodb.throttled",), rate=0.3, seed=8) as db_faults:
            for event in [terminal_event(n) for n in names] * 2:  # EventBridge delivers at least once
                for _ in range(LAMBDA_ASYNC_ATTEMPTS):
                    invocations += 1
                    try:
                        job_events(event, FakeLambdaContext())
                        break
                    except Exception:  # noqa: BLE001 - a failed invocation: Lambda invokes it again
                        failed_invocations += 1
            sweeps = 0
            while any(True for _ in _waiting(world)) and sweeps < 5:  # the scheduled sweep answers what is left
                sweeps += 1
                try:
                    job_events(load_event("scheduled_event.json"), FakeLambdaContext())
                except Exception:  # noqa: BLE001 - the next tick sweeps again
                    failed_invocations += 1
        assert sorted(sent.accepted) == sorted(tokens.values()), (len(sent.accepted), JOBS)
        assert not list(_waiting(world))
        assert sfn_faults.failed and db_faults.failed
        figures.update({"callbacks accepted": len(sent.accepted), "jobs": JOBS, "handler invocations": invocations,
                        "invocations failed": failed_invocations, "sweeps": sweeps,
                        "Step Functions requests throttled": sfn_faults.failed, "DynamoDB requests throttled": db_faults.failed})


def _waiting(world: Any) -> Iterator[Any]:
    from gr00t_aws.task_tokens import TaskTokenStore
    from tests.aws_env import TOKEN_TABLE

    return TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE).waiting()
