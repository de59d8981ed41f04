"""Job-events Lambda: EventBridge "SageMaker Training Job State Change" -> the waiting workflow's callback."""

from __future__ import annotations

from typing import Any

from gr00t_aws.task_tokens import TaskTokenStore
from lambda_handler._runtime import clients, logger, metrics, record_completion, settings, tracer
from launcher.completion import handle_job_event


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws = clients()
    store = TaskTokenStore(aws.dynamodb, settings().token_table)
    result = handle_job_event(event, store=store, sfn=aws.stepfunctions, sm=aws.sagemaker)
    record_completion(result)
    return result.as_dict()
