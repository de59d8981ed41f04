"""The emulator local mode runs on: moto served on loopback, ASL executed, Lambdas run in this process."""

from __future__ import annotations

import json
import os
import socket

import pytest

from local_mode import state_machine as sm
from local_mode.emulator import AwsEmulator, emf_metrics

CALLBACK_ASL = {
    "StartAt": "Launch",
    "States": {
        "Launch": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "${LaunchFunctionArn}", "Payload": {"body.$": "$.body", "TaskToken.$": "$$.Task.Token"}},
            "TimeoutSeconds": 120,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "End": True,
        },
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}


@pytest.fixture
def emulator():
    with AwsEmulator() as emu:
        yield emu


def _run_callback_machine(emu: AwsEmulator, handler, name: str = "run-1") -> tuple[sm.Execution, list]:
    calls: list = []

    def launch(event, context):
        calls.append((event, context))
        return handler(event, context)

    arn = emu.create_lambda("vams-test-launch", launch)
    sfn = emu.client("stepfunctions")
    machine = sm.deploy(sfn, emu.client("iam"), "test", sm.render_definition(json.dumps(CALLBACK_ASL), {"LaunchFunctionArn": arn}))
    execution = sm.start(sfn, machine, name, {"body": {"assetId": "a1"}})
    sm.wait(sfn, execution, lambda e: bool(calls), timeout=60)
    return execution, calls


def test_state_machine_waits_for_the_callback_and_keeps_the_failure_cause(emulator):
    execution, calls = _run_callback_machine(emulator, lambda event, context: {"status": "LAUNCHED"})
    assert execution.status == "RUNNING"  # waitForTaskToken: the Lambda returned, the task waits
    event, context = calls[0]
    assert event["body"] == {"assetId": "a1"}
    assert context.function_name == "vams-test-launch"
    token = execution.scheduled_tasks()[0]["Payload"]["TaskToken"]
    assert token == event["TaskToken"]

    emulator.client("stepfunctions").send_task_failure(taskToken=token, error="Gr00t.TrainingFailed", cause="dataset has no episodes")
    sm.wait(emulator.client("stepfunctions"), execution, lambda e: False, timeout=60)
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Gr00t.TrainingFailed", "dataset has no episodes")
    assert execution.entered_states() == ["Launch", "Failed"]


def test_success_callback_ends_the_execution(emulator):
    execution, calls = _run_callback_machine(emulator, lambda event, context: {"ok": True}, name="run-ok")
    sfn = emulator.client("stepfunctions")
    sfn.send_task_success(taskToken=calls[0][0]["TaskToken"], output=json.dumps({"status": "SUCCEEDED"}))
    sm.wait(sfn, execution, lambda e: False, timeout=60)
    assert execution.status == "SUCCEEDED"


def test_handler_errors_and_output_are_reported_like_lambda():
    # Started here, not in a fixture: pytest swaps sys.stdout between test phases, and the emulator's output
    # routing must wrap the stream the handler will really print to.
    with AwsEmulator() as emulator:
        _check_handler_errors_and_output(emulator)


def _check_handler_errors_and_output(emulator):
    def broken(event, context):
        print(json.dumps({"level": "INFO", "message": "starting"}))
        print(json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Gr00tSageMaker", "Dimensions": [["service"]],
                                                                          "Metrics": [{"Name": "JobsLaunched", "Unit": "Count"}]}]},
                          "service": "gr00t-finetune", "JobsLaunched": [1.0]}))
        raise ValueError("bad body")

    emulator.create_lambda("vams-broken", broken)
    response = emulator.client("lambda").invoke(FunctionName="vams-broken", Payload=b'{"body": {}}')
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {"errorType": "ValueError", "errorMessage": "bad body"}
    (invocation,) = emulator.invocations_of("vams-broken")
    assert invocation.error == "ValueError: bad body" and '"starting"' in invocation.output

    logs = emulator.client("logs")
    stream = logs.describe_log_streams(logGroupName="/aws/lambda/vams-broken")["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/lambda/vams-broken", logStreamName=stream)["events"]]
    assert any("starting" in m for m in messages) and any("Traceback" in m for m in messages)
    stats = emulator.client("cloudwatch").list_metrics(Namespace="Gr00tSageMaker")["Metrics"]
    assert [m["MetricName"] for m in stats] == ["JobsLaunched"]


def test_create_training_job_is_recorded_whole_and_its_outcome_written_back(emulator):
    sm_client = emulator.client("sagemaker")
    request = {
        "TrainingJobName": "gr00t-a1-0123456789",
        "HyperParameters": {"maxSteps": "10"},
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "train:loss", "Regex": "'loss': ([0-9.]+)"}]},
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
        "ResourceConfig": {"InstanceType": "ml.g6e.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"PYTHONUNBUFFERED": "1"},
    }
    sm_client.create_training_job(**request)
    recorded = emulator.training_requests["gr00t-a1-0123456789"]
    assert recorded["Environment"] == {"PYTHONUNBUFFERED": "1"}  # moto itself drops it

    emulator.start_training_job("gr00t-a1-0123456789")
    running = sm_client.describe_training_job(TrainingJobName="gr00t-a1-0123456789")
    assert running["TrainingJobStatus"] == "InProgress"
    assert running["AlgorithmSpecification"]["MetricDefinitions"] == request["AlgorithmSpecification"]["MetricDefinitions"]

    emulator.finish_training_job("gr00t-a1-0123456789", "Failed", failure_reason="AlgorithmError: dataset (x): no episodes",
                                 final_metrics={"train:loss": 0.25})
    done = sm_client.describe_training_job(TrainingJobName="gr00t-a1-0123456789")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"] == "AlgorithmError: dataset (x): no episodes"
    assert [(m["MetricName"], m["Value"]) for m in done["FinalMetricDataList"]] == [("train:loss", 0.25)]

    stopped: list[str] = []
    emulator.on_stop_training_job = stopped.append
    with pytest.raises(sm_client.exceptions.ClientError, match="status Failed"):
        sm_client.stop_training_job(TrainingJobName="gr00t-a1-0123456789")
    emulator.start_training_job("gr00t-a1-0123456789")
    sm_client.stop_training_job(TrainingJobName="gr00t-a1-0123456789")
    assert stopped == ["gr00t-a1-0123456789"]
    assert sm_client.describe_training_job(TrainingJobName="gr00t-a1-0123456789")["TrainingJobStatus"] == "Stopping"


def test_s3_upload_download_and_dump(emulator, tmp_path):
    src = tmp_path / "asset"
    (src / "dataset" / "meta").mkdir(parents=True)
    (src / "gr00t_config.json").write_text("{}")
    (src / "dataset" / "meta" / "info.json").write_text('{"fps": 30}')
    emulator.client("s3").create_bucket(Bucket="assets")
    assert emulator.upload_folder(src, "assets", "x1") == 2
    assert emulator.download_prefix("s3://assets/x1/dataset/", tmp_path / "down") == 1
    assert (tmp_path / "down" / "meta" / "info.json").read_text() == '{"fps": 30}'
    assert emulator.dump(tmp_path / "dump") == {"assets": 2}
    assert (tmp_path / "dump" / "assets" / "x1" / "gr00t_config.json").is_file()


def test_stop_releases_the_port_and_restores_process_state():
    before = os.environ.get("MOTO_PORT")
    emu = AwsEmulator().start()
    host, port = emu.endpoint.rsplit(":", 1)[0][len("http://"):], int(emu.endpoint.rsplit(":", 1)[1])
    assert os.environ["MOTO_PORT"] == str(port)
    emu.stop()
    assert os.environ.get("MOTO_PORT") == before
    with socket.socket() as sock:  # nothing listens any more
        assert sock.connect_ex((host, port)) != 0
    from moto.core.config import default_user_config

    assert default_user_config["stepfunctions"]["execute_state_machine"] is False


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", []),
        ('{"message": "plain log"}', []),
        ('{"_aws": {"CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["service"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},'
         ' "service": "s", "M": [1, 2]}',
         [("N", [{"MetricName": "M", "Value": 1.0, "Dimensions": [{"Name": "service", "Value": "s"}], "Unit": "Count"},
                 {"MetricName": "M", "Value": 2.0, "Dimensions": [{"Name": "service", "Value": "s"}], "Unit": "Count"}])]),
    ],
)
def test_emf_lines_become_put_metric_data_calls(line, expected):
    assert emf_metrics(line) == expected
