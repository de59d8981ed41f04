"""The CreateTrainingJob request: content per feature, checked against the service model with Stubber."""

import json

import pytest
from botocore.exceptions import ParamValidationError

from gr00t_core.metrics import metric_definitions
from gr00t_core.resolution import PROVENANCE_HYPERPARAMETER
from gr00t_core.run import RunIdentity
from launcher.orchestration.limits import request_problems
from launcher.orchestration.request import JOB_ENVIRONMENT, instance_types_to_try, tag_value
from tests.aws_env import ASSET_BUCKET, ASSET_ROOT, IMAGE_URI, ROLE_ARN, settings
from tests.requests_util import STARTED, plan, request_for, send_through_stubber

FSX = dict(
    file_system_id="fs-0123456789abcdef0",
    file_system_type="FSxLustre",
    file_system_directory="/fsx1234/gr00t-models",
    subnets=("subnet-0123456789abcdef0", "subnet-0fedcba9876543210"),
    security_groups=("sg-0123456789abcdef0",),
)

ASSET_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

CASES = {
    "defaults": ({}, {}),
    "spot": ({"useSpot": True, "maxRuntimeSeconds": 7200}, {}),
    "warm pool": ({"warmPoolKeepAliveSeconds": 1800}, {}),
    "multi-node, 4 GPUs": ({"instanceType": "ml.g6e.12xlarge", "instanceCount": 2, "numGpus": 4}, {"max_instance_count": 4}),
    "fsx model cache": ({}, FSX),
    "efs model cache": ({}, {**FSX, "file_system_type": "EFS", "file_system_directory": "/gr00t"}),
    "asset bucket with a customer-managed key": ({}, {"asset_kms_key_arn": ASSET_KEY_ARN}),
}


@pytest.mark.parametrize("case", CASES)
def test_every_variant_fits_the_service_model_and_the_limits(case):
    file, overrides = CASES[case]
    request = request_for(file, settings(**overrides))
    send_through_stubber(request)
    assert request_problems(request) == []


def test_stubber_catches_a_wrong_type():
    request = request_for()
    request["ResourceConfig"]["InstanceCount"] = "1"
    with pytest.raises(ParamValidationError):
        send_through_stubber(request)


def test_default_request():
    config, run, s = plan()
    r = request_for()
    assert r["TrainingJobName"] == run.job_name
    assert r["AlgorithmSpecification"]["TrainingImage"] == IMAGE_URI
    assert r["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions()
    assert r["RoleArn"] == ROLE_ARN
    assert r["ResourceConfig"] == {"InstanceType": "ml.g6e.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200}
    assert r["StoppingCondition"] == {"MaxRuntimeInSeconds": 8 * 3600}
    assert r["EnableManagedSpotTraining"] is False
    assert r["OutputDataConfig"]["CompressionType"] == "NONE"
    assert "VpcConfig" not in r
    assert r["Environment"] == JOB_ENVIRONMENT


def test_dataset_channel_is_only_the_dataset_prefix():
    r = request_for({"datasetPath": "recordings/so101"})
    (channel,) = r["InputDataConfig"]
    assert channel["ChannelName"] == "dataset"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{ASSET_BUCKET}/{ASSET_ROOT}recordings/so101/"
    # earlier gr00tOutput_* folders sit beside the dataset at the asset root and are never downloaded
    assert not channel["DataSource"]["S3DataSource"]["S3Uri"].endswith(ASSET_ROOT)


def test_checkpoints_tensorboard_and_output_stay_beside_the_files_folder():
    config, run, s = plan()
    r = request_for()
    files = run.identity.output_files_uri
    work = files[: -len("files/")] + "sagemaker/"
    assert r["CheckpointConfig"] == {"S3Uri": work + "checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    assert r["TensorBoardOutputConfig"] == {"S3OutputPath": work + "tensorboard/", "LocalPath": "/opt/ml/output/tensorboard"}
    assert r["OutputDataConfig"]["S3OutputPath"] == work + "output/"
    for uri in (r["CheckpointConfig"]["S3Uri"], r["OutputDataConfig"]["S3OutputPath"]):
        assert not uri.startswith(files)  # VAMS registers everything under files/ into the asset


def test_hyperparameters_are_the_config_provenance_and_run_identity():
    config, run, s = plan({"maxSteps": 50})
    hps = request_for({"maxSteps": 50})["HyperParameters"]
    assert all(isinstance(v, str) for v in hps.values()) and len(hps) <= 100
    assert {k: hps[k] for k in config.to_strings()} == config.to_strings()
    assert json.loads(hps[PROVENANCE_HYPERPARAMETER]) == {**json.loads(config.provenance_json()), "maxSteps": "file"}
    identity = RunIdentity.from_hyperparameters(hps)
    assert identity == run.identity
    assert identity.output_folder == f"gr00tOutput_N1.5-3B_trainingjob_{STARTED:%Y%m%dT%H%M%S}_{run.job_name.rsplit('-', 1)[1]}"
    assert hps["modelCacheS3Uri"] == "s3://gr00t-model-cache/gr00t-model-cache/"
    assert hps["hfTokenSecretId"] == "gr00t/hf-token"


def test_spot_sets_max_wait_and_never_a_warm_pool():
    r = request_for({"useSpot": True, "maxRuntimeSeconds": 7200})
    assert r["EnableManagedSpotTraining"] is True
    assert r["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert "KeepAlivePeriodInSeconds" not in r["ResourceConfig"]
    assert r["CheckpointConfig"]["S3Uri"].endswith("/sagemaker/checkpoints/")
    explicit = request_for({"useSpot": True, "maxRuntimeSeconds": 7200, "maxWaitSeconds": 9000})
    assert explicit["StoppingCondition"]["MaxWaitTimeInSeconds"] == 9000


def test_warm_pool_keep_alive():
    assert request_for({"warmPoolKeepAliveSeconds": 1800})["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800


def test_file_system_channel_and_vpc():
    r = request_for({}, settings(**FSX))
    cache = r["InputDataConfig"][1]
    assert cache == {
        "ChannelName": "model_cache",
        "DataSource": {
            "FileSystemDataSource": {
                "FileSystemId": "fs-0123456789abcdef0",
                "FileSystemAccessMode": "rw",
                "FileSystemType": "FSxLustre",
                "DirectoryPath": "/fsx1234/gr00t-models",
            }
        },
        "InputMode": "File",
    }
    assert r["VpcConfig"] == {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": list(FSX["subnets"])}


def test_fallback_instance_type_is_recorded():
    r = request_for({"instanceTypeFallbacks": ["ml.g6e.8xlarge"]}, instance_type="ml.g6e.8xlarge")
    assert r["ResourceConfig"]["InstanceType"] == "ml.g6e.8xlarge"
    assert r["HyperParameters"]["instanceType"] == "ml.g6e.8xlarge"
    tags = {t["Key"]: t["Value"] for t in r["Tags"]}
    assert tags["gr00t:requestedInstanceType"] == "ml.g6e.4xlarge"


def test_tags_identify_asset_pipeline_execution_and_user():
    tags = {t["Key"]: t["Value"] for t in request_for()["Tags"]}
    assert tags["vams:assetId"] == "xd130a6d6-1e26-4e79-9c7b-5b5c2a1f0e11"
    assert tags["vams:databaseId"] == "robotics-db"
    assert tags["vams:pipelineId"] == "gr00t-sagemaker-finetune"
    assert tags["vams:executionId"] == "7c1e0b2a-9d4f-4b61-a8a3-0e6f5d2c9b47"
    assert tags["vams:executingUser"] == "alice@example.com"
    assert tags["gr00t:attempt"] == "1"


def test_tag_values_are_made_acceptable():
    assert tag_value("bob (admin) <b@x.io>") == "bob _admin_ _b@x.io_"
    assert len(tag_value("x" * 400)) == 256


def test_job_name_is_deterministic_and_the_attempt_changes_it():
    _, first, _ = plan()
    _, again, _ = plan()
    assert first.job_name == again.job_name
    config, run, s = plan()
    from launcher.orchestration.request import job_name_for
    from launcher.orchestration.vams import asset_location, parse_vams_event, run_origin
    from tests.aws_env import load_event

    event = {**load_event("vams_event.json"), "attempt": 2}
    parsed = parse_vams_event(event)
    assert job_name_for(run_origin(parsed, asset_location(parsed.body)), s) != first.job_name


def test_instance_types_to_try_keeps_order_without_duplicates():
    config, _, _ = plan({"instanceTypeFallbacks": ["ml.g6e.8xlarge", "ml.g6e.4xlarge", "ml.g6e.8xlarge"]})
    assert instance_types_to_try(config) == ["ml.g6e.4xlarge", "ml.g6e.8xlarge"]


def test_relaunch_request_repeats_the_job_on_another_type():
    from launcher.orchestration.request import relaunch_job_name, relaunch_request

    original = request_for({"instanceTypeFallbacks": ["ml.g6e.8xlarge"]})
    description = {
        **{k: v for k, v in original.items() if k != "Tags"},
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x",
        "TrainingJobStatus": "Failed",
        "FailureReason": "CapacityError: Unable to provision requested ML compute capacity.",
        "ProfilerConfig": {"S3OutputPath": "s3://b/p", "ProfilingIntervalInMilliseconds": 500},  # filled in by SageMaker
        "ResourceConfig": {**original["ResourceConfig"], "InstanceGroups": []},
    }
    name = relaunch_job_name(original["TrainingJobName"])
    request = relaunch_request(description, original["Tags"], job_name=name, instance_type="ml.g6e.8xlarge")
    send_through_stubber(request)
    assert request_problems(request) == []
    assert request["TrainingJobName"] == name and name != original["TrainingJobName"]
    assert request["ResourceConfig"] == {**original["ResourceConfig"], "InstanceType": "ml.g6e.8xlarge"}
    assert request["HyperParameters"] == {**original["HyperParameters"], "instanceType": "ml.g6e.8xlarge"}
    assert "ProfilerConfig" not in request
    assert {k: request[k] for k in ("InputDataConfig", "CheckpointConfig", "Environment", "OutputDataConfig")} == {
        k: original[k] for k in ("InputDataConfig", "CheckpointConfig", "Environment", "OutputDataConfig")
    }
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["gr00t:requestedInstanceType"] == "ml.g6e.4xlarge" and tags["vams:assetId"]


@pytest.mark.parametrize("name", ["gr00t-a-0123456789", "g" * 63, "gr00t-" + "x" * 50 + "-abc"])
def test_relaunch_names_are_valid_deterministic_and_new(name):
    from gr00t_core.naming import JOB_NAME_PATTERN
    from launcher.orchestration.request import relaunch_job_name

    new = relaunch_job_name(name)
    assert JOB_NAME_PATTERN.match(new) and new == relaunch_job_name(name) and new != name
    assert new.startswith(name[:5])


def test_output_is_encrypted_with_the_asset_bucket_key_only_when_one_is_configured():
    # Without OutputDataConfig.KmsKeyId SageMaker encrypts its output with the account's aws/s3 key
    # (API reference, OutputDataConfig.KmsKeyId), which a bucket that demands its own key refuses.
    assert "KmsKeyId" not in request_for()["OutputDataConfig"]
    output = request_for(s=settings(asset_kms_key_arn=ASSET_KEY_ARN))["OutputDataConfig"]
    assert output["KmsKeyId"] == ASSET_KEY_ARN and output["S3OutputPath"].endswith("/sagemaker/output/")
