"""Generated input for the job-events Lambda (lambda_handler.job_events.handler): SageMaker's real state-change
events (tests/events/sagemaker_job_*.json) mutated one member at a time, each delivered twice (EventBridge
delivers at least once) for a job that a workflow waits for.

Property, for every case: no exception; when the event still names the job and comes from SageMaker, the job's
workflow gets exactly one callback, whatever else the event holds (its members are hints, DescribeTrainingJob is
the truth); otherwise the event is ignored and the job's token record is untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from tests.aws_env import TOKEN_TABLE, FakeLambdaContext, World, aws_world, job, lambda_runtime, load_event
from tests.hostile.conftest import CASES, FIGURES, counted
from tests.hostile.mutate import Mutation, mutated

TERMINAL_EVENTS = [load_event(f"sagemaker_job_{s}.json") for s in ("completed", "failed", "stopped")]
# The members that route an event; a mutation of anything else must not cost the job its callback.
ROUTING = {("source",), ("detail-type",), ("detail",), ("detail", "TrainingJobName")}
_numbers = itertools.count()


class CallbackCounter:
    """Counts the callbacks botocore sends (provide-client-params: once per API call, before botocore retries it)."""

    def __init__(self, sfn: Any) -> None:
        self.calls: list[str] = []
        sfn.meta.events.register("provide-client-params.sfn.SendTaskSuccess", self._seen)
        sfn.meta.events.register("provide-client-params.sfn.SendTaskFailure", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params["taskToken"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with aws_world() as w, lambda_runtime(w):
        w.extra["callbacks"] = CallbackCounter(w.clients.stepfunctions)
        yield w


def new_waiting_job(world: World, status: str) -> tuple[str, str]:
    """A job in SageMaker (moto) that has ended with ``status`` and whose workflow waits: (name, token)."""
    name = f"gr00t-hostile-{next(_numbers)}"
    world.clients.sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/r",
        OutputDataConfig={"S3OutputPath": "s3://vams-asset-bucket/out/"},
        ResourceConfig={"InstanceType": "ml.g6e.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    job(name).training_job_status = job(name).secondary_status = status
    token = f"token-{name}"
    TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE).save(name, token, ttl_seconds=3600)
    return name, token


def _deliver(event: Any) -> dict[str, Any]:
    from lambda_handler.job_events import handler

    return handler(event, FakeLambdaContext())


def _check(world: World, template: dict[str, Any], drawn: tuple[dict[str, Any], Mutation]) -> str:
    event, mutation = drawn
    status = template["detail"]["TrainingJobStatus"]
    name, token = new_waiting_job(world, status)
    if isinstance(event.get("detail"), dict) and event["detail"].get("TrainingJobName") == template["detail"]["TrainingJobName"]:
        event["detail"]["TrainingJobName"] = name  # the mutated event names the new job
    calls = world.extra["callbacks"].calls
    before = len(calls)
    results = [_deliver(event), _deliver(event)]
    sent = [t for t in calls[before:] if t == token]
    record = TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE).get(name)
    assert record is not None
    routed = not any(mutation.path[: len(r)] == r for r in ROUTING)
    if routed:
        assert len(sent) == 1, f"{mutation}: {len(sent)} callbacks for one finished job; results {results}"
        assert record.state is not TokenState.WAITING
        return "answered"
    assert len(sent) <= 1, f"{mutation}: {len(sent)} callbacks"
    assert results[0]["action"] in ("ignored", "unknown_job", "callback_sent", "task_gone", "duplicate"), results
    if not sent:
        assert record.state is TokenState.WAITING, "an ignored event touched the token record"
        return "ignored"
    return "answered"


def test_mutated_job_events(world: World) -> None:
    seen: dict[str, int] = {}

    @given(st.sampled_from(TERMINAL_EVENTS).flatmap(lambda e: st.tuples(st.just(e), mutated(e))))
    def case(drawn: tuple[dict[str, Any], tuple[dict[str, Any], Mutation]]) -> None:
        template, mutation = drawn
        # A lost (or doubled) callback breaks _check's property: it counts under "failed properties".
        with counted("job-events handler"):
            kind = _check(world, template, mutation)
        seen[kind] = seen.get(kind, 0) + 1
        FIGURES["job-events handler"]["cases"] += 1

    case()
    assert sum(seen.values()) >= CASES, seen
    assert seen.get("answered", 0) > CASES // 2, seen
