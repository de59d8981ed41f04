"""The launch Lambda, unchanged, under the workflow VAMS itself generates for a Lambda pipeline with callback.

The state machine below is built the way VAMS's createWorkflow builds it (reference/vams-contract.md): the body
fields are computed with States.Format from the execution input, the token travels as body.TaskToken, and the
task retries on States.ALL (interval shortened here to keep the test quick) before a Catch ends in a Fail state.
"""

import json

import pytest

from gr00t_aws.sagemaker_jobs import event_from_description
from lambda_handler import job_events, launch
from tests import aws_env
from tests.aws_env import ACCOUNT, ASSET_BUCKET, ASSET_ROOT, REGION, execution_result, routed_lambdas, wait_for

PIPELINE = "gr00t-sagemaker-finetune"
JOB = "3f9c2-" + PIPELINE


def _vams_asl(function_arn: str, task_timeout: int) -> dict:
    output = f"s3://{{}}/pipelines/{PIPELINE}/{JOB}/output/{{}}/"
    body = {
        "inputS3AssetFilePath.$": "States.Format('s3://{}/{}', $.bucketAsset, $.inputAssetFileKey)",
        "outputS3AssetFilesPath.$": f"States.Format('{output}files/', $.bucketAsset, $$.Execution.Name)",
        "outputS3AssetPreviewPath.$": f"States.Format('{output}previews/', $.bucketAsset, $$.Execution.Name)",
        "outputS3AssetMetadataPath.$": f"States.Format('{output}metadata/', $.bucketAsset, $$.Execution.Name)",
        "inputOutputS3AssetAuxiliaryFilesPath.$": f"States.Format('s3://{{}}/{{}}/pipelines/{PIPELINE}/', $.bucketAssetAuxiliary, $.inputAssetFileKey)",
        "bucketAssetAuxiliary.$": "$.bucketAssetAuxiliary",
        "bucketAsset.$": "$.bucketAsset",
        "inputAssetFileKey.$": "$.inputAssetFileKey",
        "inputAssetLocationKey.$": "$.inputAssetLocationKey",
        "outputType": ".all",
        "inputMetadata.$": "$.inputMetadata",
        "inputParameters": json.loads((aws_env.EVENTS_DIR.parent.parent / "deploy" / "vams_pipeline.json").read_text())["inputParameters"],
        "executingUserName.$": "$.executingUserName",
        "executingRequestContext.$": "$.executingRequestContext",
        "assetId.$": "$.assetId",
        "databaseId.$": "$.databaseId",
        "TaskToken.$": "$$.Task.Token",
    }
    return {
        "Comment": "VAMS Pipeline Workflow for gr00t-finetune",
        "StartAt": "a1b2c-" + PIPELINE,
        "States": {
            "a1b2c-" + PIPELINE: {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": function_arn, "Payload": {"body": body}},
                "ResultPath": f"$.a1b2c-{PIPELINE}.output",
                "TimeoutSeconds": task_timeout,
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "WorkflowProcessingJobFailed"}],
                "Next": "process-outputs",
            },
            "process-outputs": {"Type": "Pass", "End": True},
            "WorkflowProcessingJobFailed": {"Type": "Fail", "Cause": "WorkflowProcessingJobFailed", "Error": "States.TaskFailed"},
        },
    }


def _vams_input():
    metadata = {"VAMS": {"assetData": {"assetName": "so101"}, "assetMetadata": {"metadata": [{"metadataKey": "GROOT_MAX_STEPS", "metadataValue": "1500"}]}}}
    return {
        "bucketAsset": ASSET_BUCKET,
        "bucketAssetAuxiliary": "vams-asset-auxiliary-bucket",
        "inputAssetLocationKey": ASSET_ROOT,
        "inputAssetFileKey": ASSET_ROOT,
        "databaseId": "robotics-db",
        "assetId": ASSET_ROOT.rstrip("/"),
        "inputMetadata": json.dumps(metadata),
        "workflowDatabaseId": "robotics-db",
        "workflowId": "gr00t-finetune",
        "executingUserName": "alice@example.com",
        "executingRequestContext": {"requestId": "r-1"},
    }


@pytest.fixture
def vams(world):
    with routed_lambdas(world, {"vams-gr00t-finetune-launch": launch.handler}) as calls:
        world.extra["calls"] = calls["vams-gr00t-finetune-launch"]
        yield world


def _start(world, name, task_timeout=32400):
    sfn = world.clients.stepfunctions
    definition = _vams_asl(world.extra["function_arns"]["vams-gr00t-finetune-launch"], task_timeout)
    arn = sfn.create_state_machine(name=f"vams-{name}", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(_vams_input()))["executionArn"]


def test_vams_workflow_runs_the_job_and_continues_with_process_outputs(vams):
    sfn = vams.clients.stepfunctions
    arn = _start(vams, "exec-ok")
    (name,) = wait_for(lambda: list(aws_env.all_jobs()))
    hps = aws_env.job(name).hyper_parameters
    assert hps["outputS3AssetFilesPath"] == f"s3://{ASSET_BUCKET}/pipelines/{PIPELINE}/{JOB}/output/exec-ok/files/"
    assert hps["maxSteps"] == "300"  # gr00t_config.json wins over asset metadata (1500) and inputParameters (6000)
    assert hps["pipelineId"] == PIPELINE
    wait_for(lambda: vams.clients.dynamodb.get_item(TableName=aws_env.TOKEN_TABLE, Key={"jobName": {"S": name}}).get("Item"))
    description = aws_env.finish_job(name, "Completed")
    job_events.handler(event_from_description(description, region=REGION, account=ACCOUNT), aws_env.FakeLambdaContext())
    done = execution_result(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])[f"a1b2c-{PIPELINE}"]["output"]["trainingJobName"] == name


def test_vams_retries_after_a_user_error_start_nothing(vams):
    vams.clients.s3.put_object(Bucket=ASSET_BUCKET, Key=f"{ASSET_ROOT}gr00t_config.json", Body=b'{"loraRank": 0, "tuneProjector": false, "tuneDiffusionModel": false}')
    arn = _start(vams, "exec-bad")
    done = execution_result(vams.clients.stepfunctions, arn, timeout=20)
    assert done["status"] == "FAILED"
    assert len(vams.extra["calls"]) == 3  # VAMS retries States.ALL twice; each attempt answers at once
    assert aws_env.all_jobs() == {}
