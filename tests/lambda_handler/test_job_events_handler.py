"""lambda_handler.job_events.handler: sample EventBridge events, EMF metrics, and jobs it does not know."""

import json

from gr00t_aws.task_tokens import TaskTokenStore
from lambda_handler.job_events import handler
from tests.aws_env import TOKEN_TABLE, FakeLambdaContext, execution_result, load_event, waiting_task


def _emf(stdout):
    found = {}
    for line in stdout.splitlines():
        if '"_aws"' in line:
            record = json.loads(line)
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = record[metric["Name"]]
                found[metric["Name"]] = value[0] if isinstance(value, list) else value
    return found


def test_completed_event_answers_the_workflow_and_emits_metrics(world, capsys):
    event = load_event("sagemaker_job_completed.json")
    token, arn = waiting_task(world)
    TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE).save(event["detail"]["TrainingJobName"], token, ttl_seconds=600)
    assert handler(event, FakeLambdaContext())["action"] == "callback_sent"
    assert execution_result(world.clients.stepfunctions, arn)["status"] == "SUCCEEDED"
    metrics = _emf(capsys.readouterr().out)
    assert metrics["JobsSucceeded"] == 1.0
    assert metrics["BillableSeconds"] == event["detail"]["BillableTimeInSeconds"]
    assert metrics["TrainingDurationSeconds"] > 0


def test_failed_event_counts_a_failure(world, capsys):
    event = load_event("sagemaker_job_failed.json")
    token, _ = waiting_task(world)
    TaskTokenStore(world.clients.dynamodb, TOKEN_TABLE).save(event["detail"]["TrainingJobName"], token, ttl_seconds=600)
    handler(event, FakeLambdaContext())
    assert _emf(capsys.readouterr().out)["JobsFailed"] == 1.0


def test_jobs_of_others_are_ignored_quietly(world, capsys):
    result = handler(load_event("sagemaker_job_stopped.json"), FakeLambdaContext())
    assert result["action"] == "unknown_job"
    assert "JobsStopped" not in _emf(capsys.readouterr().out)
