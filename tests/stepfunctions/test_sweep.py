"""No GPU job outlives the workflow waiting for it: the job sweep under real state machines on moto's engine.

Three stories, each ending with the job stopped or finished and at most one callback:
(a) the workflow VAMS generates times out, its retries adopt the running job, the sweep stops it after the last;
(b) an execution of this project's state machine is aborted (no Catch runs): the sweep stops the job;
(c) a job longer than the task's HeartbeatSeconds is kept alive by the sweep's heartbeats, then answers once.

The sweep runs through the real job-events handler with a "Scheduled Event"; where the grace before a stop must
pass, the sweep is called with a clock moved past it (launcher.orchestration.completion.OrphanPolicy) instead of waiting.
"""

import copy
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from gr00t_aws.sagemaker_jobs import event_from_description
from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from lambda_handler import job_events, launch, stop
from launcher.orchestration.completion import DEFAULT_GONE_GRACE_SECONDS, Action, OrphanPolicy
from launcher.orchestration.sweep import sweep
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
from tests.lambda_handler.test_vams_workflow import _vams_asl, _vams_input

ASL = (Path(__file__).resolve().parents[2] / "stepfunctions" / "gr00t_finetune.asl.json").read_text()
SCHEDULED = load_event("scheduled_event.json")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"

# VAMS's generated Lambda step (awslabs/visual-asset-management-system, backend/backend/handlers/workflows/
# createWorkflow.py generate_workflow_asl with common/stepfunctions_builder.py): TimeoutSeconds = taskTimeout,
# Retry [{ErrorEquals ["States.ALL"], IntervalSeconds 5, BackoffRate 2.0, MaxAttempts 3}], Catch
# [{ErrorEquals ["States.TaskFailed"], Next "WorkflowProcessingJobFailed"}] (a Fail state). States.ALL includes
# States.Timeout, so a timed-out step is retried and the launch Lambda is invoked again for the same run. Here
# only IntervalSeconds (1) and TimeoutSeconds (seconds) are shortened.
VAMS_MAX_ATTEMPTS = 3
TASK_TIMEOUT = 3


@pytest.fixture
def world():
    with aws_world() as w:
        w.put_asset(dataset_meta(), config={"maxSteps": 200})
        w.extra["store"] = TaskTokenStore(w.clients.dynamodb, TOKEN_TABLE)
        yield w


def _sweep():
    """One tick of the schedule rule, through the deployed handler."""
    return job_events.handler(copy.deepcopy(SCHEDULED), aws_env.FakeLambdaContext())


def _sweep_after_grace(world):
    """A later tick, once the grace since the task was first found gone has passed."""
    c = world.clients
    policy = OrphanPolicy(clock=lambda: time.time() + DEFAULT_GONE_GRACE_SECONDS)
    return sweep(store=world.extra["store"], sfn=c.stepfunctions, sm=c.sagemaker, policy=policy)


def _actions(result):
    return {job["trainingJobName"]: job["action"] for job in result["jobs"]}


def _callbacks(sfn, arn):
    return sum(1 for e in history(sfn, arn) if e["type"] in ("TaskSucceeded", "TaskFailed"))


def _only_job():
    (name,) = wait_for(lambda: list(aws_env.all_jobs()))
    return name


def test_vams_step_timing_out_through_its_retries_leaves_no_job_running(world):
    sfn = world.clients.stepfunctions
    with routed_lambdas(world, {"vams-gr00t-finetune-launch": launch.handler}) as calls:
        definition = _vams_asl(world.extra["function_arns"]["vams-gr00t-finetune-launch"], TASK_TIMEOUT)
        step = next(s for s in definition["States"].values() if s.get("Retry"))
        step["Retry"][0]["MaxAttempts"] = VAMS_MAX_ATTEMPTS
        step["Catch"] = [{"ErrorEquals": ["States.TaskFailed"], "Next": "WorkflowProcessingJobFailed"}]
        machine = sfn.create_state_machine(name="vams-wf", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="exec-timeout", input=json.dumps(_vams_input()))["executionArn"]
        store = world.extra["store"]
        for attempt in range(1, VAMS_MAX_ATTEMPTS + 2):
            wait_for(lambda attempt=attempt: len(scheduled_tokens(sfn, arn)) >= attempt)
            token = scheduled_tokens(sfn, arn)[attempt - 1]
            name = _only_job()  # every attempt adopts the one job
            wait_for(lambda name=name, token=token: (r := store.get(name)) is not None and r.task_token == token)
            # The workflow waits (or is between attempts, and the next one adopts the job): never a stop.
            assert _actions(_sweep())[name] in (Action.HEARTBEAT.value, Action.ORPHAN_SUSPECTED.value)
            assert aws_env.STOP_CALLS == []
        done = execution_result(sfn, arn, timeout=60)
        assert done["status"] == "FAILED"
        assert len(calls["vams-gr00t-finetune-launch"]) == VAMS_MAX_ATTEMPTS + 1 and len(aws_env.all_jobs()) == 1
        assert aws_env.job(name).training_job_status == "InProgress"  # the Catch did nothing for the job
        first = _sweep()  # the first tick that finds the last task gone only notes it
        assert _actions(first)[name] == Action.ORPHAN_SUSPECTED.value and aws_env.STOP_CALLS == []
        later = _sweep_after_grace(world)
        assert [(j.job_name, j.action) for j in later.jobs] == [(name, Action.STOPPED_ORPHAN)]
        assert aws_env.STOP_CALLS == [name] and aws_env.job(name).training_job_status == "Stopped"
        record = store.get(name)
        assert (record.state, record.stop_reason) == (TokenState.STOPPED, "timed_out")
        stopped = event_from_description(aws_env.finish_job(name, "Stopped"), region=REGION, account=ACCOUNT)
        assert job_events.handler(stopped, aws_env.FakeLambdaContext())["action"] == Action.DUPLICATE.value
        assert _callbacks(sfn, arn) == 0
        assert _sweep()["checked"] == 0  # nothing waits any more


@pytest.fixture
def machine(world):
    with routed_lambdas(world, {"launch": launch.handler, "stop": stop.handler}) as calls:
        arns = world.extra["function_arns"]
        definition = ASL.replace("${LaunchFunctionArn}", arns["launch"]).replace("${StopFunctionArn}", arns["stop"])
        sfn = world.clients.stepfunctions
        world.extra["sm_arn"] = sfn.create_state_machine(name="gr00t-finetune", definition=definition, roleArn=ROLE)["stateMachineArn"]
        world.extra["calls"] = calls
        yield world


def _start(world, name, **input_changes):
    execution_input = {**load_event("state_machine_input.json"), **input_changes}
    sfn = world.clients.stepfunctions
    arn = sfn.start_execution(stateMachineArn=world.extra["sm_arn"], name=name, input=json.dumps(execution_input))["executionArn"]
    job = _only_job()
    wait_for(lambda: world.extra["store"].get(job))
    # The Lambda has stored the token; the task waits for it once Step Functions records the submission.
    wait_for(lambda: any(e["type"] == "TaskSubmitted" for e in history(sfn, arn)))
    return arn, job


def test_an_aborted_execution_leaves_no_job_running(machine):
    sfn = machine.clients.stepfunctions
    arn, name = _start(machine, "run-aborted", timeoutSeconds=TASK_TIMEOUT)
    assert _actions(_sweep())[name] == Action.HEARTBEAT.value
    sfn.stop_execution(executionArn=arn, error="Operator.Abort", cause="wrong asset")
    assert execution_result(sfn, arn)["status"] == "ABORTED"
    assert machine.extra["calls"]["stop"] == []  # a Catch does not run on abort: the StopJob step never ran
    assert _actions(_sweep())[name] == Action.ORPHAN_SUSPECTED.value and aws_env.STOP_CALLS == []
    assert [j.action for j in _sweep_after_grace(machine).jobs] == [Action.STOPPED_ORPHAN]
    assert aws_env.STOP_CALLS == [name] and aws_env.job(name).training_job_status == "Stopped"
    assert machine.extra["store"].get(name).stop_reason == "timed_out"
    assert _callbacks(sfn, arn) == 0


HEARTBEAT_SECONDS = 3


def test_heartbeats_keep_a_job_longer_than_heartbeat_seconds_alive_then_it_answers_once(machine):
    sfn = machine.clients.stepfunctions
    arn, name = _start(machine, "run-long", timeoutSeconds=600, heartbeatSeconds=HEARTBEAT_SECONDS)
    submitted = next(e["timestamp"] for e in history(sfn, arn) if e["type"] == "TaskSubmitted")
    sweeps = 0

    def outlived_two_heartbeat_periods():
        nonlocal sweeps
        assert _actions(_sweep())[name] == Action.HEARTBEAT.value
        sweeps += 1
        time.sleep(HEARTBEAT_SECONDS / 3)
        return (datetime.now(submitted.tzinfo) - submitted).total_seconds() > 2 * HEARTBEAT_SECONDS

    wait_for(outlived_two_heartbeat_periods, timeout=60, interval=0)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and sweeps > 2
    assert "LaunchWithHeartbeat" in [e.get("stateEnteredEventDetails", {}).get("name") for e in history(sfn, arn)]
    assert aws_env.STOP_CALLS == []
    # The job ends and its event is lost: the next tick answers the workflow, the late event finds it answered.
    description = aws_env.finish_job(name, "Completed")
    assert _actions(_sweep())[name] == Action.CALLBACK_SENT.value
    late = event_from_description(description, region=REGION, account=ACCOUNT)
    assert job_events.handler(late, aws_env.FakeLambdaContext())["action"] == Action.DUPLICATE.value
    done = execution_result(sfn, arn)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"])["trainingJobName"] == name
    assert _callbacks(sfn, arn) == 1 and aws_env.STOP_CALLS == []

