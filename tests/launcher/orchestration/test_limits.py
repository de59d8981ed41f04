"""Request validation against SageMaker's real limits (service model + rules the model does not carry)."""

import copy

import pytest

from gr00t_core.errors import ConfigError
from gr00t_core.instances import SAGEMAKER_INSTANCE_TYPES
from launcher.orchestration.limits import _looks_secret, request_problems, validate_training_job_request
from tests.requests_util import request_for

BASE = request_for()


def _changed(mutate):
    request = copy.deepcopy(BASE)
    mutate(request)
    return request


def _set(path, value):
    def mutate(request):
        node = request
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _add_hps(n):
    return lambda r: r["HyperParameters"].update({f"extra{i}": "x" for i in range(n)})


def _fs_without_vpc(r):
    r["InputDataConfig"].append(
        {
            "ChannelName": "model_cache",
            "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-0123456789abcdef0", "FileSystemAccessMode": "rw", "FileSystemType": "FSxLustre", "DirectoryPath": "/models"}},
            "InputMode": "FastFile",
        }
    )


BAD = [
    ("name with underscore", _set(["TrainingJobName"], "gr00t_job"), "TrainingJobName: 'gr00t_job' does not match"),
    ("name too long", _set(["TrainingJobName"], "g" * 64), "TrainingJobName: at most 63 characters"),
    ("too many hyperparameters", _add_hps(80), "HyperParameters: at most 100 entries allowed"),
    ("hyperparameter value too long", _set(["HyperParameters", "dataConfig"], "x" * 2501), r"HyperParameters\['dataConfig'\]: at most 2500"),
    ("hyperparameter not a string", _set(["HyperParameters", "maxSteps"], 6000), r"HyperParameters\['maxSteps'\]: must be a string"),
    ("environment key", _set(["Environment", "1BAD"], "x"), "Environment key '1BAD'"),
    ("environment value too long", _set(["Environment", "X"], "v" * 513), r"Environment\['X'\]: at most 512"),
    ("secret in environment", _set(["Environment", "HF_TOKEN"], "abc"), r"Environment\['HF_TOKEN'\]: looks like a secret"),
    ("token value in a hyperparameter", _set(["HyperParameters", "note"], "hf_" + "a" * 34), "contains a token or access key"),
    ("too many tags", lambda r: r["Tags"].extend({"Key": f"k{i}", "Value": "v"} for i in range(50)), "Tags: at most 50 entries"),
    ("tag value too long", lambda r: r["Tags"].append({"Key": "k", "Value": "v" * 257}), r"Tags\[\d+\].Value: at most 256"),
    ("tag value pattern", lambda r: r["Tags"].append({"Key": "k", "Value": "a<b>"}), "does not match SageMaker's pattern"),
    ("unknown instance type", _set(["ResourceConfig", "InstanceType"], "ml.g6e.5xlarge"), r"'ml.g6e.5xlarge' is not a SageMaker training instance type this project supports; use one of: ml.g6e.xlarge, "),
    ("local instance type", _set(["ResourceConfig", "InstanceType"], "local_cpu"), "'local_cpu' is not a SageMaker training instance type"),
    ("keep-alive too long", _set(["ResourceConfig", "KeepAlivePeriodInSeconds"], 7200), "at most 3600 s"),
    ("keep-alive over the API max", _set(["ResourceConfig", "KeepAlivePeriodInSeconds"], 30000), "must be at most 21600"),
    ("warm pool with spot", lambda r: (r["ResourceConfig"].update(KeepAlivePeriodInSeconds=60), r.update(EnableManagedSpotTraining=True), r["StoppingCondition"].update(MaxWaitTimeInSeconds=60000)), "cannot be combined with managed spot"),
    ("spot without max wait", _set(["EnableManagedSpotTraining"], True), "spot training needs it >= MaxRuntimeInSeconds"),
    ("max wait without spot", _set(["StoppingCondition", "MaxWaitTimeInSeconds"], 90000), "only valid with EnableManagedSpotTraining"),
    ("runtime over 28 days", _set(["StoppingCondition", "MaxRuntimeInSeconds"], 29 * 86400), "at most 28 days"),
    ("file system without vpc", _fs_without_vpc, "needs VpcConfig"),
    ("fsx path without mount name", _fs_without_vpc, "must be /<MountName>/<path>"),
    ("file system in fast file mode", _fs_without_vpc, "support only InputMode File"),
    ("bad role", _set(["RoleArn"], "arn:aws:iam::12:role/x"), "RoleArn"),
    ("unknown field", _set(["HyperParams"], {}), "HyperParams: not a CreateTrainingJob field"),
    ("missing role", lambda r: r.pop("RoleArn"), "RoleArn: required by CreateTrainingJob"),
    ("no channels", _set(["InputDataConfig"], []), "InputDataConfig: needs at least 1 entries"),
    ("bad channel name", _set(["InputDataConfig", 0, "ChannelName"], "data set"), "ChannelName: 'data set' does not match"),
    ("s3 uri", _set(["CheckpointConfig", "S3Uri"], "bucket/checkpoints"), "CheckpointConfig.S3Uri"),
]


@pytest.mark.parametrize("label,mutate,match", BAD, ids=[b[0] for b in BAD])
def test_each_limit_is_enforced(label, mutate, match):
    problems = request_problems(_changed(mutate))
    assert any(__import__("re").search(match, p) for p in problems), problems


def test_a_good_request_passes_and_a_bad_one_raises_with_every_problem():
    validate_training_job_request(BASE)
    bad = _changed(lambda r: (r.update(TrainingJobName="a_b"), r["Environment"].update(HF_TOKEN="x")))
    with pytest.raises(ConfigError, match=r"breaks SageMaker limits \(2 problem\(s\)\)"):
        validate_training_job_request(bad)


def test_placeholders_pass_pattern_checks_for_dry_runs():
    request = _changed(_set(["RoleArn"], "<PLACEHOLDER: set GR00T_ROLE_ARN>"))
    assert request_problems(request) == []


@pytest.mark.parametrize(
    "key,secret",
    [
        ("HF_TOKEN", True), ("hfToken", True), ("AWS_SECRET_ACCESS_KEY", True), ("db-password", True), ("apiKey", True),
        ("TOKENIZERS_PARALLELISM", False), ("hfTokenSecretId", False), ("HF_TOKEN_SECRET_ARN", False), ("maxSteps", False),
    ],
)
def test_secret_looking_keys(key, secret):
    assert _looks_secret(key) is secret


def _service_model_without(instance_types):
    """CreateTrainingJob as an older botocore (an older Lambda runtime) describes it: without these types."""
    import botocore.loaders
    import botocore.model

    spec = copy.deepcopy(botocore.loaders.Loader().load_service_model("sagemaker", "service-2"))
    shape = spec["shapes"]["TrainingInstanceType"]
    shape["enum"] = [t for t in shape["enum"] if t not in instance_types]
    return botocore.model.ServiceModel(spec, service_name="sagemaker").operation_model("CreateTrainingJob")


@pytest.mark.parametrize("instance_type", ["ml.g6e.4xlarge", "ml.g6e.48xlarge", "ml.p5en.48xlarge"])
def test_a_table_type_missing_from_an_older_botocore_still_passes(instance_type):
    old_model = _service_model_without({instance_type})
    assert instance_type not in old_model.input_shape.members["ResourceConfig"].members["InstanceType"].enum
    assert request_problems(_changed(_set(["ResourceConfig", "InstanceType"], instance_type)), old_model) == []


@pytest.mark.parametrize("instance_type", ["ml.m5.xlarge", "ml.g6e.5xlarge", "local"])
def test_a_type_outside_the_table_is_refused_even_when_botocore_knows_it(instance_type):
    problems = request_problems(_changed(_set(["ResourceConfig", "InstanceType"], instance_type)))
    assert problems == [f"ResourceConfig.InstanceType: {instance_type!r} is not a SageMaker training instance type "
                        f"this project supports; use one of: {', '.join(SAGEMAKER_INSTANCE_TYPES)}"]
