"""Step Functions task tokens kept in DynamoDB, keyed by training job name.

A token (up to 2048 characters) does not fit in a SageMaker tag, so the launch Lambda stores it here and the
job-events Lambda looks it up. ``claim`` is a conditional write: of several duplicate EventBridge events for
one job, exactly one wins the right to send the callback. Items expire through the table's TTL attribute.

Table: partition key ``jobName`` (S), TTL attribute ``expiresAt`` (N, epoch seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

KEY = "jobName"
TTL_ATTRIBUTE = "expiresAt"


class TokenState(str, Enum):
    WAITING = "waiting"  # the workflow waits for this job's callback
    DONE = "done"  # the callback was sent (or the task was already gone)
    STOPPED = "stopped"  # nobody waits any more (timed out / stopped); the job was stopped


@dataclass(frozen=True)
class TokenRecord:
    job_name: str
    task_token: str
    state: TokenState
    expires_at: int
    attributes: dict[str, str] = field(default_factory=dict)  # output folder, instance type, asset id, ...


_RESERVED = {KEY, "taskToken", "state", TTL_ATTRIBUTE, "updatedAt"}


class TaskTokenStore:
    def __init__(self, dynamodb: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._db = dynamodb
        self._table = table_name
        self._clock = clock

    def save(self, job_name: str, task_token: str, *, ttl_seconds: int, attributes: Mapping[str, str] | None = None) -> None:
        """Store (or replace, for a retried invocation that adopted the job) the token the job must answer."""
        now = int(self._clock())
        item: dict[str, Any] = {
            KEY: {"S": job_name},
            "taskToken": {"S": task_token},
            "state": {"S": TokenState.WAITING.value},
            TTL_ATTRIBUTE: {"N": str(now + ttl_seconds)},
            "updatedAt": {"N": str(now)},
        }
        for name, value in (attributes or {}).items():
            if name not in _RESERVED and value not in (None, ""):
                item[name] = {"S": str(value)}
        self._db.put_item(TableName=self._table, Item=item)

    def move(self, record: TokenRecord, job_name: str, *, attributes: Mapping[str, str] | None = None) -> None:
        """Hand ``record``'s token to the job that replaces it (claim the old record first), same expiry."""
        ttl = max(record.expires_at - int(self._clock()), 3600)
        self.save(job_name, record.task_token, ttl_seconds=ttl, attributes={**record.attributes, **(attributes or {})})

    def get(self, job_name: str) -> TokenRecord | None:
        response = self._db.get_item(TableName=self._table, Key={KEY: {"S": job_name}}, ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        return TokenRecord(
            job_name=item[KEY]["S"],
            task_token=item["taskToken"]["S"],
            state=TokenState(item["state"]["S"]),
            expires_at=int(item.get(TTL_ATTRIBUTE, {}).get("N", "0")),
            attributes={k: v["S"] for k, v in item.items() if k not in _RESERVED and "S" in v},
        )

    def _transition(self, record: TokenRecord, to: TokenState, *, expected: TokenState) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={KEY: {"S": record.job_name}},
                UpdateExpression="SET #s = :to, updatedAt = :now",
                ConditionExpression="#s = :expected AND taskToken = :token",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":to": {"S": to.value},
                    ":expected": {"S": expected.value},
                    ":token": {"S": record.task_token},
                    ":now": {"N": str(int(self._clock()))},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def claim(self, record: TokenRecord, to: TokenState = TokenState.DONE) -> bool:
        """Move a waiting record to ``to``; False when another event (or a newer token) got there first."""
        return self._transition(record, to, expected=TokenState.WAITING)

    def release(self, record: TokenRecord, frm: TokenState = TokenState.DONE) -> bool:
        """Undo a claim whose callback could not be sent, so EventBridge's retry can try again."""
        return self._transition(record, TokenState.WAITING, expected=frm)
