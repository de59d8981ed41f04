"""Step Functions task tokens kept in DynamoDB, keyed by training job name.

A token (up to 2048 characters) does not fit in a SageMaker tag, so the launch Lambda stores it here and the
job-events Lambda looks it up. ``claim`` is a conditional write: of several duplicate EventBridge events for
one job, exactly one wins the right to send the callback. Items expire through the table's TTL attribute.

Table: partition key ``jobName`` (S), TTL attribute ``expiresAt`` (N, epoch seconds). The job sweep reads every
waiting record (``waiting``) and notes when Step Functions first said the task is gone (``goneSince``, N) and why
(``stopReason``, S).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gr00t_aws.aws_errors import error_code

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient

KEY = "jobName"
TTL_ATTRIBUTE = "expiresAt"


class TokenState(StrEnum):
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
    gone_since: int | None = None  # epoch seconds when Step Functions first answered that this token's task is gone
    stop_reason: str = ""  # why nobody waits any more (the callback outcome), once known


_RESERVED = {KEY, "taskToken", "state", TTL_ATTRIBUTE, "updatedAt", "goneSince", "stopReason"}


class TaskTokenStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
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
        return _record(item) if item else None

    def waiting(self) -> Iterator[TokenRecord]:
        """Every record whose workflow still waits for its job's callback (a paginated, consistent Scan)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,  # a token saved a moment ago (a retried launch) must not be missed
            "FilterExpression": "#s = :waiting",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":waiting": {"S": TokenState.WAITING.value}},
        }
        while True:
            response = self._db.scan(**kwargs)
            for item in response.get("Items", []):
                yield _record(item)
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _update(self, record: TokenRecord, update: str, condition: str, values: Mapping[str, Any]) -> bool:
        """A conditional update of this token's record; False when the condition failed (someone got there first)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={KEY: {"S": record.job_name}},
                UpdateExpression=update,
                ConditionExpression=f"{condition} AND taskToken = :token",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={**values, ":token": {"S": record.task_token}, ":now": {"N": str(int(self._clock()))}},
            )
        except ClientError as exc:
            # A failed condition is HTTP 400 ConditionalCheckFailedException "The conditional request failed"
            # (DynamoDB API reference, UpdateItem, Errors); throttling is retried by botocore's standard mode.
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _transition(self, record: TokenRecord, to: TokenState, *, expected: TokenState, reason: str = "") -> bool:
        values = {":to": {"S": to.value}, ":expected": {"S": expected.value}}
        update = "SET #s = :to, updatedAt = :now"
        if reason:
            update += ", stopReason = :reason"
            values[":reason"] = {"S": reason}
        return self._update(record, update, "#s = :expected", values)

    def claim(self, record: TokenRecord, to: TokenState = TokenState.DONE, *, reason: str = "") -> bool:
        """Move a waiting record to ``to`` (recording ``reason``, if given); False when another event (or a newer
        token) got there first."""
        return self._transition(record, to, expected=TokenState.WAITING, reason=reason)

    def note_gone(self, record: TokenRecord, reason: str, *, now: int) -> bool:
        """Remember when Step Functions first said this token's task is gone, and why. The record keeps waiting: a
        retry of the workflow step may still adopt the job and save a new token (which replaces the whole record).
        False when the record moved on or the first sighting is already noted."""
        return self._update(
            record,
            "SET goneSince = :since, stopReason = :reason, updatedAt = :now",
            "#s = :waiting AND attribute_not_exists(goneSince)",
            {":since": {"N": str(now)}, ":reason": {"S": reason}, ":waiting": {"S": TokenState.WAITING.value}},
        )

    def release(self, record: TokenRecord, frm: TokenState = TokenState.DONE) -> bool:
        """Undo a claim whose callback could not be sent, so EventBridge's retry can try again."""
        return self._transition(record, TokenState.WAITING, expected=frm)


def _record(item: Mapping[str, Any]) -> TokenRecord:
    return TokenRecord(
        job_name=item[KEY]["S"],
        task_token=item["taskToken"]["S"],
        state=TokenState(item["state"]["S"]),
        expires_at=int(item.get(TTL_ATTRIBUTE, {}).get("N", "0")),
        attributes={k: v["S"] for k, v in item.items() if k not in _RESERVED and "S" in v},
        gone_since=int(item["goneSince"]["N"]) if "goneSince" in item else None,
        stop_reason=item.get("stopReason", {}).get("S", ""),
    )
