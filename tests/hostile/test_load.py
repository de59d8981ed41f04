"""Load (issue #12): 100 launch events handled at once by the real launch handler on 16 threads against a moto
server give 100 jobs and 100 stored tokens, each token stored for its own event's job (no cross-talk); then 100
terminal events, each delivered twice, concurrently, give exactly 100 callbacks. Counts only: the times are
benchmarks/bench_load.py's."""

from __future__ import annotations

from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from tests.aws_env import TOKEN_TABLE, FakeLambdaContext
from tests.hostile.conftest import FIGURES
from tests.hostile.load import finish_all, launch_events, run_all, server_world, terminal_event
from tests.hostile.test_job_events_hostile import CallbackCounter

EVENTS = 100


def test_concurrent_launches_and_duplicate_terminal_events() -> None:
    from lambda_handler.job_events import handler as job_events
    from lambda_handler.launch import handler as launch

    with server_world() as world:
        events = launch_events(EVENTS)
        launched = run_all(lambda e: launch(e, FakeLambdaContext()), events, threads=16)
        statuses = [o["status"] for o in launched.results]
        assert statuses == ["LAUNCHED"] * EVENTS, statuses
        names = [o["trainingJobName"] for o in launched.results]
        assert len(set(names)) == EVENTS
        jobs = world.clients.sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        assert {j["TrainingJobName"] for j in jobs} == set(names)
        store = TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE)
        for event, name in zip(events, names, strict=True):
            record = store.get(name)
            assert record is not None and record.task_token == event["body"]["TaskToken"], name
            hp = world.clients.sagemaker.describe_training_job(TrainingJobName=name)["HyperParameters"]
            assert hp["assetId"] == event["body"]["assetId"]
        assert len(list(store.waiting())) == EVENTS

        counter = CallbackCounter(world.clients.stepfunctions)
        finish_all(names)
        deliveries = [terminal_event(n) for n in names] * 2
        answered = run_all(lambda e: job_events(e, FakeLambdaContext()), deliveries, threads=16)
        actions = sorted(r["action"] for r in answered.results)
        assert len(counter.calls) == EVENTS, f"{len(counter.calls)} callbacks for {EVENTS} jobs"
        assert sorted(counter.calls) == sorted(e["body"]["TaskToken"] for e in events)
        assert actions.count("duplicate") == EVENTS, actions
        assert all(store.get(n).state is not TokenState.WAITING for n in names)  # type: ignore[union-attr]
        FIGURES["load (100 events, 16 threads)"].update(
            {"jobs": len(set(names)), "tokens stored": EVENTS, "terminal deliveries": len(deliveries), "callbacks": len(counter.calls)}
        )
