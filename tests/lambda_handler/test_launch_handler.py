"""lambda_handler.launch.handler with the exact VAMS event shape, and every kind of bad input.

Bad input must end the workflow task at once (SendTaskFailure with a reason a VAMS user can act on) and start
nothing. The tokens are real: each test that reports a failure waits on a moto execution and reads its result.
"""

import copy
import json

import pytest
from botocore.stub import ANY, Stubber
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend

from gr00t_aws.clients import AwsClients
from gr00t_core.errors import EventError
from lambda_handler import _runtime
from lambda_handler.launch import handler
from tests import aws_env
from tests.aws_env import FakeLambdaContext, execution_result, lambda_runtime, load_event, waiting_task
from tests.requests_util import offline_client

CTX = FakeLambdaContext()


def _event(world, token, name="vams_event.json", **body_changes):
    event = copy.deepcopy(load_event(name))
    body = json.loads(event["body"]) if isinstance(event["body"], str) else event["body"]
    body.update(body_changes)
    body["TaskToken"] = token
    event["body"] = json.dumps(body) if isinstance(event["body"], str) else body
    return event


def _metrics(stdout):
    names = []
    for line in stdout.splitlines():
        if '"_aws"' in line:
            names += [m["Name"] for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


@pytest.mark.parametrize("sample", ["vams_event.json", "vams_event_body_string.json"])
def test_vams_event_launches_one_job_and_stores_the_token(world, capsys, sample):
    token, _ = waiting_task(world)
    outcome = handler(_event(world, token, sample), CTX)
    assert outcome["status"] == "LAUNCHED"
    name = outcome["trainingJobName"]
    stored = world.clients.dynamodb.get_item(TableName=aws_env.TOKEN_TABLE, Key={"jobName": {"S": name}})["Item"]
    assert stored["taskToken"]["S"] == token and int(stored["expiresAt"]["N"]) > 0
    job = world.clients.sagemaker.describe_training_job(TrainingJobName=name)
    hps = job["HyperParameters"]
    # precedence: gr00t_config.json (300) > asset metadata GROOT_MAX_STEPS (2000) > inputParameters (6000)
    assert hps["maxSteps"] == "300" and hps["saveSteps"] == "1000" and hps["batchSize"] == "32"
    assert json.loads(hps["gr00tProvenance"])["maxSteps"] == "file"
    assert hps["outputS3AssetFilesPath"] == load_event("vams_event.json")["body"]["outputS3AssetFilesPath"]
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{world.bucket}/{world.root}dataset/"
    assert {t["Key"]: t["Value"] for t in world.clients.sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}["vams:executingUser"] == "alice@example.com"
    assert outcome["outputFolderUri"].startswith(hps["outputS3AssetFilesPath"] + "gr00tOutput_N1.5-3B_trainingjob_")
    assert "JobsLaunched" in _metrics(capsys.readouterr().out)


def _bad_inputs():
    too_long = {"VAMS": {"assetMetadata": {"GROOT_MAX_RUNTIME_SECONDS": "200000"}}}
    return [
        ("missing field", {"outputS3AssetFilesPath": ...}, None, "Gr00t.InvalidEvent", "body.outputS3AssetFilesPath is required but missing"),
        ("wrong type", {"assetId": 42}, None, "Gr00t.InvalidEvent", "body.assetId: input should be a valid string, got int"),
        ("unparseable parameters", {"inputParameters": "{maxSteps: 10"}, None, "Gr00t.InvalidEvent", "inputParameters is not valid JSON"),
        ("unparseable metadata", {"inputMetadata": "not json"}, None, "Gr00t.InvalidEvent", "inputMetadata is not valid JSON"),
        ("bad parameter value", {"inputParameters": '{"batchSize": "many"}'}, None, "Gr00t.InvalidConfig", "batchSize = 'many' from pipeline inputParameters: expected an integer"),
        ("disallowed instance type", {"inputParameters": '{"instanceType": "ml.p5.48xlarge"}'}, None, "Gr00t.InvalidConfig", "'ml.p5.48xlarge' is not allowed by this deployment"),
        ("runtime over the cap", {"inputMetadata": json.dumps(too_long)}, None, "Gr00t.InvalidConfig", "maxRuntimeSeconds (from asset metadata key GROOT_MAX_RUNTIME_SECONDS) = 200000 exceeds"),
        ("broken config file", {}, "config:{oops", "Gr00t.InvalidConfig", "gr00t_config.json is not valid JSON (line 1"),
        ("asset with no dataset", {}, "no-dataset", "Gr00t.DatasetNotReady", "nothing found under s3://vams-asset-bucket/"),
        ("dataset in another folder", {"inputParameters": '{"datasetPath": "recordings"}'}, None, "Gr00t.DatasetNotReady", "set datasetPath in gr00t_config.json"),
        ("data config of another robot", {"inputParameters": '{"dataConfig": "so100"}'}, None, "Gr00t.DatasetNotReady", "lacks key(s) video.webcam that data config 'so100' reads"),
    ]


@pytest.mark.parametrize("label,changes,asset,error,reason", _bad_inputs(), ids=[b[0] for b in _bad_inputs()])
def test_bad_input_fails_the_task_with_the_reason_and_launches_nothing(world, caplog, label, changes, asset, error, reason):
    token, arn = waiting_task(world)
    event = _event(world, token)
    for key, value in changes.items():
        if value is ...:
            event["body"].pop(key)
        else:
            event["body"][key] = value
    if asset == "no-dataset":
        for obj in world.clients.s3.list_objects_v2(Bucket=world.bucket, Prefix=f"{world.root}dataset/")["Contents"]:
            world.clients.s3.delete_object(Bucket=world.bucket, Key=obj["Key"])
    elif asset and asset.startswith("config:"):
        world.clients.s3.put_object(Bucket=world.bucket, Key=f"{world.root}gr00t_config.json", Body=asset[7:].encode())
    outcome = handler(event, CTX)
    assert outcome["status"] == "REJECTED" and outcome["error"] == error and outcome["callback"] == "sent"
    done = execution_result(world.clients.stepfunctions, arn)
    assert (done["status"], done["error"]) == ("FAILED", error)
    assert reason in done["cause"], done["cause"]
    assert aws_env.all_jobs() == {}
    logged = [r for r in caplog.records if r.name == "gr00t-finetune"]
    assert [r.getMessage() for r in logged] == ["launch rejected"]  # logged once, as a warning with the reason
    assert logged[0].levelname == "WARNING" and logged[0].exc_info is None and reason in logged[0].cause


def test_dataset_meta_problems_are_listed(world):
    meta = aws_env.dataset_meta()
    info = json.loads(meta["meta/info.json"])
    info["codebase_version"] = "v3.0"
    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{world.root}dataset/meta/info.json", Body=json.dumps(info).encode())
    token, arn = waiting_task(world)
    assert handler(_event(world, token), CTX)["error"] == "Gr00t.DatasetNotReady"
    done = execution_result(world.clients.stepfunctions, arn)
    assert "is not ready for training" in done["cause"] and "v3" in done["cause"]
    assert aws_env.all_jobs() == {}


def test_s3_access_denied_is_reported(world):
    token, arn = waiting_task(world)
    s3 = offline_client("s3")
    stub = Stubber(s3)
    stub.add_client_error("get_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403, expected_params={"Bucket": world.bucket, "Key": ANY})
    clients = AwsClients(s3=s3, sagemaker=world.clients.sagemaker, stepfunctions=world.clients.stepfunctions, dynamodb=world.clients.dynamodb)
    _runtime.use_clients(clients)
    with stub:
        outcome = handler(_event(world, token), CTX)
    assert outcome["error"] == "Gr00t.AssetUnreadable"
    done = execution_result(world.clients.stepfunctions, arn)
    assert f"Access denied reading s3://{world.bucket}/{world.root}gr00t_config.json" in done["cause"]
    assert aws_env.all_jobs() == {}


def test_missing_deployment_settings_are_reported(world):
    token, arn = waiting_task(world)
    world.settings = aws_env.settings(image_uri="")
    with lambda_runtime(world):
        assert handler(_event(world, token), CTX)["error"] == "Gr00t.DeploymentMisconfigured"
    assert "set GR00T_IMAGE_URI" in execution_result(world.clients.stepfunctions, arn)["cause"]


def test_an_event_without_a_token_fails_the_invocation(world):
    event = _event(world, "x")
    del event["body"]["TaskToken"]
    with pytest.raises(EventError, match="no TaskToken: register the pipeline with waitForCallback 'Enabled'"):
        handler(event, CTX)
    assert aws_env.all_jobs() == {}


def test_a_retried_invocation_adopts_the_running_job(world, capsys):
    first, _ = waiting_task(world)
    second, _ = waiting_task(world)
    one = handler(_event(world, first), CTX)
    two = handler(_event(world, second), CTX)
    assert (one["status"], two["status"]) == ("LAUNCHED", "ADOPTED")
    assert one["trainingJobName"] == two["trainingJobName"] and len(aws_env.all_jobs()) == 1
    assert one["outputFolderUri"] == two["outputFolderUri"]
    item = world.clients.dynamodb.get_item(TableName=aws_env.TOKEN_TABLE, Key={"jobName": {"S": one["trainingJobName"]}})["Item"]
    assert item["taskToken"]["S"] == second
    assert "LaunchRetriesAdopted" in _metrics(capsys.readouterr().out)


def test_a_retry_after_the_job_ended_answers_at_once(world):
    first, _ = waiting_task(world)
    name = handler(_event(world, first), CTX)["trainingJobName"]
    aws_env.finish_job(name, "Failed", reason="AlgorithmError: boom")
    second, arn = waiting_task(world)
    outcome = handler(_event(world, second), CTX)
    assert outcome["status"] == "ADOPTED" and outcome["trainingJobStatus"] == "Failed"
    done = execution_result(world.clients.stepfunctions, arn)
    assert (done["status"], done["error"]) == ("FAILED", "Gr00t.TrainingFailed") and "boom" in done["cause"]
    assert len(aws_env.all_jobs()) == 1


def test_capacity_fallback_runs_on_the_next_type_and_records_it(world, monkeypatch, capsys):
    original = SageMakerModelBackend.create_training_job

    def limited(self, training_job_name, *args, **kwargs):
        if kwargs["resource_config"]["InstanceType"] == "ml.g6e.4xlarge":
            raise JsonRESTError("ResourceLimitExceeded", "The account-level service limit 'ml.g6e.4xlarge for training job usage' is 0 Instances")
        return original(self, training_job_name, *args, **kwargs)

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", limited)
    token, _ = waiting_task(world)
    outcome = handler(_event(world, token, inputParameters='{"instanceTypeFallbacks": "ml.g6e.8xlarge,ml.g6e.12xlarge"}'), CTX)
    assert outcome["status"] == "LAUNCHED" and outcome["instanceType"] == "ml.g6e.8xlarge"
    assert outcome["refusedInstanceTypes"][0]["instanceType"] == "ml.g6e.4xlarge"
    job = world.clients.sagemaker.describe_training_job(TrainingJobName=outcome["trainingJobName"])
    assert job["ResourceConfig"]["InstanceType"] == "ml.g6e.8xlarge" and job["HyperParameters"]["instanceType"] == "ml.g6e.8xlarge"
    tags = {t["Key"]: t["Value"] for t in world.clients.sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}
    assert tags["gr00t:requestedInstanceType"] == "ml.g6e.4xlarge"
    assert "InstanceTypeFallbacks" in _metrics(capsys.readouterr().out)


def test_no_capacity_anywhere_fails_the_task(world, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise JsonRESTError("ResourceLimitExceeded", "limit is 0")

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", refuse)
    token, arn = waiting_task(world)
    assert handler(_event(world, token), CTX)["error"] == "Gr00t.NoCapacity"
    assert "Service Quotas" in execution_result(world.clients.stepfunctions, arn)["cause"]


def test_a_retry_after_a_capacity_relaunch_adopts_the_replacement(world):
    from gr00t_aws.sagemaker_jobs import event_from_description
    from lambda_handler.job_events import handler as job_events_handler
    from launcher.orchestration.request import relaunch_job_name

    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{world.root}gr00t_config.json", Body=b'{"instanceTypeFallbacks": "ml.g6e.8xlarge"}')
    first, _ = waiting_task(world)
    name = handler(_event(world, first), CTX)["trainingJobName"]
    failed = aws_env.finish_job(name, "Failed", reason="CapacityError: Unable to provision requested ML compute capacity.")
    assert job_events_handler(event_from_description(failed, region=aws_env.REGION, account=aws_env.ACCOUNT), CTX)["action"] == "relaunched"
    second, arn = waiting_task(world)
    outcome = handler(_event(world, second), CTX)
    assert outcome["status"] == "ADOPTED" and outcome["trainingJobName"] == relaunch_job_name(name)
    assert outcome["instanceType"] == "ml.g6e.8xlarge" and len(aws_env.all_jobs()) == 2
    item = world.clients.dynamodb.get_item(TableName=aws_env.TOKEN_TABLE, Key={"jobName": {"S": relaunch_job_name(name)}})["Item"]
    assert item["taskToken"]["S"] == second and "fallbacks" not in item  # ml.g6e.8xlarge was the last type to try
    assert world.clients.stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"


def test_a_config_file_that_is_not_utf8(world):
    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{world.root}gr00t_config.json", Body='{"maxSteps": 5} é'.encode("latin-1"))
    token, arn = waiting_task(world)
    assert handler(_event(world, token), CTX)["error"] == "Gr00t.InvalidConfig"
    assert "is not UTF-8 text" in execution_result(world.clients.stepfunctions, arn)["cause"]
