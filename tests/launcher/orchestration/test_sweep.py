"""launcher.orchestration.sweep: concurrent sweeps act once, every waiting record is read (pagination), foreign events are
ignored without an error."""

import copy

import pytest
from botocore.stub import Stubber

from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from lambda_handler import job_events
from launcher.orchestration.completion import Action, OrphanPolicy
from launcher.orchestration.sweep import handle_job_events, is_scheduled_event, sweep
from tests import aws_env
from tests.aws_env import (
    TOKEN_TABLE,
    FakeLambdaContext,
    aws_world,
    execution_result,
    lambda_runtime,
    load_event,
    waiting_task,
)
from tests.requests_util import offline_client, request_for

SCHEDULED = load_event("scheduled_event.json")  # the EventBridge user guide's scheduled-event example


@pytest.fixture
def world():
    with aws_world() as w:
        w.extra["store"] = TaskTokenStore(w.clients.dynamodb, TOKEN_TABLE)
        yield w


class _Snapshot(TaskTokenStore):
    """A store that reads what it read before: the second of two sweeps that listed and read at the same time."""

    def __init__(self, store):
        super().__init__(store._db, store._table)
        self._records = list(store.waiting())
        self._by_name = {r.job_name: r for r in self._records}

    def waiting(self):
        return iter(self._records)

    def get(self, job_name):
        return self._by_name.get(job_name)


def _job(world, token):
    request = request_for()
    world.clients.sagemaker.create_training_job(**request)
    world.extra["store"].save(request["TrainingJobName"], token, ttl_seconds=600)
    return request["TrainingJobName"]


def _sweep(world, store, policy=None):
    return sweep(store=store, sfn=world.clients.stepfunctions, sm=world.clients.sagemaker, policy=policy)


def test_two_sweeps_at_once_send_one_callback_for_a_job_whose_event_was_lost(world):
    token, arn = waiting_task(world)
    name = _job(world, token)
    aws_env.finish_job(name, "Completed")
    second = _Snapshot(world.extra["store"])
    actions = [r.action for r in _sweep(world, world.extra["store"]).jobs + _sweep(world, second).jobs]
    assert actions == [Action.CALLBACK_SENT, Action.DUPLICATE]
    assert execution_result(world.clients.stepfunctions, arn)["status"] == "SUCCEEDED"


def test_two_sweeps_at_once_stop_an_orphan_once(world):
    token, arn = waiting_task(world, timeout=1)
    execution_result(world.clients.stepfunctions, arn)  # the task timed out: nobody waits
    name = _job(world, token)
    store = world.extra["store"]
    assert [r.action for r in _sweep(world, store).jobs] == [Action.ORPHAN_SUSPECTED]
    later = OrphanPolicy(clock=lambda: store.get(name).gone_since + OrphanPolicy().grace_seconds)
    second = _Snapshot(store)
    actions = [r.action for r in _sweep(world, store, later).jobs + _sweep(world, second, later).jobs]
    assert actions == [Action.STOPPED_ORPHAN, Action.DUPLICATE]
    assert aws_env.STOP_CALLS == [name] and store.get(name).state is TokenState.STOPPED


def test_every_page_of_waiting_records_is_read():
    db = offline_client("dynamodb")
    record = lambda name: {"jobName": {"S": name}, "taskToken": {"S": "t"}, "state": {"S": "waiting"}}  # noqa: E731
    filter_ = {"TableName": TOKEN_TABLE, "ConsistentRead": True, "FilterExpression": "#s = :waiting",
               "ExpressionAttributeNames": {"#s": "state"}, "ExpressionAttributeValues": {":waiting": {"S": "waiting"}}}
    with Stubber(db) as stub:
        stub.add_response("scan", {"Items": [record("a")], "LastEvaluatedKey": {"jobName": {"S": "a"}}}, filter_)
        stub.add_response("scan", {"Items": [record("b")]}, {**filter_, "ExclusiveStartKey": {"jobName": {"S": "a"}}})
        assert [r.job_name for r in TaskTokenStore(db, TOKEN_TABLE).waiting()] == ["a", "b"]


@pytest.mark.parametrize(
    "event",
    [{**SCHEDULED, "source": "my.app"}, {**SCHEDULED, "detail-type": "Something Else"}, {}, {"detail": {"TrainingJobName": 5}}],
)
def test_foreign_and_malformed_events_are_ignored_without_an_error(world, event):
    assert not is_scheduled_event(event)
    with lambda_runtime(world):
        assert job_events.handler(copy.deepcopy(event), FakeLambdaContext())["action"] == Action.IGNORED.value


def test_a_scheduled_event_sweeps(world):
    token, _ = waiting_task(world)
    name = _job(world, token)
    c = world.clients
    result = handle_job_events(copy.deepcopy(SCHEDULED), store=world.extra["store"], sfn=c.stepfunctions, sm=c.sagemaker)
    assert [(r.job_name, r.action) for r in result.jobs] == [(name, Action.HEARTBEAT)]
    assert result.as_dict()["checked"] == 1
