"""Generated input for the launch Lambda (lambda_handler.launch.handler): real VAMS events mutated one member at a
time, each handled by the real handler against one moto world (the asset of tests/aws_env.py).

Property, for every case: exactly one documented outcome (LAUNCHED / ADOPTED, REJECTED with a callback, or an
EventError raised when there is no token to answer), never another exception; REJECTED names the field; no
training job is created for a rejected event; a job that is created passes SageMaker's own patterns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr00t_core.errors import EventError
from tests.aws_env import (
    FakeLambdaContext,
    World,
    all_jobs,
    aws_world,
    dataset_meta,
    lambda_runtime,
    load_event,
)
from tests.hostile.conftest import CASES, FIGURES, counted
from tests.hostile.mutate import JSON_STRING_MEMBERS, Mutation, mutated
from tests.hostile.oracles import names_field, request_breaks_sagemaker

EVENTS = [load_event("vams_event.json"), load_event("vams_event_body_string.json")]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with aws_world() as w:
        w.put_asset(dataset_meta(), config={"maxSteps": 300})
        with lambda_runtime(w):
            yield w


def _launch(event: Any) -> dict[str, Any]:
    from lambda_handler.launch import handler

    return handler(event, FakeLambdaContext())


def _check(world: World, event: Any, mutation: Mutation) -> str:
    before = set(all_jobs())
    try:
        outcome = _launch(event)
    except EventError as exc:  # documented: no token to answer, the invocation fails with the reason
        assert set(all_jobs()) == before, "a job was created for an event that was refused"
        assert names_field(str(exc), mutation.path) or "TaskToken" in str(exc), (mutation, str(exc))
        return "refused without token"
    status = outcome["status"]
    assert status in ("LAUNCHED", "ADOPTED", "REJECTED"), outcome
    if status == "REJECTED":
        assert set(all_jobs()) == before, f"job created for rejected input: {outcome['cause']}"
        assert names_field(outcome["cause"], mutation.path), (mutation, outcome["cause"])
        return "rejected"
    job = all_jobs()[outcome["trainingJobName"]]
    problems = request_breaks_sagemaker(job.training_job_name, job.tags, job.hyper_parameters)
    assert not problems, f"{mutation}: the job breaks SageMaker's rules: {problems}"
    return status.lower()


def test_mutated_vams_events(world: World) -> None:
    seen: dict[str, int] = {}

    @given(st.sampled_from(EVENTS).flatmap(lambda e: mutated(e, json_members=JSON_STRING_MEMBERS)))
    def case(drawn: tuple[dict[str, Any], Mutation]) -> None:
        event, mutation = drawn
        with counted("launch handler"):
            kind = _check(world, event, mutation)
        seen[kind] = seen.get(kind, 0) + 1
        FIGURES["launch handler"]["cases"] += 1

    case()
    assert sum(seen.values()) >= CASES, seen
