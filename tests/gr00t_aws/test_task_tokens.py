"""The task-token table on moto DynamoDB: save, replace on retry, exactly-once claim, release, TTL."""

import pytest

from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from tests.aws_env import TOKEN_TABLE, aws_world


@pytest.fixture
def store():
    with aws_world() as world:
        yield TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE, clock=lambda: 1_700_000_000)


def test_save_and_get(store):
    store.save("job-1", "tok-1", ttl_seconds=3600, attributes={"instanceType": "ml.g6e.4xlarge", "empty": "", "state": "ignored"})
    record = store.get("job-1")
    assert record.task_token == "tok-1" and record.state is TokenState.WAITING
    assert record.expires_at == 1_700_003_600
    assert record.attributes == {"instanceType": "ml.g6e.4xlarge"}
    assert store.get("job-2") is None


def test_exactly_one_claim_wins(store):
    store.save("job-1", "tok-1", ttl_seconds=60)
    record = store.get("job-1")
    assert store.claim(record) is True
    assert store.claim(record) is False  # the duplicate event
    assert store.get("job-1").state is TokenState.DONE


def test_a_retried_launch_replaces_the_token_and_old_claims_fail(store):
    store.save("job-1", "tok-old", ttl_seconds=60)
    stale = store.get("job-1")
    store.save("job-1", "tok-new", ttl_seconds=60)
    assert store.claim(stale) is False
    assert store.claim(store.get("job-1")) is True


def test_release_lets_a_later_event_try_again(store):
    store.save("job-1", "tok-1", ttl_seconds=60)
    record = store.get("job-1")
    assert store.claim(record)
    assert store.release(record) is True
    assert store.get("job-1").state is TokenState.WAITING
    assert store.claim(record, TokenState.STOPPED) and store.get("job-1").state is TokenState.STOPPED
