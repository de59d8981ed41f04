"""A small AWS world on moto for the orchestration tests (launcher, Lambda handlers, state machine).

Shared by the launcher, Lambda handler, state machine, gr00t_aws and hostile-input tests. It holds an asset in
S3 (gr00t_config.json + LeRobot meta files), the task-token table and the deployment settings. moto answers as
AWS does through local_mode.moto_fidelity (installed for every test by tests/conftest.py); here a stop that
SageMaker accepted also finishes at once (on AWS the job is "Stopping" until its container exits), so a test
can follow what comes after.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.sagemaker.models import FakeTrainingJob, sagemaker_backends

from gr00t_aws.clients import AwsClients
from gr00t_core.data_configs import DATA_CONFIGS
from gr00t_core.environ import set_environ
from launcher.orchestration.settings import DeploymentSettings
from local_mode import moto_fidelity
from local_mode.emulator import LambdaContext

REGION = "us-east-1"
ACCOUNT = "123456789012"
ASSET_BUCKET = "vams-asset-bucket"
ASSET_ROOT = "xd130a6d6-1e26-4e79-9c7b-5b5c2a1f0e11/"
EVENTS_DIR = Path(__file__).resolve().parent / "events"
TOKEN_TABLE = "gr00t-task-tokens"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/gr00t-sagemaker-execution"
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/gr00t-finetune:latest"


def settings(**overrides: Any) -> DeploymentSettings:
    values: dict[str, Any] = {
        "image_uri": IMAGE_URI,
        "role_arn": ROLE_ARN,
        "token_table": TOKEN_TABLE,
        "model_cache_bucket": "gr00t-model-cache",
        "hf_token_secret_id": "gr00t/hf-token",
    }
    values.update(overrides)
    return DeploymentSettings(**values)


def settings_env(s: DeploymentSettings) -> dict[str, str]:
    """The Lambda environment variables that describe ``s`` (what the SAM template sets)."""
    return s.environment()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


# ---------------------------------------------------------------- dataset meta files


def dataset_meta(layout: str = "so100_dualcam", *, episodes: int = 3, frames: int = 40, version: str = "v2.1") -> dict[str, bytes]:
    """meta/ files of a small LeRobot dataset recorded with ``layout`` (relative path -> bytes)."""
    template = DATA_CONFIGS[layout].modality_json()
    assert template is not None
    state_dim = max(r["end"] for r in template["state"].values())
    action_dim = max(r["end"] for r in template["action"].values())
    features: dict[str, Any] = {
        "observation.state": {"dtype": "float32", "shape": [state_dim], "names": [f"s{i}" for i in range(state_dim)]},
        "action": {"dtype": "float32", "shape": [action_dim], "names": [f"a{i}" for i in range(action_dim)]},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    for camera in template["video"].values():
        features[camera["original_key"]] = {
            "dtype": "video",
            "shape": [64, 64, 3],
            "names": ["height", "width", "channels"],
            "info": {"video.fps": 20.0, "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.height": 64, "video.width": 64, "video.channels": 3, "has_audio": False},
        }
    info = {
        "codebase_version": version,
        "robot_type": "so100",
        "total_episodes": episodes,
        "total_frames": episodes * frames,
        "total_tasks": 1,
        "total_videos": episodes * len(template["video"]),
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": 20,
        "splits": {"train": f"0:{episodes}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": features,
    }
    lines = lambda rows: ("\n".join(json.dumps(r) for r in rows) + "\n").encode()  # noqa: E731
    files = {
        "meta/info.json": json.dumps(info).encode(),
        "meta/modality.json": json.dumps(template).encode(),
        "meta/tasks.jsonl": lines([{"task_index": 0, "task": "Pick up the cube."}]),
        "meta/episodes.jsonl": lines([{"episode_index": i, "tasks": ["Pick up the cube."], "length": frames} for i in range(episodes)]),
    }
    for i in range(episodes):
        files[f"data/chunk-000/episode_{i:06d}.parquet"] = b"PAR1 placeholder: the Lambda never reads parquet"
    return files


# ---------------------------------------------------------------- moto patches


STOP_CALLS: list[str] = []


def _stop_finishes_at_once(fake: FakeTrainingJob) -> None:
    fake.training_job_status = fake.secondary_status = "Stopped"
    STOP_CALLS.append(fake.training_job_name)


def job(name: str) -> FakeTrainingJob:
    return sagemaker_backends[ACCOUNT][REGION].training_jobs[name]


def all_jobs() -> dict[str, FakeTrainingJob]:
    return sagemaker_backends[ACCOUNT][REGION].training_jobs


def finish_job(name: str, status: str = "Completed", *, reason: str = "", billable: int = 1234, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """Move a moto job to a terminal state (as SageMaker would) and return its DescribeTrainingJob response."""
    fake = job(name)
    fake.training_job_status = status
    fake.secondary_status = status
    if reason:
        fake.failure_reason = reason
    fake.billable_time_in_seconds = billable
    if metrics is not None:
        fake.final_metric_data_list = [{"MetricName": k, "Value": v, "Timestamp": fake.creation_time} for k, v in metrics.items()]
    description = boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=name)
    description.pop("ResponseMetadata", None)
    return description


# ---------------------------------------------------------------- the world


@dataclass
class World:
    clients: AwsClients
    settings: DeploymentSettings
    bucket: str = ASSET_BUCKET
    root: str = ASSET_ROOT
    extra: dict[str, Any] = field(default_factory=dict)

    def put_asset(self, files: dict[str, bytes], *, config: dict[str, Any] | str | None = None, dataset_path: str = "dataset") -> None:
        s3 = self.clients.s3
        for rel, data in files.items():
            s3.put_object(Bucket=self.bucket, Key=f"{self.root}{dataset_path}/{rel}", Body=data)
        if config is not None:
            body = config if isinstance(config, str) else json.dumps(config)
            s3.put_object(Bucket=self.bucket, Key=f"{self.root}gr00t_config.json", Body=body.encode())

    def event(self, name: str = "vams_event.json", **body_overrides: Any) -> dict[str, Any]:
        event = copy.deepcopy(load_event(name))
        body = event["body"]
        if isinstance(body, dict):
            body.update(body_overrides)
        return event


def create_resources(clients: AwsClients) -> None:
    """The asset bucket and the task-token table (partition key jobName, TTL expiresAt) as the stack creates them."""
    clients.s3.create_bucket(Bucket=ASSET_BUCKET)
    clients.dynamodb.create_table(
        TableName=TOKEN_TABLE,
        KeySchema=[{"AttributeName": "jobName", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobName", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients.dynamodb.update_time_to_live(TableName=TOKEN_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})


@contextmanager
def aws_world(**settings_overrides: Any) -> Iterator[World]:
    """moto with the asset bucket, the token table and the SageMaker patches; yields the world."""
    env = {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "POWERTOOLS_METRICS_NAMESPACE": "Gr00tSageMaker"}
    restore_environ = set_environ(env)
    STOP_CALLS.clear()
    # moto's ASL engine logs every expected Task failure with the whole state tree: keep test output readable
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    uninstall = moto_fidelity.install()  # already in force under pytest; not in a subprocess that uses the world
    remove_listener = moto_fidelity.add_stop_listener(_stop_finishes_at_once)
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            clients = AwsClients(**{s: boto3.client(s, region_name=REGION) for s in ("s3", "sagemaker", "stepfunctions", "dynamodb")})
            create_resources(clients)
            yield World(clients=clients, settings=settings(**settings_overrides))
    finally:
        remove_listener()
        uninstall()
        restore_environ()


# The one Lambda context stand-in (local mode's), with a launch function's names.
FakeLambdaContext = functools.partial(
    LambdaContext,
    function_name="vams-gr00t-finetune-launch",
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vams-gr00t-finetune-launch",
    aws_request_id="5f1c4f35-6a45-4d0b-9d58-5a5c3e9a4f21",
    log_group_name="/aws/lambda/vams-gr00t-finetune-launch",
    log_stream_name="2025/01/01/[$LATEST]0123456789abcdef",
)


# ---------------------------------------------------------------- Step Functions helpers

def _waiting_asl(heartbeat: bool) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "waiter", "Payload": {"TaskToken.$": "$$.Task.Token"}},
        "TimeoutSecondsPath": "$.timeout",
        "End": True,
    }
    if heartbeat:
        # Only when asked for: moto notices a callback that came before its heartbeat endpoint existed only at
        # the next heartbeat deadline, which would stall tests that answer at once.
        task["HeartbeatSecondsPath"] = "$.heartbeat"
    return {"StartAt": "Wait", "States": {"Wait": task}}


def create_function(clients: AwsClients, name: str) -> str:
    """A Lambda function moto knows about (its code never runs: tests patch LambdaSimpleBackend.invoke)."""
    iam = boto3.client("iam", region_name=REGION)
    try:
        role = iam.get_role(RoleName="lambda-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="x.handler", Code={"ZipFile": b"unused"})["FunctionArn"]


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def wait_for(predicate: Any, *, timeout: float = 30.0, interval: float = 0.05) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def scheduled_tokens(sfn: Any, execution_arn: str) -> list[str]:
    """Task tokens of every waitForTaskToken task scheduled so far (each retry gets a new one)."""
    tokens = []
    for event in history(sfn, execution_arn):
        if event["type"] == "TaskScheduled":
            payload = json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
            token = payload.get("TaskToken") or (payload.get("body") or {}).get("TaskToken")
            if token:
                tokens.append(token)
    return tokens


def waiting_task(world: World, *, timeout: int = 600, heartbeat: int | None = None) -> tuple[str, str]:
    """Start an execution that waits on a callback; returns (task token, execution ARN)."""
    sfn = world.clients.stepfunctions
    kind = "waiter-hb" if heartbeat else "waiter"
    if kind not in world.extra:
        if "waiter-fn" not in world.extra:
            world.extra["waiter-fn"] = create_function(world.clients, "waiter")
        role = f"arn:aws:iam::{ACCOUNT}:role/sfn"
        definition = json.dumps(_waiting_asl(bool(heartbeat)))
        world.extra[kind] = sfn.create_state_machine(name=kind, definition=definition, roleArn=role)["stateMachineArn"]
    world.extra["n"] = world.extra.get("n", 0) + 1
    execution_input = json.dumps({"timeout": timeout, "heartbeat": heartbeat})
    arn = sfn.start_execution(stateMachineArn=world.extra[kind], name=f"wait-{world.extra['n']}", input=execution_input)["executionArn"]
    token = wait_for(lambda: scheduled_tokens(sfn, arn))[0]
    # The Lambda that would receive this token has been called: from here on the token is "out there".
    wait_for(lambda: "TaskSubmitted" in [e["type"] for e in history(sfn, arn)])
    if heartbeat:
        heartbeat_ready(sfn, arn, token)
    return token, arn


def heartbeat_ready(sfn: Any, execution_arn: str, token: str) -> None:
    """moto registers a task's heartbeat endpoint just after its Lambda returns; wait until it answers."""
    from gr00t_aws.callbacks import CallbackOutcome, send_heartbeat

    wait_for(lambda: "TaskSubmitted" in [e["type"] for e in history(sfn, execution_arn)])
    wait_for(lambda: send_heartbeat(sfn, token) is CallbackOutcome.SENT, timeout=10)


def execution_result(sfn: Any, execution_arn: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """describe_execution once the execution has ended."""
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d, timeout=timeout)


# ---------------------------------------------------------------- the real handlers behind moto's Lambda


@contextmanager
def lambda_runtime(world: World) -> Iterator[None]:
    """The handlers read their settings from the environment and use the world's clients, as deployed."""
    from lambda_handler import _runtime
    from launcher.orchestration.settings import settings_from_environment

    restore_environ = set_environ(settings_env(world.settings))
    settings_from_environment.cache_clear()
    _runtime.use_clients(world.clients)
    try:
        yield
    finally:
        _runtime.use_clients(None)
        settings_from_environment.cache_clear()
        restore_environ()


@contextmanager
def routed_lambdas(world: World, handlers: dict[str, Any]) -> Iterator[dict[str, list[Any]]]:
    """Make moto's Docker-less Lambda run ``handlers[function_name](event, context)`` in this process.

    Returns a log of the events each function received. A handler that raises answers like Lambda does for an
    unhandled error (X-Amz-Function-Error: Unhandled, payload errorType/errorMessage), so Retry/Catch apply.
    """
    from unittest import mock

    from moto.awslambda_simple.models import LambdaSimpleBackend

    calls: dict[str, list[Any]] = {name: [] for name in handlers}
    arns = {name: create_function(world.clients, name) for name in handlers}

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        event = json.loads(body) if body else {}
        calls[name].append(event)
        try:
            result = handlers[name](event, FakeLambdaContext())
        except Exception as exc:  # noqa: BLE001 - reported the way Lambda reports it
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    with lambda_runtime(world), mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        world.extra["function_arns"] = arns
        yield calls
