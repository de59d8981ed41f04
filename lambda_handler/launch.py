"""Launch Lambda: a VAMS pipeline step (``lambda:invoke.waitForTaskToken``) that starts the training job.

Event: ``{"body": {...VAMS fields..., "TaskToken": ...}}`` (see launcher/orchestration/vams.py). The job's end is reported
by :mod:`lambda_handler.job_events`; a user error is reported here with SendTaskFailure.
"""

from __future__ import annotations

from typing import Any

from lambda_handler._runtime import clients, logger, metrics, record_launch, settings, tracer
from launcher.orchestration.service import handle_launch_event


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = handle_launch_event(event, settings, clients())
    record_launch(outcome)
    return outcome
