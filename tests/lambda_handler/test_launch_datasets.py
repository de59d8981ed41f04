"""The launch Lambda with several datasets and with a codec the chosen video backend cannot decode.

Every dataset datasetPath names is checked before anything starts; each problem names its dataset; a good launch
carries one channel per dataset (the first keeps the stable name ``dataset``).
"""

import copy
import json

import pytest

from lambda_handler.launch import handler
from tests.aws_env import (
    FakeLambdaContext,
    aws_world,
    dataset_meta,
    execution_result,
    lambda_runtime,
    load_event,
    waiting_task,
)

CTX = FakeLambdaContext()


@pytest.fixture
def world():
    with aws_world() as w, lambda_runtime(w):
        yield w


def _launch(world, config):
    token, arn = waiting_task(world)
    event = copy.deepcopy(load_event("vams_event.json"))
    event["body"]["TaskToken"] = token
    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{world.root}gr00t_config.json", Body=json.dumps(config).encode())
    return handler(event, CTX), arn


def _av1(files):
    info = json.loads(files["meta/info.json"])
    for feature in info["features"].values():
        if feature.get("dtype") == "video":
            feature["info"]["video.codec"] = "av1"
    return {**files, "meta/info.json": json.dumps(info).encode()}


def test_two_datasets_launch_one_job_with_a_channel_each(world):
    world.put_asset(dataset_meta(), dataset_path="so100_a")
    world.put_asset(dataset_meta(episodes=2), dataset_path="so100_b")
    outcome, _ = _launch(world, {"datasetPath": ["so100_a", "so100_b"], "maxSteps": 10})
    assert outcome["status"] == "LAUNCHED", outcome
    job = world.clients.sagemaker.describe_training_job(TrainingJobName=outcome["trainingJobName"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["dataset"] == f"s3://{world.bucket}/{world.root}so100_a/"
    assert channels["dataset_2"] == f"s3://{world.bucket}/{world.root}so100_b/"
    assert [d["path"] for d in outcome["dataset"]["datasets"]] == ["so100_a", "so100_b"]


def test_a_broken_second_dataset_stops_the_launch_and_is_named(world):
    world.put_asset(dataset_meta(), dataset_path="so100_a")
    broken = dict(dataset_meta())
    del broken["meta/info.json"]
    world.put_asset(broken, dataset_path="so100_b")
    outcome, arn = _launch(world, {"datasetPath": "so100_a,so100_b", "maxSteps": 10})
    assert outcome["status"] == "REJECTED" and outcome["error"] == "Gr00t.DatasetNotReady"
    assert "so100_b/" in outcome["cause"] and "meta/info.json" in outcome["cause"] and "so100_a/:" not in outcome["cause"]
    assert execution_result(world.clients.stepfunctions, arn)["status"] == "FAILED"
    assert world.clients.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_av1_cameras_with_decord_are_refused_before_any_gpu(world):
    world.put_asset(_av1(dataset_meta()))
    outcome, _ = _launch(world, {"videoBackend": "decord", "maxSteps": 10})
    assert outcome["status"] == "REJECTED" and outcome["error"] == "Gr00t.DatasetNotReady"
    assert "decord" in outcome["cause"] and "torchvision_av" in outcome["cause"]
    assert world.clients.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
    # the same dataset with a backend that decodes AV1 launches
    outcome, _ = _launch(world, {"videoBackend": "torchvision_av", "maxSteps": 10})
    assert outcome["status"] == "LAUNCHED", outcome
