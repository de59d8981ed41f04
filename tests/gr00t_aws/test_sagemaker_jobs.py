"""Create-or-adopt with capacity fallback, stop, summaries and EventBridge events (Stubber + moto)."""

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from gr00t_aws.sagemaker_jobs import (
    CapacityUnavailable,
    create_or_adopt,
    event_from_description,
    job_summary,
    stop_job,
    training_seconds,
)
from gr00t_core.errors import ConfigError
from launcher.orchestration.limits import validate_training_job_request
from tests.aws_answers import stubber_error
from tests.aws_env import aws_world, load_event
from tests.requests_util import offline_client, request_for

NAME = request_for()["TrainingJobName"]
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{NAME}"
NOT_FOUND = stubber_error("sagemaker.describe_training_job.not_found")
TYPES = ["ml.g6e.4xlarge", "ml.g6e.8xlarge", "ml.g6e.12xlarge"]


def _build(itype):
    return request_for({"instanceTypeFallbacks": TYPES[1:], "numGpus": 1}, instance_type=itype)


def _stubbed():
    client = offline_client()
    return client, Stubber(client)


def test_first_type_with_room_is_used_and_refusals_are_recorded():
    sm, stub = _stubbed()
    stub.add_client_error("describe_training_job", expected_params={"TrainingJobName": NAME}, **NOT_FOUND)
    stub.add_client_error("create_training_job", expected_params=_build(TYPES[0]), **stubber_error("sagemaker.create_training_job.instance_quota"))
    stub.add_client_error("create_training_job", expected_params=_build(TYPES[1]), **stubber_error("sagemaker.create_training_job.type_not_in_region"))
    stub.add_response("create_training_job", {"TrainingJobArn": ARN}, expected_params=_build(TYPES[2]))
    with stub:
        result = create_or_adopt(sm, _build, TYPES, validate=validate_training_job_request)
    stub.assert_no_pending_responses()
    assert (result.instance_type, result.adopted, result.job_arn) == ("ml.g6e.12xlarge", False, ARN)
    assert [t for t, _ in result.refused] == TYPES[:2]
    assert "service limit" in result.refused[0][1]


def test_every_type_refused_is_a_user_error_with_the_fix():
    sm, stub = _stubbed()
    stub.add_client_error("describe_training_job", **NOT_FOUND)
    for _ in TYPES:
        stub.add_client_error("create_training_job", **stubber_error("sagemaker.create_training_job.instance_quota"))
    with stub, pytest.raises(CapacityUnavailable, match=r"ml.g6e.4xlarge \(ResourceLimitExceeded: The account-level service limit.*Service Quotas"):
        create_or_adopt(sm, _build, TYPES)


def test_other_errors_are_not_retried_on_another_type():
    sm, stub = _stubbed()
    stub.add_client_error("describe_training_job", **NOT_FOUND)
    stub.add_client_error("create_training_job", service_error_code="AccessDeniedException", service_message="not authorized to perform iam:PassRole")
    with stub, pytest.raises(Exception, match="iam:PassRole"):
        create_or_adopt(sm, _build, TYPES)
    stub.assert_no_pending_responses()


def test_an_existing_job_is_adopted_without_creating_anything():
    sm, stub = _stubbed()
    stub.add_response("describe_training_job", {**_description("InProgress")}, expected_params={"TrainingJobName": NAME})
    with stub:
        result = create_or_adopt(sm, _build, TYPES)
    assert result.adopted and result.status == "InProgress" and result.instance_type == "ml.g6e.4xlarge"


def test_resource_in_use_race_adopts_the_winner():
    sm, stub = _stubbed()
    stub.add_client_error("describe_training_job", **NOT_FOUND)
    stub.add_client_error("create_training_job", **stubber_error("sagemaker.create_training_job.name_in_use", job_name=NAME))
    stub.add_response("describe_training_job", _description("InProgress"))
    with stub:
        result = create_or_adopt(sm, _build, TYPES)
    assert result.adopted and result.job_name == NAME


def test_an_invalid_fallback_request_stops_the_launch_before_anything_starts():
    sm, stub = _stubbed()  # no responses queued: any call would fail the test

    def build(itype):
        request = _build(itype)
        if itype == TYPES[2]:
            request["ResourceConfig"]["InstanceType"] = "ml.g6e.5xlarge"
        return request

    with stub, pytest.raises(ConfigError, match="ml.g6e.5xlarge"):
        create_or_adopt(sm, build, TYPES, validate=validate_training_job_request)


def _description(status, **extra):
    request = _build(TYPES[0])
    now = datetime(2025, 6, 3, 14, 0, tzinfo=UTC)
    keep = ("TrainingJobName", "HyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig", "StoppingCondition")
    return {
        **{k: request[k] for k in keep},
        "TrainingJobArn": ARN,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if status == "InProgress" else status,
        "CreationTime": now,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o/model"},
        **extra,
    }


def test_stop_asks_sagemaker_only_for_active_jobs():
    sm, stub = _stubbed()
    stub.add_response("describe_training_job", _description("InProgress"))
    stub.add_response("stop_training_job", {}, expected_params={"TrainingJobName": NAME})
    stub.add_response("describe_training_job", _description("Completed"))
    stub.add_client_error("describe_training_job", **NOT_FOUND)
    stub.add_response("describe_training_job", _description("InProgress"))
    stub.add_client_error("stop_training_job", **stubber_error("sagemaker.stop_training_job.already_ended"))
    with stub:
        assert stop_job(sm, NAME) is True
        assert stop_job(sm, NAME) is False  # already completed
        assert stop_job(sm, NAME) is False  # no such job
        assert stop_job(sm, NAME) is False  # ended between describe and stop
    stub.assert_no_pending_responses()


def test_stop_against_moto_with_the_stop_patch():
    with aws_world() as world:
        sm = world.clients.sagemaker
        sm.create_training_job(**_build(TYPES[0]))
        assert stop_job(sm, NAME) is True
        assert sm.describe_training_job(TrainingJobName=NAME)["TrainingJobStatus"] == "Stopped"
        assert stop_job(sm, NAME) is False


def test_summary_of_the_sample_completed_event():
    detail = load_event("sagemaker_job_completed.json")["detail"]
    summary = job_summary(detail)
    assert summary["status"] == "SUCCEEDED"
    assert summary["trainingJobName"] == detail["TrainingJobName"]
    assert summary["outputFolderUri"].startswith(detail["HyperParameters"]["outputS3AssetFilesPath"] + "gr00tOutput_N1.5-3B_trainingjob_")
    assert summary["finalMetrics"] == {"train:loss": 0.0412, "train:step": 2000.0}
    assert summary["billableSeconds"] == detail["BillableTimeInSeconds"]
    assert summary["trainingSeconds"] == pytest.approx(detail["BillableTimeInSeconds"])
    assert summary["instanceType"] == "ml.g6e.4xlarge"


def test_summary_of_a_job_this_project_did_not_start():
    summary = job_summary({"TrainingJobName": "other", "TrainingJobStatus": "Failed", "FailureReason": "boom"})
    assert summary["outputFolderUri"] == "" and summary["failureReason"] == "boom" and summary["status"] == "FAILED"


@pytest.mark.parametrize(
    "start,end,expected",
    [
        (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 1, tzinfo=UTC), 60.0),
        (1735689600000, 1735689660000, 60.0),
        ("1735689600000", "1735689660500", 60.5),
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:30+00:00", 30.0),
        (None, 5, None),
        ("garbage", 5, None),
    ],
)
def test_training_seconds_accepts_every_time_format(start, end, expected):
    assert training_seconds({"TrainingStartTime": start, "TrainingEndTime": end}) == expected


def test_event_from_description_has_the_eventbridge_shape():
    description = _description("Completed", LastModifiedTime=datetime(2025, 6, 3, 16, 0, tzinfo=UTC), ResponseMetadata={"x": 1})
    event = event_from_description(description, region="us-east-1", account="123456789012")
    assert event["source"] == "aws.sagemaker" and event["detail-type"] == "SageMaker Training Job State Change"
    assert event["resources"] == [ARN] and event["time"] == "2025-06-03T16:00:00Z"
    assert event["detail"]["CreationTime"] == 1748959200000 and "ResponseMetadata" not in event["detail"]
    assert event["detail"]["Tags"] == {}
    assert event == event_from_description(description, region="us-east-1", account="123456789012")  # same id for the same state
