"""Callbacks against moto's Step Functions engine: sent, timed out, gone; limits on error/cause."""

import json

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from gr00t_aws.callbacks import (
    MAX_CAUSE_CHARS,
    NON_RETRYABLE_ERRORS,
    CallbackOutcome,
    error_name,
    send_failure,
    send_heartbeat,
    send_success,
)
from gr00t_aws.sagemaker_jobs import CapacityUnavailable
from gr00t_core.errors import AssetError, ConfigError, DatasetError, EventError, SettingsError, UserError
from tests.aws_env import aws_world, execution_result, waiting_task
from tests.requests_util import offline_client


@pytest.fixture
def world():
    with aws_world() as w:
        yield w


def test_success_reaches_the_execution(world):
    token, arn = waiting_task(world)
    sfn = world.clients.stepfunctions
    assert send_success(sfn, token, {"status": "SUCCEEDED", "n": 1}) is CallbackOutcome.SENT
    result = execution_result(sfn, arn)
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"status": "SUCCEEDED", "n": 1}
    # The task is closed: AWS answers TaskTimedOut ("... the task associated with the token has already been closed").
    assert send_success(sfn, token, {}) is CallbackOutcome.TIMED_OUT


def test_failure_is_truncated_to_the_api_limits(world):
    token, arn = waiting_task(world)
    sfn = world.clients.stepfunctions
    assert send_failure(sfn, token, "E" * 300, "c" * (MAX_CAUSE_CHARS + 10)) is CallbackOutcome.SENT
    result = execution_result(sfn, arn)
    assert result["status"] == "FAILED"
    assert len(result["error"]) == 256 and result["cause"].endswith("[truncated]") and len(result["cause"]) == MAX_CAUSE_CHARS


def test_timed_out_task_is_reported_not_raised(world):
    token, arn = waiting_task(world, timeout=1)
    sfn = world.clients.stepfunctions
    assert execution_result(sfn, arn)["error"] == "States.Timeout"
    assert send_heartbeat(sfn, token) is CallbackOutcome.TIMED_OUT
    assert send_success(sfn, token, {}) is CallbackOutcome.TIMED_OUT
    assert send_failure(sfn, token, "E", "c") is CallbackOutcome.TIMED_OUT


def test_a_token_step_functions_never_issued_is_invalid(world):
    waiting_task(world)
    assert send_heartbeat(world.clients.stepfunctions, "not-a-token-of-this-account") is CallbackOutcome.INVALID


def test_heartbeat_for_a_task_without_heartbeat_seconds_is_accepted(world):
    # AWS accepts and discards it (wellcomecollection/catalogue-pipeline#3597); a sweep heartbeats every waiting job.
    token, arn = waiting_task(world, heartbeat=None)
    sfn = world.clients.stepfunctions
    assert send_heartbeat(sfn, token) is CallbackOutcome.SENT
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"


@pytest.mark.parametrize(
    "code,outcome",
    [("TaskTimedOut", CallbackOutcome.TIMED_OUT), ("TaskDoesNotExist", CallbackOutcome.GONE), ("InvalidToken", CallbackOutcome.INVALID)],
)
def test_aws_error_codes(code, outcome):
    sfn = offline_client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_heartbeat", service_error_code=code)
        stub.add_client_error("send_task_success", service_error_code=code)
        assert send_heartbeat(sfn, "t") is outcome and send_success(sfn, "t", {}) is outcome


def test_throttling_is_raised_for_the_caller_to_retry():
    sfn = offline_client("stepfunctions")
    with Stubber(sfn) as stub, pytest.raises(ClientError, match="ThrottlingException"):
        stub.add_client_error("send_task_failure", service_error_code="ThrottlingException")
        send_failure(sfn, "t", "E", "c")


def test_unknown_token_is_invalid(world):
    assert send_failure(world.clients.stepfunctions, "not-a-token", "E", "c") is CallbackOutcome.INVALID


def test_heartbeat_keeps_a_waiting_task(world):
    token, arn = waiting_task(world, heartbeat=60)
    assert send_heartbeat(world.clients.stepfunctions, token) is CallbackOutcome.SENT


@pytest.mark.parametrize(
    "exc,name",
    [
        (EventError("x"), "Gr00t.InvalidEvent"),
        (ConfigError(["x"]), "Gr00t.InvalidConfig"),
        (DatasetError(["x"]), "Gr00t.DatasetNotReady"),
        (AssetError("x"), "Gr00t.AssetUnreadable"),
        (SettingsError("x"), "Gr00t.DeploymentMisconfigured"),
        (CapacityUnavailable("x"), "Gr00t.NoCapacity"),
        (UserError("x"), "Gr00t.UserError"),
    ],
)
def test_error_names(exc, name):
    assert error_name(exc) == name and name in NON_RETRYABLE_ERRORS
