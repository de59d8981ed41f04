"""Job state changes -> callbacks: exactly once, unknown jobs, gone tasks, heartbeats, orphaned jobs stopped."""

import copy
import json

import pytest
from botocore.stub import Stubber

from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from launcher.orchestration.completion import Action, OrphanPolicy, failure_cause, handle_job_event, on_job_state_change
from tests import aws_env
from tests.aws_env import TOKEN_TABLE, aws_world, execution_result, load_event, waiting_task
from tests.requests_util import offline_client, request_for

COMPLETED = load_event("sagemaker_job_completed.json")
NAME = COMPLETED["detail"]["TrainingJobName"]


@pytest.fixture
def world():
    with aws_world() as w:
        w.extra["store"] = TaskTokenStore(w.clients.dynamodb, TOKEN_TABLE)
        yield w


def _handle(world, event):
    c = world.clients
    return handle_job_event(event, store=world.extra["store"], sfn=c.stepfunctions, sm=c.sagemaker)


def _event(name, **detail):
    event = copy.deepcopy(load_event(name))
    event["detail"].update(detail)
    return event


def test_completed_job_sends_the_summary_once(world):
    token, arn = waiting_task(world)
    world.extra["store"].save(NAME, token, ttl_seconds=600)
    first = _handle(world, COMPLETED)
    second = _handle(world, COMPLETED)
    assert (first.action, second.action) == (Action.CALLBACK_SENT, Action.DUPLICATE)
    result = execution_result(world.clients.stepfunctions, arn)
    output = json.loads(result["output"])
    assert result["status"] == "SUCCEEDED"
    assert output["trainingJobName"] == NAME and output["status"] == "SUCCEEDED"
    assert output["finalMetrics"]["train:loss"] == 0.0412
    assert output["outputFolderUri"].endswith("/files/" + COMPLETED["detail"]["HyperParameters"]["outputFolderName"] + "/")
    assert world.extra["store"].get(NAME).state is TokenState.DONE


@pytest.mark.parametrize(
    "sample,error,cause",
    [
        ("sagemaker_job_failed.json", "Gr00t.TrainingFailed", "AlgorithmError: DatasetError"),
        ("sagemaker_job_stopped.json", "Gr00t.TrainingStopped", "stopped before it finished"),
    ],
)
def test_failed_and_stopped_jobs_fail_the_task_with_the_reason(world, sample, error, cause):
    token, arn = waiting_task(world)
    world.extra["store"].save(NAME, token, ttl_seconds=600)
    assert _handle(world, load_event(sample)).action is Action.CALLBACK_SENT
    result = execution_result(world.clients.stepfunctions, arn)
    assert result["status"] == "FAILED" and result["error"] == error
    assert cause in result["cause"] and "/aws/sagemaker/TrainingJobs" in result["cause"]


def test_unknown_jobs_are_ignored(world):
    assert _handle(world, COMPLETED).action is Action.UNKNOWN_JOB


def test_a_task_that_already_timed_out_is_not_an_error(world):
    token, arn = waiting_task(world, timeout=1)
    execution_result(world.clients.stepfunctions, arn)
    world.extra["store"].save(NAME, token, ttl_seconds=600)
    assert _handle(world, COMPLETED).action is Action.TASK_GONE


def test_missing_summary_members_are_described(world):
    sm = world.clients.sagemaker
    request = request_for()
    sm.create_training_job(**request)
    description = aws_env.finish_job(request["TrainingJobName"], metrics={"train:loss": 0.5}, billable=77)
    token, arn = waiting_task(world)
    world.extra["store"].save(request["TrainingJobName"], token, ttl_seconds=600)
    slim = {"TrainingJobName": request["TrainingJobName"], "TrainingJobStatus": "Completed"}
    result = on_job_state_change(slim, store=world.extra["store"], sfn=world.clients.stepfunctions, sm=sm)
    assert result.summary["billableSeconds"] == 77 and result.summary["finalMetrics"] == {"train:loss": 0.5}
    assert result.summary["instanceType"] == description["ResourceConfig"]["InstanceType"]


def test_a_failed_callback_releases_the_claim_for_the_retry(world):
    world.extra["store"].save(NAME, "tok", ttl_seconds=600)
    sfn = offline_client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", service_error_code="ThrottlingException")
        with pytest.raises(Exception, match="ThrottlingException"):
            on_job_state_change(COMPLETED["detail"], store=world.extra["store"], sfn=sfn, sm=world.clients.sagemaker)
    assert world.extra["store"].get(NAME).state is TokenState.WAITING


def test_heartbeat_for_a_running_job(world):
    token, arn = waiting_task(world, heartbeat=60)
    world.extra["store"].save(NAME, token, ttl_seconds=600)
    assert _handle(world, load_event("sagemaker_job_in_progress.json")).action is Action.HEARTBEAT


# What SendTaskHeartbeat answers once nobody waits (Step Functions API reference, SendTaskHeartbeat, Errors, all
# HTTP 400): TaskTimedOut "the task token has either expired or the task associated with the token has already been
# closed" (seen as "Task Timed Out: 'Provided task does not exist anymore'" after a timeout or a stopped execution:
# andybalham/blog-task-tokens-part-2, aws-samples' Java heartbeat in aws.proserve.bcs.dr.dynamo.ProcessorFactory),
# TaskDoesNotExist, and InvalidToken "The provided token is not valid".
GONE_CODES = [("TaskTimedOut", "timed_out"), ("TaskDoesNotExist", "gone"), ("InvalidToken", "invalid")]


def _running_job_with_token(world, token):
    """A job SageMaker runs and the token of the workflow task waiting for it."""
    sm = world.clients.sagemaker
    request = request_for()
    sm.create_training_job(**request)
    name = request["TrainingJobName"]
    store = world.extra["store"]
    store.save(name, token, ttl_seconds=600)
    return sm, name, store


@pytest.mark.parametrize("code,reason", GONE_CODES)
def test_a_running_job_nobody_waits_for_is_stopped_after_the_grace(world, code, reason):
    sm, name, store = _running_job_with_token(world, "tok")
    now = [1_000_000.0]
    policy = OrphanPolicy(clock=lambda: now[0], grace_seconds=180)
    running = {"TrainingJobName": name, "TrainingJobStatus": "InProgress"}
    sfn = offline_client("stepfunctions")
    with Stubber(sfn) as stub:
        for _ in range(3):
            stub.add_client_error("send_task_heartbeat", service_error_code=code)
        first = on_job_state_change(running, store=store, sfn=sfn, sm=sm, policy=policy)
        now[0] += 179
        second = on_job_state_change(running, store=store, sfn=sfn, sm=sm, policy=policy)
        assert aws_env.STOP_CALLS == [] and store.get(name).state is TokenState.WAITING
        now[0] += 1
        third = on_job_state_change(running, store=store, sfn=sfn, sm=sm, policy=policy)
    assert [r.action for r in (first, second, third)] == [Action.ORPHAN_SUSPECTED, Action.ORPHAN_SUSPECTED, Action.STOPPED_ORPHAN]
    assert aws_env.STOP_CALLS == [name]
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    record = store.get(name)
    assert (record.state, record.stop_reason, record.gone_since) == (TokenState.STOPPED, reason, 1_000_000)
    # the Stopped event that follows finds nobody to answer
    assert on_job_state_change({"TrainingJobName": name, "TrainingJobStatus": "Stopped"}, store=store, sfn=sfn, sm=sm).action is Action.DUPLICATE


def test_a_new_token_saved_within_the_grace_keeps_the_job(world):
    # A retried workflow step adopts the job and saves its new token: the old task's sighting no longer counts.
    sm, name, store = _running_job_with_token(world, "old")
    now = [1_000_000.0]
    policy = OrphanPolicy(clock=lambda: now[0], grace_seconds=180)
    sfn = offline_client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_heartbeat", service_error_code="TaskTimedOut")
        stub.add_response("send_task_heartbeat", {}, {"taskToken": "new"})
        assert on_job_state_change({"TrainingJobName": name, "TrainingJobStatus": "InProgress"}, store=store, sfn=sfn, sm=sm, policy=policy).action is Action.ORPHAN_SUSPECTED
        store.save(name, "new", ttl_seconds=600)
        now[0] += 3600
        assert on_job_state_change({"TrainingJobName": name, "TrainingJobStatus": "InProgress"}, store=store, sfn=sfn, sm=sm, policy=policy).action is Action.HEARTBEAT
    assert aws_env.STOP_CALLS == [] and store.get(name).gone_since is None


@pytest.mark.parametrize(
    "event,match",
    [
        ({"detail": {}}, "Not a SageMaker Training Job State Change event"),
        (_event("sagemaker_job_completed.json", TrainingJobName=5), "detail.TrainingJobName"),
    ],
)
def test_malformed_events_are_ignored_with_the_reason(world, event, match):
    # Raising would make EventBridge retry an event that can only fail again.
    result = _handle(world, event)
    assert result.action is Action.IGNORED and match in result.summary["reason"]


def test_events_from_other_sources_are_ignored(world):
    world.extra["store"].save(NAME, "tok", ttl_seconds=600)
    assert _handle(world, {**COMPLETED, "source": "my.app"}).action is Action.IGNORED


def test_failure_cause_names_reason_instance_and_logs():
    cause = failure_cause(load_event("sagemaker_job_failed.json")["detail"])
    assert cause.startswith(f"SageMaker training job {NAME} failed: AlgorithmError")
    assert "ml.g6e.4xlarge" in cause and f"streams {NAME}/algo-*" in cause


CAPACITY = "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."


def _launch_with_fallbacks(world, fallbacks):
    sm = world.clients.sagemaker
    request = request_for({"instanceTypeFallbacks": fallbacks})
    sm.create_training_job(**request)
    token, arn = waiting_task(world)
    world.extra["store"].save(request["TrainingJobName"], token, ttl_seconds=600, attributes={"fallbacks": ",".join(fallbacks), "instanceType": "ml.g6e.4xlarge"})
    return request, arn


def _on(world, description):
    c = world.clients
    return on_job_state_change(description, store=world.extra["store"], sfn=c.stepfunctions, sm=c.sagemaker)


def test_no_capacity_relaunches_on_the_next_fallback_type(world):
    from launcher.orchestration.request import relaunch_job_name

    request, arn = _launch_with_fallbacks(world, ["ml.g6e.8xlarge", "ml.g6e.12xlarge"])
    name = request["TrainingJobName"]
    result = _on(world, aws_env.finish_job(name, "Failed", reason=CAPACITY))
    new_name = relaunch_job_name(name)
    assert result.action is Action.RELAUNCHED and result.summary == {"relaunchedAs": new_name, "instanceType": "ml.g6e.8xlarge"}
    replacement = world.clients.sagemaker.describe_training_job(TrainingJobName=new_name)
    assert replacement["ResourceConfig"]["InstanceType"] == "ml.g6e.8xlarge"
    assert replacement["HyperParameters"] == {**request["HyperParameters"], "instanceType": "ml.g6e.8xlarge"}
    tags = {t["Key"]: t["Value"] for t in world.clients.sagemaker.list_tags(ResourceArn=replacement["TrainingJobArn"])["Tags"]}
    assert tags["gr00t:requestedInstanceType"] == "ml.g6e.4xlarge"
    store = world.extra["store"]
    assert store.get(name).state is TokenState.DONE
    moved = store.get(new_name)
    assert moved.state is TokenState.WAITING and moved.attributes["fallbacks"] == "ml.g6e.12xlarge" and moved.attributes["relaunchedFrom"] == name
    assert world.clients.stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"  # nobody was told yet
    assert _on(world, aws_env.finish_job(new_name, "Completed")).action is Action.CALLBACK_SENT
    output = json.loads(execution_result(world.clients.stepfunctions, arn)["output"])
    assert output["trainingJobName"] == new_name and output["instanceType"] == "ml.g6e.8xlarge"


def test_no_capacity_and_no_fallback_left_fails_with_the_reason(world):
    request, arn = _launch_with_fallbacks(world, [])
    result = _on(world, aws_env.finish_job(request["TrainingJobName"], "Failed", reason=CAPACITY))
    assert result.action is Action.CALLBACK_SENT
    done = execution_result(world.clients.stepfunctions, arn)
    assert done["error"] == "Gr00t.TrainingFailed" and "CapacityError" in done["cause"]


def test_other_failures_are_never_relaunched(world):
    request, arn = _launch_with_fallbacks(world, ["ml.g6e.8xlarge"])
    result = _on(world, aws_env.finish_job(request["TrainingJobName"], "Failed", reason="AlgorithmError: out of memory"))
    assert result.action is Action.CALLBACK_SENT and len(aws_env.all_jobs()) == 1
