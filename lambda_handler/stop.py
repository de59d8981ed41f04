"""Stop Lambda: the standalone state machine's clean-up step after a timeout or failure (stops the job)."""

from __future__ import annotations

from typing import Any

from lambda_handler._runtime import clients, logger, metrics, record_stop, settings, tracer
from launcher.orchestration.service import handle_stop_event


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = handle_stop_event(event, settings(), clients())
    record_stop(outcome)
    return outcome
