"""Answering the workflow when its training job changes state (EventBridge -> job-events Lambda).

Terminal states (Completed / Failed / Stopped) send the callback exactly once: the token record is claimed with
a conditional write before SendTaskSuccess/Failure, so duplicate events find it claimed. Running states (from the
job sweep, launcher/orchestration/sweep.py, or a deployment that forwards them) send a heartbeat; when Step Functions answers
that the task is gone, nobody waits for the job any more and it is stopped, once the task has stayed gone for a
grace period (a retry of the workflow step may still adopt the job with a new token). Jobs without a record (not
launched by a workflow, or long expired) are ignored, and so are events that are not SageMaker's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, ValidationError, parse
from pydantic import ConfigDict, StrictStr

from gr00t_aws.callbacks import (
    ERROR_TRAINING_FAILED,
    ERROR_TRAINING_STOPPED,
    CallbackOutcome,
    send_failure,
    send_heartbeat,
    send_success,
)
from gr00t_aws.sagemaker_jobs import (
    ACTIVE_STATUSES,
    EVENT_SOURCE,
    STATE_CHANGE_DETAIL_TYPE,
    TERMINAL_STATUSES,
    CapacityUnavailable,
    create_or_adopt,
    describe_job,
    is_capacity_failure,
    job_summary,
    job_tags,
    stop_job,
)
from gr00t_aws.task_tokens import TaskTokenStore, TokenRecord, TokenState
from gr00t_core.errors import EventError
from gr00t_core.naming import JOB_NAME_PATTERN
from launcher.orchestration.limits import create_training_job_model, validate_training_job_request
from launcher.orchestration.request import relaunch_job_name, relaunch_request

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

_log = logging.getLogger(__name__)

# Token-record attribute: instance types still to try, in order, when SageMaker has no capacity for the job.
FALLBACKS_ATTRIBUTE = "fallbacks"
# How long a task must stay gone before its job is stopped. VAMS retries its pipeline step on States.ALL,
# timeouts included (createWorkflow.py: IntervalSeconds 5, BackoffRate 2.0, so waits of 5, 10 and 20 s), and the
# retried launch (up to the Lambda's 120 s timeout in deploy/template.yaml) adopts the job with a new token. 180 s
# covers the longest wait plus that invocation; the job is stopped at the first sweep after it.
DEFAULT_GONE_GRACE_SECONDS = 180


class Action(StrEnum):
    CALLBACK_SENT = "callback_sent"
    TASK_GONE = "task_gone"  # the callback found no waiting task (timed out, aborted): nothing else to do
    DUPLICATE = "duplicate"  # another event already answered for this job
    UNKNOWN_JOB = "unknown_job"
    HEARTBEAT = "heartbeat"
    # Step Functions says the task is gone (timed out, aborted, invalid token): stopped once the grace has passed
    ORPHAN_SUSPECTED = "orphan_suspected"
    STOPPED_ORPHAN = "stopped_orphan"  # nobody waits for the running job any more: the job was stopped
    RELAUNCHED = "relaunched"  # no capacity for the job: a replacement runs on the next fallback type
    IGNORED = "ignored"


@dataclass
class CompletionResult:
    action: Action
    job_name: str
    job_status: str
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "trainingJobName": self.job_name, "trainingJobStatus": self.job_status, "summary": self.summary}


# Members a slim job state may lack; DescribeTrainingJob fills them in for the summary.
_SUMMARY_MEMBERS = ("FinalMetricDataList", "BillableTimeInSeconds", "HyperParameters", "ResourceConfig")


def _complete_details(job: Mapping[str, Any], sm: SageMakerClient) -> Mapping[str, Any]:
    """The job with DescribeTrainingJob's members (they win: SageMaker's truth over an event's hints). Fails soft:
    the callback goes out with what there is when SageMaker cannot be asked."""
    if all(m in job for m in _SUMMARY_MEMBERS):
        return job
    try:
        described = describe_job(sm, job["TrainingJobName"])
    except Exception:  # noqa: BLE001 - decoration only, see _safe_summary
        _log.warning("could not describe training job %s for its summary", job.get("TrainingJobName"), exc_info=True)
        return job
    return {**job, **described} if described else job


def _safe_summary(job: Mapping[str, Any]) -> dict[str, Any]:
    """job_summary, or its two essential members when a member is malformed: the callback never waits on
    optional decoration (metrics, billing, instance details)."""
    try:
        return job_summary(job)
    except Exception:  # noqa: BLE001 - decoration only; the status is what the workflow needs
        _log.warning("summary of training job %s incomplete: a member is malformed", job.get("TrainingJobName"), exc_info=True)
        status = str(job.get("TrainingJobStatus", ""))
        return {"status": "SUCCEEDED" if status == "Completed" else "FAILED", "trainingJobName": str(job.get("TrainingJobName", "")), "trainingJobStatus": status}


def failure_cause(job: Mapping[str, Any]) -> str:
    name = job.get("TrainingJobName", "")
    status = str(job.get("TrainingJobStatus", ""))
    reason = job.get("FailureReason") or ("stopped before it finished" if status == "Stopped" else "no reason given")
    resource = job.get("ResourceConfig")
    itype = resource.get("InstanceType", "") if isinstance(resource, Mapping) else ""
    return (
        f"SageMaker training job {name} {status.lower()}: {reason} "
        f"(instance type {itype}; logs: CloudWatch log group /aws/sagemaker/TrainingJobs, streams {name}/algo-*)"
    )


def _send_result(job: Mapping[str, Any], record: TokenRecord, sfn: SFNClient) -> CallbackOutcome:
    status = job["TrainingJobStatus"]
    if status == "Completed":
        return send_success(sfn, record.task_token, _safe_summary(job))
    error = ERROR_TRAINING_STOPPED if status == "Stopped" else ERROR_TRAINING_FAILED
    return send_failure(sfn, record.task_token, error, failure_cause(job))


def fallbacks_of(record: TokenRecord) -> list[str]:
    return [t for t in record.attributes.get(FALLBACKS_ATTRIBUTE, "").split(",") if t]


def _relaunch(job: Mapping[str, Any], record: TokenRecord, store: TaskTokenStore, sm: SageMakerClient) -> CompletionResult | None:
    """Start the job again on the next fallback type after a capacity failure; None when that is not possible."""
    fallbacks = fallbacks_of(record)
    if not fallbacks or not is_capacity_failure(job):
        return None
    name = job["TrainingJobName"]
    description = describe_job(sm, name) or dict(job)
    tags = job_tags(sm, description["TrainingJobArn"])
    new_name = relaunch_job_name(name)
    operation = create_training_job_model(sm)
    try:
        result = create_or_adopt(
            sm,
            lambda itype: relaunch_request(description, tags, job_name=new_name, instance_type=itype),
            fallbacks,
            validate=lambda request: validate_training_job_request(request, operation),
        )
    except CapacityUnavailable:
        return None  # no type left with room: the workflow gets the original capacity failure
    remaining = fallbacks[fallbacks.index(result.instance_type) + 1 :] if result.instance_type in fallbacks else []
    store.move(record, new_name, attributes={"instanceType": result.instance_type, FALLBACKS_ATTRIBUTE: ",".join(remaining), "relaunchedFrom": name})
    return CompletionResult(Action.RELAUNCHED, name, job["TrainingJobStatus"], {"relaunchedAs": new_name, "instanceType": result.instance_type})


def _complete(job: Mapping[str, Any], record: TokenRecord, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient) -> CompletionResult:
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if record.state is not TokenState.WAITING or not store.claim(record):
        return CompletionResult(Action.DUPLICATE, name, status)
    try:
        relaunched = _relaunch(job, record, store, sm)
        if relaunched is not None:
            return relaunched
        job = _complete_details(job, sm)
        outcome = _send_result(job, record, sfn)
    except Exception:
        store.release(record)  # let EventBridge's retry of this event send the callback
        raise
    action = Action.CALLBACK_SENT if outcome is CallbackOutcome.SENT else Action.TASK_GONE
    return CompletionResult(action, name, status, _safe_summary(job))


@dataclass(frozen=True)
class OrphanPolicy:
    """When a running job whose task is gone gets stopped: ``grace_seconds`` after the first answer that said so."""

    clock: Callable[[], float] = time.time
    grace_seconds: int = DEFAULT_GONE_GRACE_SECONDS


def _task_gone(name: str, status: str, record: TokenRecord, outcome: CallbackOutcome, store: TaskTokenStore, sm: SageMakerClient, policy: OrphanPolicy) -> CompletionResult:
    now = int(policy.clock())
    summary = {"stopReason": outcome.value}
    if record.gone_since is None:
        store.note_gone(record, outcome.value, now=now)  # of two concurrent sweeps, the first sighting wins
        return CompletionResult(Action.ORPHAN_SUSPECTED, name, status, summary)
    if now - record.gone_since < policy.grace_seconds:
        return CompletionResult(Action.ORPHAN_SUSPECTED, name, status, summary)
    # The conditional claim also fails when a retried launch saved a new token meanwhile: that workflow waits.
    if not store.claim(record, TokenState.STOPPED, reason=outcome.value):
        return CompletionResult(Action.DUPLICATE, name, status)
    stop_job(sm, name)
    return CompletionResult(Action.STOPPED_ORPHAN, name, status, summary)


def _heartbeat(job: Mapping[str, Any], record: TokenRecord, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy) -> CompletionResult:
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if record.state is not TokenState.WAITING:
        return CompletionResult(Action.IGNORED, name, status)
    outcome = send_heartbeat(sfn, record.task_token)
    if outcome is CallbackOutcome.SENT:
        return CompletionResult(Action.HEARTBEAT, name, status)
    return _task_gone(name, status, record, outcome, store, sm, policy)


def on_job_state_change(
    job: Mapping[str, Any], *, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy = OrphanPolicy()
) -> CompletionResult:
    """React to one state of one job (an EventBridge ``detail`` or a DescribeTrainingJob response)."""
    name = job["TrainingJobName"]
    status = job["TrainingJobStatus"]
    record = store.get(name)
    if record is None:
        return CompletionResult(Action.UNKNOWN_JOB, name, status)
    if status in TERMINAL_STATUSES:
        return _complete(job, record, store, sfn, sm)
    if status in ACTIVE_STATUSES:
        return _heartbeat(job, record, store, sfn, sm, policy)
    return CompletionResult(Action.IGNORED, name, status)


class TrainingJobStateDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    # The one member read from the event: everything else about the job comes from DescribeTrainingJob.
    TrainingJobName: StrictStr


class TrainingJobStateChange(BaseModel):
    """Only what routes the event (EventBridge user guide, "Amazon EventBridge events": source, detail-type,
    detail). The other envelope members (time, resources, ...) are not read, so a malformed one does not cost a
    job its callback."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    source: StrictStr
    detail_type: StrictStr = Field(alias="detail-type")
    detail: TrainingJobStateDetail


def parse_job_event(event: Any) -> TrainingJobStateChange:
    try:
        return parse(event=event, model=TrainingJobStateChange)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise EventError(f"Not a SageMaker Training Job State Change event (bad or missing: {fields})") from None


def handle_job_event(event: Any, *, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy = OrphanPolicy()) -> CompletionResult:
    """Parse a SageMaker state-change event, then :func:`on_job_state_change` on the job as DescribeTrainingJob
    describes it now.

    The event only names the job: its other members are hints, and a malformed one (ResourceConfig as a string,
    FinalMetricDataList of non-objects) must not stand between a finished job and its callback; a late event
    cannot roll the state back either. A malformed or foreign event is answered IGNORED with the reason in the
    summary, not raised: EventBridge would retry a failed invocation, and the same event would fail the same way
    every time.
    """
    try:
        parsed = parse_job_event(event)
    except EventError as exc:
        return CompletionResult(Action.IGNORED, "", "", {"reason": str(exc)})
    name = parsed.detail.TrainingJobName
    if parsed.source != EVENT_SOURCE or parsed.detail_type != STATE_CHANGE_DETAIL_TYPE:
        return CompletionResult(Action.IGNORED, "", "", {"reason": f"event {parsed.source!r} / {parsed.detail_type!r}"})
    if not JOB_NAME_PATTERN.match(name):  # never a key to look up: "" or a name SageMaker could not have given
        return CompletionResult(Action.IGNORED, "", "", {"reason": f"TrainingJobName {name[:80]!r} is not a training job name"})
    if store.get(name) is None:  # not ours (or long answered): no DescribeTrainingJob call for others' jobs
        return CompletionResult(Action.UNKNOWN_JOB, name, "")
    job = describe_job(sm, name)
    if job is None:
        # SageMaker keeps every job it ran, so this is a replayed or hand-made event (local mode, tests): its
        # members are all there is, used only when the status is at least a string
        job = parsed.detail.model_dump()
        if not isinstance(job.get("TrainingJobStatus"), str):
            return CompletionResult(Action.IGNORED, name, "", {"reason": "no such job and no TrainingJobStatus in the event"})
    return on_job_state_change(job, store=store, sfn=sfn, sm=sm, policy=policy)
