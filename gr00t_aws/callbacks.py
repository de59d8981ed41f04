"""Step Functions callbacks (SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat) with their limits.

A token whose task already ended is not an error for this pipeline: the outcome says what happened so the
caller can react (a timed-out task means nobody waits for the job any more).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gr00t_aws.aws_errors import error_code
from gr00t_aws.sagemaker_jobs import CapacityUnavailable
from gr00t_core.errors import AssetError, ConfigError, DatasetError, EventError, SettingsError, UserError

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_stepfunctions import SFNClient

MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32768
MAX_OUTPUT_CHARS = 262144

# Error names a workflow sees; the state machine lists them as not worth retrying (stepfunctions/*.asl.json).
ERROR_INVALID_EVENT = "Gr00t.InvalidEvent"
ERROR_INVALID_CONFIG = "Gr00t.InvalidConfig"
ERROR_DATASET = "Gr00t.DatasetNotReady"
ERROR_ASSET = "Gr00t.AssetUnreadable"
ERROR_SETTINGS = "Gr00t.DeploymentMisconfigured"
ERROR_CAPACITY = "Gr00t.NoCapacity"
ERROR_USER = "Gr00t.UserError"
ERROR_TRAINING_FAILED = "Gr00t.TrainingFailed"
ERROR_TRAINING_STOPPED = "Gr00t.TrainingStopped"
NON_RETRYABLE_ERRORS = (
    ERROR_INVALID_EVENT,
    ERROR_INVALID_CONFIG,
    ERROR_DATASET,
    ERROR_ASSET,
    ERROR_SETTINGS,
    ERROR_CAPACITY,
    ERROR_USER,
    ERROR_TRAINING_FAILED,
    ERROR_TRAINING_STOPPED,
)

_BY_TYPE: tuple[tuple[type[UserError], str], ...] = (
    (CapacityUnavailable, ERROR_CAPACITY),
    (EventError, ERROR_INVALID_EVENT),
    (DatasetError, ERROR_DATASET),
    (AssetError, ERROR_ASSET),
    (SettingsError, ERROR_SETTINGS),
    (ConfigError, ERROR_INVALID_CONFIG),
)


def error_name(exc: UserError) -> str:
    """The workflow error name for a user error."""
    for cls, name in _BY_TYPE:
        if isinstance(exc, cls):
            return name
    return ERROR_USER


class CallbackOutcome(StrEnum):
    """What Step Functions answered (SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat, API reference, Errors;
    every one HTTP 400). Only the code is read: the messages are not documented."""

    SENT = "sent"
    # TaskTimedOut: "The task token has either expired or the task associated with the token has already been
    # closed" (timed out, execution aborted or failed): nobody waits for this job any more.
    TIMED_OUT = "timed_out"
    GONE = "gone"  # TaskDoesNotExist: the task is not there (its execution is gone)
    INVALID = "invalid"  # InvalidToken: "The provided token is not valid": no workflow can ever be answered with it


_OUTCOMES = {"TaskTimedOut": CallbackOutcome.TIMED_OUT, "TaskDoesNotExist": CallbackOutcome.GONE, "InvalidToken": CallbackOutcome.INVALID}


def _outcome(exc: ClientError) -> CallbackOutcome:
    outcome = _OUTCOMES.get(error_code(exc))
    if outcome is None:
        raise exc
    return outcome


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + "... [truncated]"


def send_success(sfn: SFNClient, token: str, output: Mapping[str, Any]) -> CallbackOutcome:
    body = json.dumps(output, separators=(",", ":"), default=str)
    if len(body) > MAX_OUTPUT_CHARS:
        body = json.dumps({"status": output.get("status", "SUCCEEDED"), "note": "summary too large, truncated"})
    try:
        sfn.send_task_success(taskToken=token, output=body)
    except ClientError as exc:
        return _outcome(exc)
    return CallbackOutcome.SENT


def send_failure(sfn: SFNClient, token: str, error: str, cause: str) -> CallbackOutcome:
    try:
        sfn.send_task_failure(taskToken=token, error=_truncate(error, MAX_ERROR_CHARS), cause=_truncate(cause, MAX_CAUSE_CHARS))
    except ClientError as exc:
        return _outcome(exc)
    return CallbackOutcome.SENT


def send_heartbeat(sfn: SFNClient, token: str) -> CallbackOutcome:
    try:
        sfn.send_task_heartbeat(taskToken=token)
    except ClientError as exc:
        return _outcome(exc)
    return CallbackOutcome.SENT
