"""Job-events Lambda: SageMaker "Training Job State Change" events -> the waiting workflow's callback, and the
schedule rule's "Scheduled Event" -> the sweep of every job a workflow waits for (launcher/orchestration/sweep.py)."""

from __future__ import annotations

from typing import Any

from gr00t_aws.task_tokens import TaskTokenStore
from lambda_handler._runtime import clients, logger, metrics, record_job_events, settings, tracer
from launcher.orchestration.sweep import handle_job_events


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws = clients()
    store = TaskTokenStore(aws.dynamodb, settings().token_table)
    result = handle_job_events(event, store=store, sfn=aws.stepfunctions, sm=aws.sagemaker)
    record_job_events(result)
    return result.as_dict()
