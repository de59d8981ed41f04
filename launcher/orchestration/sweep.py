"""The job sweep: every job a workflow waits for, checked on a schedule (EventBridge rule -> job-events Lambda).

SageMaker's state-change events cannot be the only clock: a long training phase emits none for hours, a Catch
does not run when an execution is aborted, and an event can be lost. So on each "Scheduled Event" every waiting
token record (gr00t_aws.task_tokens) gets, through the same code path as a state-change event
(:func:`launcher.orchestration.completion.on_job_state_change`):

* a running job: SendTaskHeartbeat, which keeps a task with HeartbeatSeconds (VAMS's ``taskHeartbeatTimeout``,
  the standalone ``heartbeatSeconds``) alive for as long as the job runs; when Step Functions answers that the
  task is gone (TaskTimedOut, TaskDoesNotExist, InvalidToken) the job is stopped once the grace has passed;
* an ended job whose record still waits (its terminal event was lost): its callback, exactly once.

Concurrent sweeps are safe: every change of a record is a conditional write on its state and token.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from gr00t_aws.sagemaker_jobs import describe_job
from gr00t_aws.task_tokens import TaskTokenStore, TokenRecord
from launcher.orchestration.completion import (
    Action,
    CompletionResult,
    OrphanPolicy,
    handle_job_event,
    on_job_state_change,
)

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

_log = logging.getLogger(__name__)


class ScheduledEvent(EventBridgeModel):
    """What an EventBridge schedule rule delivers: source "aws.events", detail-type "Scheduled Event", the rule's
    ARN in ``resources`` and an empty ``detail`` (EventBridge user guide, "Amazon EventBridge events" example)."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def is_scheduled_event(event: Any) -> bool:
    try:
        parse(event=event, model=ScheduledEvent)
    except ValidationError:
        return False
    return True


@dataclass
class SweepResult:
    jobs: list[CompletionResult] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)  # jobs the sweep could not check (tried again next time)

    def count(self, *actions: Action) -> int:
        return sum(1 for job in self.jobs if job.action in actions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": "sweep",
            "checked": len(self.jobs) + len(self.errors),
            "actions": dict(Counter(job.action.value for job in self.jobs)),
            "jobs": [job.as_dict() for job in self.jobs],
            "errors": self.errors,
        }


def _sweep_job(record: TokenRecord, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy) -> CompletionResult:
    description = describe_job(sm, record.job_name)
    if description is None:
        return CompletionResult(Action.UNKNOWN_JOB, record.job_name, "")
    return on_job_state_change(description, store=store, sfn=sfn, sm=sm, policy=policy)


def sweep(*, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy | None = None) -> SweepResult:
    """Check every job a workflow waits for: heartbeat, stop the ones nobody waits for, answer lost events."""
    policy = policy or OrphanPolicy()
    result = SweepResult()
    for record in store.waiting():
        try:
            result.jobs.append(_sweep_job(record, store, sfn, sm, policy))
        except Exception as exc:  # noqa: BLE001 - one job's trouble must not leave the others unchecked
            _log.exception("sweep could not check training job %s", record.job_name)
            result.errors.append({"trainingJobName": record.job_name, "error": f"{type(exc).__name__}: {exc}"})
    return result


def handle_job_events(
    event: Mapping[str, Any], *, store: TaskTokenStore, sfn: SFNClient, sm: SageMakerClient, policy: OrphanPolicy | None = None
) -> CompletionResult | SweepResult:
    """The job-events Lambda's whole job: a schedule tick sweeps, anything else is a SageMaker state change (or
    is ignored, see :func:`launcher.orchestration.completion.handle_job_event`)."""
    if is_scheduled_event(event):
        return sweep(store=store, sfn=sfn, sm=sm, policy=policy)
    return handle_job_event(event, store=store, sfn=sfn, sm=sm, policy=policy or OrphanPolicy())
