"""Building requests for tests and sending them through botocore's Stubber (the real service model)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

from gr00t_core.resolution import resolve
from launcher.orchestration.request import RunSpec, build_training_job_request, run_spec
from launcher.orchestration.settings import DeploymentSettings
from launcher.orchestration.vams import asset_location, parse_vams_event, run_origin
from tests.aws_env import REGION, load_event, settings

STARTED = datetime(2025, 6, 3, 14, 2, 11, tzinfo=UTC)


def offline_client(service: str = "sagemaker") -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def plan(file: dict[str, Any] | None = None, s: DeploymentSettings | None = None, **event_changes: Any) -> tuple[Any, RunSpec, DeploymentSettings]:
    event = load_event("vams_event.json")
    event["body"].update(event_changes)
    parsed = parse_vams_event(event)
    config = resolve(file=file, parameters=parsed.body.inputParameters)
    s = s or settings()
    location = asset_location(parsed.body)
    return config, run_spec(config, s, run_origin(parsed, location), location, started=STARTED), s


def request_for(file: dict[str, Any] | None = None, s: DeploymentSettings | None = None, *, instance_type: str | None = None) -> dict[str, Any]:
    config, run, s = plan(file, s)
    return build_training_job_request(config, s, run, instance_type=instance_type)


def send_through_stubber(request: dict[str, Any]) -> None:
    """Raises botocore's ParamValidationError when the request does not fit the CreateTrainingJob model."""
    client = offline_client()
    with Stubber(client) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/x"}, expected_params=request)
        client.create_training_job(**request)
        stub.assert_no_pending_responses()
