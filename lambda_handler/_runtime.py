"""What every handler shares: Powertools Logger / Metrics (EMF) / Tracer, deployment settings and AWS clients.

Clients are created on first use and kept for the container's life; ``use_clients`` swaps them (tests, local
mode). Settings are read from the environment once (:func:`launcher.orchestration.settings.settings_from_environment`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from gr00t_aws.clients import AwsClients
from launcher.orchestration.completion import Action, CompletionResult
from launcher.orchestration.settings import DeploymentSettings, settings_from_environment
from launcher.orchestration.sweep import SweepResult

SERVICE = "gr00t-finetune"
NAMESPACE = "Gr00tSageMaker"  # the dashboard and the failed-jobs alarm read this namespace

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

_clients: AwsClients | None = None


def clients() -> AwsClients:
    global _clients
    if _clients is None:
        _clients = AwsClients()
    return _clients


def use_clients(replacement: AwsClients | None) -> None:
    """Replace the shared clients (None: back to lazily created defaults)."""
    global _clients
    _clients = replacement


def settings() -> DeploymentSettings:
    return settings_from_environment()


def record_launch(outcome: dict[str, Any]) -> None:
    status = outcome.get("status")
    if status == "LAUNCHED":
        metrics.add_metric(name="JobsLaunched", unit=MetricUnit.Count, value=1)
        if outcome.get("refusedInstanceTypes"):
            metrics.add_metric(name="InstanceTypeFallbacks", unit=MetricUnit.Count, value=len(outcome["refusedInstanceTypes"]))
        logger.info("training job launched", extra={k: outcome.get(k) for k in ("trainingJobName", "instanceType", "outputFolderUri", "dataset", "warnings")})
    elif status == "ADOPTED":
        metrics.add_metric(name="LaunchRetriesAdopted", unit=MetricUnit.Count, value=1)
        logger.info("existing training job adopted", extra={k: outcome.get(k) for k in ("trainingJobName", "trainingJobStatus")})
    elif status == "REJECTED":
        metrics.add_metric(name="LaunchesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("launch rejected", extra={"error": outcome.get("error"), "cause": outcome.get("cause"), "callback": outcome.get("callback")})


_STATUS_METRIC = {"Completed": "JobsSucceeded", "Failed": "JobsFailed", "Stopped": "JobsStopped"}


def _record_job_result(result: CompletionResult) -> None:
    """Metrics of what happened to one job, whether a state-change event or the sweep found it."""
    if result.action in (Action.CALLBACK_SENT, Action.TASK_GONE):
        metrics.add_metric(name=_STATUS_METRIC.get(result.job_status, "JobsFailed"), unit=MetricUnit.Count, value=1)
        if result.summary.get("trainingSeconds") is not None:
            metrics.add_metric(name="TrainingDurationSeconds", unit=MetricUnit.Seconds, value=result.summary["trainingSeconds"])
        if result.summary.get("billableSeconds") is not None:
            metrics.add_metric(name="BillableSeconds", unit=MetricUnit.Seconds, value=result.summary["billableSeconds"])
    elif result.action is Action.STOPPED_ORPHAN:
        metrics.add_metric(name="OrphanJobsStopped", unit=MetricUnit.Count, value=1)
    elif result.action is Action.RELAUNCHED:
        metrics.add_metric(name="CapacityRelaunches", unit=MetricUnit.Count, value=1)


def record_completion(result: CompletionResult) -> None:
    metrics.add_metric(name="JobEventsReceived", unit=MetricUnit.Count, value=1)
    _record_job_result(result)
    if result.action is Action.IGNORED and not result.job_name:
        logger.warning("not a SageMaker training job state change: ignored", extra=result.as_dict())
    else:
        logger.info("training job state change", extra=result.as_dict())


# The sweep's ends: a terminal job whose record still waited had lost its state-change event.
_RECOVERED = (Action.CALLBACK_SENT, Action.TASK_GONE, Action.RELAUNCHED)


def record_sweep(result: SweepResult) -> None:
    for name, value in (
        ("JobSweeps", 1),
        ("SweepJobsChecked", len(result.jobs) + len(result.errors)),
        ("SweepHeartbeatsSent", result.count(Action.HEARTBEAT)),
        ("OrphanJobsStopped", result.count(Action.STOPPED_ORPHAN)),
        ("LostJobEventsRecovered", result.count(*_RECOVERED)),
        ("SweepErrors", len(result.errors)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for job in result.jobs:
        if job.action is not Action.STOPPED_ORPHAN:  # counted above, once per sweep
            _record_job_result(job)
    (logger.error if result.errors else logger.info)("job sweep", extra=result.as_dict())


def record_job_events(result: CompletionResult | SweepResult) -> None:
    if isinstance(result, SweepResult):
        record_sweep(result)
    else:
        record_completion(result)


def record_stop(outcome: dict[str, Any]) -> None:
    metrics.add_metric(name="JobStopsRequested", unit=MetricUnit.Count, value=1 if outcome["stopRequested"] else 0)
    logger.info("stop requested" if outcome["stopRequested"] else "nothing to stop", extra=outcome)
