"""Every recorded AWS answer (tests/fixtures/aws_errors.json) through botocore into the real adapters and handlers.

moto holds the state; the error each call meets is the one AWS sends, in AWS's words, parsed by botocore.
"""

import boto3
import pytest
from moto import mock_aws

from gr00t_aws.callbacks import CallbackOutcome, send_failure, send_heartbeat, send_success
from gr00t_aws.s3_assets import read_object
from gr00t_aws.sagemaker_jobs import CapacityUnavailable, create_or_adopt, describe_job, is_capacity_failure, stop_job
from gr00t_aws.secrets import read_hf_token
from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from gr00t_core.errors import AssetError, ModelFetchError
from lambda_handler import launch
from launcher.orchestration.limits import validate_training_job_request
from tests import aws_env
from tests.aws_answers import ANSWERS, answer
from tests.aws_env import FakeLambdaContext, aws_world, dataset_meta, lambda_runtime, waiting_task
from tests.requests_util import request_for

REGION = "us-east-1"
TYPES = ["ml.g6e.2xlarge", "ml.g6e.4xlarge"]
# Errors a service may answer besides an operation's modelled ones: each JSON API reference's Common Errors, and
# S3's list of error codes (Amazon S3 API reference, Error responses), which the model leaves out.
COMMON_CODES = {"ValidationException", "ThrottlingException", "AccessDeniedException", "AccessDenied", "NoSuchBucket",
                "InternalError", "SlowDown"}


def test_every_answer_names_its_source_and_is_an_error_the_operation_can_return():
    session = boto3.session.Session()
    for key, recorded in ANSWERS.items():
        assert recorded.source.strip() and recorded.message.strip(), key
        service = key.split(".")[0]
        if not recorded.code:  # a FailureReason text, not an API error
            continue
        assert 400 <= recorded.http_status < 600, key
        model = session._session.get_service_model(service)
        modelled = {shape.name for shape in model.operation_model(recorded.operation).error_shapes}
        assert recorded.code in modelled | COMMON_CODES, f"{key}: {recorded.code} is neither modelled for {recorded.operation} nor common"


def _request(itype, **params):
    return request_for({"instanceTypeFallbacks": TYPES[1:], **params}, instance_type=itype)


@pytest.fixture
def sm():
    with mock_aws():
        yield boto3.client("sagemaker", region_name=REGION)


def test_a_new_job_is_created_when_sagemaker_says_requested_resource_not_found(sm):
    with answer(sm, "sagemaker.describe_training_job.not_found") as answered:
        result = create_or_adopt(sm, _request, TYPES, validate=validate_training_job_request)
    assert answered == ["DescribeTrainingJob"] and not result.adopted
    assert describe_job(sm, result.job_name)["TrainingJobStatus"] == "InProgress"


def test_the_launch_lambda_starts_the_job_on_real_wording():
    # The headline failure of a first deployment: the launch raised before CreateTrainingJob on every new run.
    with aws_world() as world, lambda_runtime(world):
        world.put_asset(dataset_meta(), config={"maxSteps": 10})
        token, _ = waiting_task(world)
        event = world.event()
        event["body"]["TaskToken"] = token
        with answer(world.clients.sagemaker, "sagemaker.describe_training_job.not_found") as answered:
            outcome = launch.handler(event, FakeLambdaContext())
        assert answered and outcome["status"] == "LAUNCHED"
        assert aws_env.job(outcome["trainingJobName"]).training_job_status == "InProgress"


def test_the_next_type_is_tried_after_a_quota_or_region_refusal(sm):
    for key in ("sagemaker.create_training_job.instance_quota", "sagemaker.create_training_job.type_not_in_region"):
        name = f"job-{key.rsplit('.', 1)[1].replace('_', '-')}"
        with answer(sm, key):
            result = create_or_adopt(sm, lambda t, n=name: {**_request(t), "TrainingJobName": n}, TYPES)
        assert result.instance_type == TYPES[1] and [t for t, _ in result.refused] == [TYPES[0]]
        assert ANSWERS[key].message in result.refused[0][1]


def test_every_type_refused_names_them_all_and_the_quota_to_request(sm):
    with answer(sm, "sagemaker.create_training_job.instance_quota", times=len(TYPES)), pytest.raises(CapacityUnavailable) as err:
        create_or_adopt(sm, _request, TYPES)
    assert all(t in str(err.value) for t in TYPES) and "Service Quotas" in str(err.value)


def test_a_warm_pool_refusal_starts_the_same_job_without_a_warm_pool(sm):
    build = lambda t: _request(t, warmPoolKeepAliveSeconds=1800)  # noqa: E731
    assert build(TYPES[0])["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    with answer(sm, "sagemaker.create_training_job.warm_pool_quota"):
        result = create_or_adopt(sm, build, TYPES)
    assert result.instance_type == TYPES[0] and result.refused == []
    assert "KeepAlivePeriodInSeconds" not in describe_job(sm, result.job_name)["ResourceConfig"]
    assert "training warm pool usage" in result.warnings[0] and "warmPoolKeepAliveSeconds" in result.warnings[0]


def test_a_name_in_use_adopts_the_job_that_won_the_race(sm):
    first = create_or_adopt(sm, _request, TYPES)
    with answer(sm, "sagemaker.describe_training_job.not_found"), answer(sm, "sagemaker.create_training_job.name_in_use", job_name=first.job_name):
        again = create_or_adopt(sm, _request, TYPES)
    assert again.adopted and again.job_name == first.job_name


def test_stop_is_quiet_for_a_job_that_already_ended(sm):
    job = create_or_adopt(sm, _request, TYPES)
    with answer(sm, "sagemaker.stop_training_job.already_ended") as answered:
        assert stop_job(sm, job.job_name) is False
    assert answered == ["StopTrainingJob"]
    assert stop_job(sm, "no-such-job") is False  # moto answers DescribeTrainingJob as AWS does


def test_a_capacity_failure_reason_is_recognised():
    reason = ANSWERS["sagemaker.job.capacity_failure_reason"].message
    assert is_capacity_failure({"TrainingJobStatus": "Failed", "FailureReason": reason})
    assert not is_capacity_failure({"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: CUDA out of memory"})


def test_throttling_is_retried_by_botocore_not_failed(sm):
    job = create_or_adopt(sm, _request, TYPES)
    with answer(sm, "sagemaker.throttled", times=2, wire=True) as answered:
        assert describe_job(sm, job.job_name)["TrainingJobName"] == job.job_name
    assert len(answered) == 2


@pytest.mark.parametrize(
    "key,outcome",
    [
        ("stepfunctions.task_timed_out", CallbackOutcome.TIMED_OUT),
        ("stepfunctions.task_does_not_exist", CallbackOutcome.GONE),
        ("stepfunctions.invalid_token", CallbackOutcome.INVALID),
    ],
)
def test_callback_answers(key, outcome):
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        calls = {
            "SendTaskSuccess": lambda: send_success(sfn, "t" * 10, {"a": 1}),
            "SendTaskFailure": lambda: send_failure(sfn, "t" * 10, "E", "c"),
            "SendTaskHeartbeat": lambda: send_heartbeat(sfn, "t" * 10),
        }
        for operation, call in calls.items():
            with answer(sfn, key, operation=operation) as answered:
                assert call() is outcome
            assert answered == [operation]


def test_a_lost_conditional_write_is_a_lost_claim():
    with aws_world() as world:
        store = TaskTokenStore(world.clients.dynamodb, world.settings.token_table)
        store.save("job-a", "token-a", ttl_seconds=3600)
        record = store.get("job-a")
        with answer(world.clients.dynamodb, "dynamodb.conditional_check_failed"):
            assert store.claim(record) is False
        assert store.get("job-a").state is TokenState.WAITING
        assert store.claim(record) is True


def test_s3_answers_for_a_missing_object():
    with aws_world() as world:
        s3, bucket = world.clients.s3, world.bucket
        with answer(s3, "s3.get_object.no_such_key"):
            assert read_object(s3, bucket, "asset/gr00t_config.json") is None
        with answer(s3, "s3.get_object.missing_key_without_list_permission"), pytest.raises(AssetError, match="s3:ListBucket"):
            read_object(s3, bucket, "asset/gr00t_config.json")
        with answer(s3, "s3.get_object.no_such_bucket"), pytest.raises(AssetError, match=f"bucket '{bucket}' does not exist"):
            read_object(s3, bucket, "asset/gr00t_config.json")


@pytest.mark.parametrize(
    "key,says",
    [
        ("secretsmanager.not_found", "does not exist in Secrets Manager or holds no value yet"),
        ("secretsmanager.decryption_failure", "kms:Decrypt"),
        ("secretsmanager.marked_for_deletion", "RestoreSecret"),
        ("secretsmanager.access_denied", "secretsmanager:GetSecretValue"),
    ],
)
def test_secrets_manager_answers_say_what_to_do(key, says):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name="hf-token", SecretString="hf_secretvalue123")
        with answer(client, key), pytest.raises(ModelFetchError) as err:
            read_hf_token(client, "hf-token")
        assert says in str(err.value) and "hf_secretvalue123" not in str(err.value)
        assert read_hf_token(client, "hf-token") == "hf_secretvalue123"
