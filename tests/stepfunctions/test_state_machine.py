"""The real ASL on moto's Step Functions engine, with the real Lambda handlers running in this process.

Each test walks one story end to end: execution input -> launch Lambda (preflight, CreateTrainingJob, token in
DynamoDB) -> the job ends (moto job status set as SageMaker would) -> the EventBridge event reaches the
job-events handler -> the callback ends the execution. Timeouts stop the job through the stop Lambda.
"""

import copy
import json
from pathlib import Path
from unittest import mock

import pytest

from gr00t_aws.sagemaker_jobs import event_from_description
from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from lambda_handler import job_events, launch, stop
from tests import aws_env
from tests.aws_env import (
    ACCOUNT,
    REGION,
    TOKEN_TABLE,
    aws_world,
    dataset_meta,
    execution_result,
    history,
    load_event,
    routed_lambdas,
    scheduled_tokens,
    wait_for,
)

ASL = (Path(__file__).resolve().parents[2] / "stepfunctions" / "gr00t_finetune.asl.json").read_text()


@pytest.fixture
def machine():
    with aws_world() as world:
        world.put_asset(dataset_meta(), config={"maxSteps": 200, "saveSteps": 100})
        with routed_lambdas(world, {"launch": launch.handler, "stop": stop.handler}) as calls:
            arns = world.extra["function_arns"]
            definition = ASL.replace("${LaunchFunctionArn}", arns["launch"]).replace("${StopFunctionArn}", arns["stop"])
            sfn = world.clients.stepfunctions
            world.extra["sm_arn"] = sfn.create_state_machine(name="gr00t-finetune", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]
            world.extra["calls"] = calls
            world.extra["store"] = TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE)
            yield world


def _start(world, name="run-1", **input_changes):
    execution_input = copy.deepcopy(load_event("state_machine_input.json"))
    execution_input.update(input_changes)
    sfn = world.clients.stepfunctions
    return sfn.start_execution(stateMachineArn=world.extra["sm_arn"], name=name, input=json.dumps(execution_input))["executionArn"]


def _launched_job(world):
    """Wait until the launch Lambda has started a job and stored its token; returns the job name."""
    jobs = wait_for(lambda: list(aws_env.all_jobs()))
    (name,) = jobs
    wait_for(lambda: world.extra["store"].get(name))
    return name


def _emit(world, name, status, **kwargs):
    """SageMaker finishes the job and EventBridge delivers the state change to the job-events handler."""
    description = aws_env.finish_job(name, status, **kwargs)
    event = event_from_description(description, region=REGION, account=ACCOUNT)
    return job_events.handler(event, aws_env.FakeLambdaContext())


def _types(arn, sfn):
    return [e["type"] for e in history(sfn, arn)]


def test_success_returns_the_job_summary(machine):
    sfn = machine.clients.stepfunctions
    arn = _start(machine)
    name = _launched_job(machine)
    result = _emit(machine, name, "Completed", metrics={"train:loss": 0.031}, billable=4242)
    assert result["action"] == "callback_sent"
    done = execution_result(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    summary = json.loads(done["output"])
    assert summary["trainingJobName"] == name and summary["trainingJobStatus"] == "Completed"
    assert summary["finalMetrics"] == {"train:loss": 0.031} and summary["billableSeconds"] == 4242
    assert summary["outputFolderUri"].startswith(load_event("state_machine_input.json")["body"]["outputS3AssetFilesPath"] + "gr00tOutput_N1.5-3B_trainingjob_")
    assert summary["instanceType"] == "ml.g6e.4xlarge"
    assert len(machine.extra["calls"]["launch"]) == 1 and machine.extra["calls"]["stop"] == []
    # the asset's gr00t_config.json reached the job
    assert aws_env.job(name).hyper_parameters["maxSteps"] == "200"


def test_training_failure_fails_the_execution_with_the_reason(machine):
    sfn = machine.clients.stepfunctions
    arn = _start(machine)
    name = _launched_job(machine)
    _emit(machine, name, "Failed", reason="AlgorithmError: CUDA out of memory. Tried to allocate 2.00 GiB")
    done = execution_result(sfn, arn)
    assert done["status"] == "FAILED" and done["error"] == "Gr00t.TrainingFailed"
    assert "CUDA out of memory" in done["cause"] and name in done["cause"]
    (stop_call,) = machine.extra["calls"]["stop"]  # the clean-up step ran and found nothing to stop
    assert aws_env.STOP_CALLS == []
    assert "StopJob" in [e.get("stateEnteredEventDetails", {}).get("name") for e in history(sfn, arn)]


def test_preflight_failure_launches_nothing_and_is_not_retried(machine):
    sfn = machine.clients.stepfunctions
    machine.clients.s3.delete_object(Bucket=machine.bucket, Key=f"{machine.root}dataset/meta/info.json")
    machine.clients.s3.put_object(Bucket=machine.bucket, Key=f"{machine.root}gr00t_config.json", Body=b'{"instanceType": "ml.p5.48xlarge"}')
    arn = _start(machine)
    done = execution_result(sfn, arn)
    assert done["status"] == "FAILED" and done["error"] == "Gr00t.InvalidConfig"
    assert "'ml.p5.48xlarge' is not allowed by this deployment" in done["cause"]
    assert aws_env.all_jobs() == {}
    assert len(machine.extra["calls"]["launch"]) == 1  # user errors are not retried


def test_dataset_problems_are_reported(machine):
    sfn = machine.clients.stepfunctions
    machine.clients.s3.delete_object(Bucket=machine.bucket, Key=f"{machine.root}gr00t_config.json")
    for key in [o["Key"] for o in machine.clients.s3.list_objects_v2(Bucket=machine.bucket)["Contents"]]:
        machine.clients.s3.delete_object(Bucket=machine.bucket, Key=key)
    arn = _start(machine)
    done = execution_result(sfn, arn)
    assert (done["status"], done["error"]) == ("FAILED", "Gr00t.DatasetNotReady")
    assert "The asset has no dataset" in done["cause"] and aws_env.all_jobs() == {}


def test_lambda_retry_adopts_the_job_instead_of_starting_another(machine):
    sfn = machine.clients.stepfunctions
    real_save = TaskTokenStore.save
    failures = []

    def flaky_save(self, *args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("DynamoDB throttled the first attempt")
        return real_save(self, *args, **kwargs)

    with mock.patch.object(TaskTokenStore, "save", flaky_save):
        arn = _start(machine)
        wait_for(lambda: len(machine.extra["calls"]["launch"]) == 2, timeout=15)
        name = _launched_job(machine)
    assert len(aws_env.all_jobs()) == 1
    tokens = scheduled_tokens(sfn, arn)
    assert len(tokens) == 2 and machine.extra["store"].get(name).task_token == tokens[1]
    _emit(machine, name, "Completed")
    assert execution_result(sfn, arn)["status"] == "SUCCEEDED"


def test_duplicate_events_send_exactly_one_callback(machine):
    sfn = machine.clients.stepfunctions
    arn = _start(machine)
    name = _launched_job(machine)
    description = aws_env.finish_job(name, "Completed")
    event = event_from_description(description, region=REGION, account=ACCOUNT)
    actions = [job_events.handler(copy.deepcopy(event), aws_env.FakeLambdaContext())["action"] for _ in range(3)]
    assert actions == ["callback_sent", "duplicate", "duplicate"]
    assert execution_result(sfn, arn)["status"] == "SUCCEEDED"
    assert _types(arn, sfn).count("TaskSucceeded") == 1


def test_task_timeout_stops_the_job(machine):
    sfn = machine.clients.stepfunctions
    arn = _start(machine, timeoutSeconds=3)
    name = _launched_job(machine)
    done = execution_result(sfn, arn, timeout=20)
    assert (done["status"], done["error"]) == ("FAILED", "Gr00t.TimedOut")
    assert aws_env.STOP_CALLS == [name] and aws_env.job(name).training_job_status == "Stopped"
    assert machine.extra["store"].get(name).state is TokenState.STOPPED
    # SageMaker then reports the stop: nobody is left to answer, and that is fine
    assert _emit(machine, name, "Stopped")["action"] == "duplicate"


def test_heartbeats_from_state_changes_keep_the_task_alive(machine):
    sfn = machine.clients.stepfunctions
    arn = _start(machine, heartbeatSeconds=30)
    name = _launched_job(machine)
    aws_env.heartbeat_ready(sfn, arn, machine.extra["store"].get(name).task_token)
    in_progress = load_event("sagemaker_job_in_progress.json")
    in_progress["detail"]["TrainingJobName"] = name
    assert job_events.handler(in_progress, aws_env.FakeLambdaContext())["action"] == "heartbeat"
    assert "LaunchWithHeartbeat" in [e.get("stateEnteredEventDetails", {}).get("name") for e in history(sfn, arn)]
    _emit(machine, name, "Completed")
    assert execution_result(sfn, arn)["status"] == "SUCCEEDED"


def test_input_without_a_body_fails_clearly(machine):
    sfn = machine.clients.stepfunctions
    arn = sfn.start_execution(stateMachineArn=machine.extra["sm_arn"], name="bad", input=json.dumps({"asset": "x"}))["executionArn"]
    done = execution_result(sfn, arn)
    assert (done["status"], done["error"]) == ("FAILED", "Gr00t.InvalidEvent")


CAPACITY = "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."


def _with_fallbacks(machine):
    config = {"maxSteps": 200, "instanceTypeFallbacks": ["ml.g6e.8xlarge"]}
    machine.clients.s3.put_object(Bucket=machine.bucket, Key=f"{machine.root}gr00t_config.json", Body=json.dumps(config).encode())


def test_no_capacity_moves_the_run_to_the_fallback_type(machine):
    from launcher.orchestration.request import relaunch_job_name

    _with_fallbacks(machine)
    sfn = machine.clients.stepfunctions
    arn = _start(machine)
    name = _launched_job(machine)
    assert _emit(machine, name, "Failed", reason=CAPACITY)["action"] == "relaunched"
    replacement = relaunch_job_name(name)
    assert _emit(machine, replacement, "Completed")["action"] == "callback_sent"
    summary = json.loads(execution_result(sfn, arn)["output"])
    assert summary["trainingJobName"] == replacement and summary["instanceType"] == "ml.g6e.8xlarge"
    assert len(machine.extra["calls"]["launch"]) == 1


def test_timeout_after_a_relaunch_stops_the_replacement(machine):
    from launcher.orchestration.request import relaunch_job_name

    _with_fallbacks(machine)
    sfn = machine.clients.stepfunctions
    arn = _start(machine, timeoutSeconds=4)
    name = _launched_job(machine)
    _emit(machine, name, "Failed", reason=CAPACITY)
    done = execution_result(sfn, arn, timeout=30)
    assert done["error"] == "Gr00t.TimedOut"
    assert aws_env.STOP_CALLS == [relaunch_job_name(name)]
