"""SageMaker training jobs: create or adopt one (capacity fallback), stop one, summarise one, and turn a
DescribeTrainingJob response into the EventBridge "SageMaker Training Job State Change" event.

Every function takes the boto3 SageMaker client as an argument.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gr00t_aws.aws_errors import error_code, error_message
from gr00t_core.errors import ConfigError, UserError
from gr00t_core.run import RunIdentity

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_sagemaker import SageMakerClient

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
ACTIVE_STATUSES = frozenset({"InProgress", "Stopping"})
STATE_CHANGE_DETAIL_TYPE = "SageMaker Training Job State Change"
EVENT_SOURCE = "aws.sagemaker"

# What SageMaker answers, as it words it (tests/fixtures/aws_errors.json holds each answer with its source).
# CreateTrainingJob refused for quota ("The account-level service limit 'ml.g6e.xlarge for training job usage' is
# 0 Instances, ...") or for a type the Region lacks ("The requested resource training-job/ml.p2.xlarge is not
# available in this region"): both ResourceLimitExceeded, and another instance type may well have room.
CAPACITY_ERROR_CODES = frozenset({"ResourceLimitExceeded"})
# A job that found no instances fails with FailureReason "CapacityError: Unable to provision requested ML compute
# capacity. Please retry using a different ML instance type." (DIAGNijmegen/rse-grand-challenge#2631).
_CAPACITY_WORDS = ("capacityerror", "insufficient capacity", "insufficientcapacity", "unable to provision")
# The warm-pool quota is a Service Quotas item of its own per type ("<type> for training warm pool usage",
# 0 by default): refused for it, the job can still run without a warm pool.
_WARM_POOL_QUOTA_WORDS = ("warm pool",)
# DescribeTrainingJob / StopTrainingJob for a name no job has: HTTP 400 ValidationException "Requested resource
# not found." (not ResourceNotFound: boto/boto3#2808, aws/aws-sdk#165; aws-controllers-k8s/sagemaker-controller
# generator.yaml matches this prefix for TrainingJob).
_NOT_FOUND_PREFIX = "requested resource not found"
# StopTrainingJob for a job that already ended: ValidationException "The request was rejected because the
# training job is in status Stopped." (awslabs/benchmark-ai#928).
_ALREADY_ENDED_WORDS = "training job is in status"


class CapacityUnavailable(UserError, RuntimeError):
    """No instance type of the configured list could be started (quota or capacity)."""


def is_capacity_error(exc: ClientError) -> bool:
    return error_code(exc) in CAPACITY_ERROR_CODES and not is_warm_pool_quota_error(exc)


def is_warm_pool_quota_error(exc: ClientError) -> bool:
    return error_code(exc) == "ResourceLimitExceeded" and any(w in error_message(exc).lower() for w in _WARM_POOL_QUOTA_WORDS)


def is_capacity_failure(job: Mapping[str, Any]) -> bool:
    """A job that failed before training because SageMaker had no instances for it (another type may have)."""
    reason = str(job.get("FailureReason") or "").lower()
    return job.get("TrainingJobStatus") == "Failed" and any(w in reason for w in _CAPACITY_WORDS)


def is_job_not_found(exc: ClientError) -> bool:
    code = error_code(exc)
    return code == "ResourceNotFound" or (code == "ValidationException" and error_message(exc).lower().startswith(_NOT_FOUND_PREFIX))


def describe_job(sm: SageMakerClient, job_name: str) -> dict[str, Any] | None:
    """The job's description, or None when no job has that name."""
    try:
        response = sm.describe_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        if is_job_not_found(exc):
            return None
        raise
    description: dict[str, Any] = dict(response)
    description.pop("ResponseMetadata", None)
    return description


@dataclass
class LaunchResult:
    job_name: str
    job_arn: str
    instance_type: str
    adopted: bool  # True: a job of this name already existed (a retried invocation) and was reused
    # (instance type, why it was refused) for each type tried before the one that ran
    refused: list[tuple[str, str]] = field(default_factory=list)
    description: dict[str, Any] | None = None  # the existing job's description when adopted
    warnings: list[str] = field(default_factory=list)  # what the launch gave up (e.g. a warm pool without quota)

    @property
    def status(self) -> str:
        return (self.description or {}).get("TrainingJobStatus", "InProgress")


def adopted_result(description: dict[str, Any]) -> LaunchResult:
    """A LaunchResult for a job that already exists."""
    return LaunchResult(
        job_name=description["TrainingJobName"],
        job_arn=description.get("TrainingJobArn", ""),
        instance_type=description.get("ResourceConfig", {}).get("InstanceType", ""),
        adopted=True,
        description=description,
    )


def _create(sm: SageMakerClient, request: dict[str, Any], warnings: list[str]) -> str:
    """CreateTrainingJob; refused only for the warm-pool quota, the same job starts again without a warm pool."""
    try:
        return sm.create_training_job(**request)["TrainingJobArn"]
    except ClientError as exc:
        keep_alive = request.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds")
        if not keep_alive or not is_warm_pool_quota_error(exc):
            raise
        itype = request["ResourceConfig"].get("InstanceType", "")
        warnings.append(
            f"no warm pool for {itype}: SageMaker refused it ({error_message(exc)}); the job runs without one. To keep "
            f"instances warm between runs, request '{itype} for training warm pool usage' in Service Quotas, or set "
            "warmPoolKeepAliveSeconds to 0 to stop asking"
        )
        resource = {k: v for k, v in request["ResourceConfig"].items() if k != "KeepAlivePeriodInSeconds"}
        return sm.create_training_job(**{**request, "ResourceConfig": resource})["TrainingJobArn"]


def create_or_adopt(
    sm: SageMakerClient,
    request_for: Callable[[str], dict[str, Any]],
    instance_types: Sequence[str],
    *,
    validate: Callable[[dict[str, Any]], None] = lambda request: None,
) -> LaunchResult:
    """Start the job on the first instance type SageMaker has room for, or adopt the job already there.

    ``request_for(instance_type)`` builds the request; every request carries the same deterministic name, so a
    retried invocation finds the job (DescribeTrainingJob first, ResourceInUse as the race fallback).
    """
    if not instance_types:
        raise ValueError("instance_types must name at least one instance type")
    requests = [request_for(itype) for itype in instance_types]
    for request in requests:
        validate(request)  # refuse the whole launch before anything starts, fallbacks included
    job_name = requests[0]["TrainingJobName"]
    existing = describe_job(sm, job_name)
    if existing is not None:
        return adopted_result(existing)
    refused: list[tuple[str, str]] = []
    warnings: list[str] = []
    for itype, request in zip(instance_types, requests, strict=True):
        try:
            arn = _create(sm, request, warnings)
        except ClientError as exc:
            if error_code(exc) == "ResourceInUse":
                existing = describe_job(sm, job_name)
                if existing is not None:
                    return adopted_result(existing)
                raise
            if is_capacity_error(exc):
                refused.append((itype, f"{error_code(exc)}: {error_message(exc)}"))
                continue
            raise
        return LaunchResult(job_name, arn, itype, adopted=False, refused=refused, warnings=warnings)
    details = "; ".join(f"{t} ({why})" for t, why in refused)
    raise CapacityUnavailable(
        f"No capacity or quota for any configured instance type: {details}. Request a quota increase in Service "
        f"Quotas ('<type> for training job usage'), try again later, or add types to instanceTypeFallbacks"
    )


def job_tags(sm: SageMakerClient, job_arn: str) -> list[dict[str, str]]:
    """The job's own tags (AWS-managed ``aws:*`` tags cannot be set again, so they are left out)."""
    tags: list[dict[str, str]] = []
    kwargs: dict[str, Any] = {"ResourceArn": job_arn}
    while True:
        response = sm.list_tags(**kwargs)
        tags += [{"Key": t["Key"], "Value": t["Value"]} for t in response.get("Tags", []) if not t["Key"].startswith("aws:")]
        if not response.get("NextToken"):
            return tags
        kwargs["NextToken"] = response["NextToken"]


def stop_job(sm: SageMakerClient, job_name: str) -> bool:
    """Ask SageMaker to stop the job. False when there is nothing to stop (no such job, or already ended)."""
    description = describe_job(sm, job_name)
    if description is None or description.get("TrainingJobStatus") not in ACTIVE_STATUSES:
        return False
    if description.get("TrainingJobStatus") == "Stopping":
        return True
    try:
        sm.stop_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        if is_job_not_found(exc) or (error_code(exc) == "ValidationException" and _ALREADY_ENDED_WORDS in error_message(exc)):
            return False  # it ended (or vanished) between the describe and the stop
        raise
    return True


def _epoch_seconds(value: Any) -> float | None:
    """datetime, epoch milliseconds (EventBridge), epoch-ms string or ISO string -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return value / 1000.0
    text = str(value)
    if text.isdigit():
        return int(text) / 1000.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def training_seconds(job: Mapping[str, Any]) -> float | None:
    start, end = _epoch_seconds(job.get("TrainingStartTime")), _epoch_seconds(job.get("TrainingEndTime"))
    return round(end - start, 3) if start is not None and end is not None and end >= start else None


def output_folder_uri(job: Mapping[str, Any]) -> str:
    """s3://.../files/gr00tOutput_.../ from the job's hyperparameters ("" for jobs this project did not start)."""
    try:
        return RunIdentity.from_hyperparameters(job.get("HyperParameters") or {}).output_prefix_uri
    except ConfigError:
        return ""


def job_summary(job: Mapping[str, Any]) -> dict[str, Any]:
    """The small JSON a workflow receives when the job ends (SendTaskSuccess output)."""
    status = job.get("TrainingJobStatus", "")
    resource = job.get("ResourceConfig") or {}
    summary: dict[str, Any] = {
        "status": "SUCCEEDED" if status == "Completed" else "FAILED",
        "trainingJobName": job.get("TrainingJobName", ""),
        "trainingJobStatus": status,
        "outputFolderUri": output_folder_uri(job),
        "finalMetrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList") or [] if "MetricName" in m},
        "billableSeconds": job.get("BillableTimeInSeconds"),
        "trainingSeconds": training_seconds(job),
        "instanceType": resource.get("InstanceType", ""),
        "instanceCount": resource.get("InstanceCount"),
    }
    if job.get("FailureReason"):
        summary["failureReason"] = job["FailureReason"]
    return summary


def _to_epoch_ms(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, Mapping):
        return {k: _to_epoch_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_epoch_ms(v) for v in value]
    return value


def event_from_description(description: Mapping[str, Any], *, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event SageMaker emits for this job state (times as epoch milliseconds).

    Local mode and tests use it to drive ``lambda_handler.job_events.handler`` exactly as EventBridge would.
    """
    detail = _to_epoch_ms({k: v for k, v in description.items() if k != "ResponseMetadata"})
    detail.setdefault("Tags", {})
    changed = description.get("LastModifiedTime") or description.get("TrainingEndTime")
    when = changed if isinstance(changed, datetime) else datetime.now(UTC)
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{description.get('TrainingJobArn', '')}#{detail.get('TrainingJobStatus')}#{detail.get('LastModifiedTime')}")
    return {
        "version": "0",
        "id": str(event_id),
        "detail-type": STATE_CHANGE_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [description["TrainingJobArn"]] if description.get("TrainingJobArn") else [],
        "detail": detail,
    }
