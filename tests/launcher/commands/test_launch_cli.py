"""`gr00t-sm launch`: dry runs with and without settings or credentials, VAMS event files, standalone assets."""

import json
import os

import pytest

from launcher import cli
from launcher.commands import launch as launch_cmd
from launcher.orchestration.settings import DeploymentSettings
from tests import aws_env
from tests.aws_env import EVENTS_DIR, aws_world, dataset_meta, settings_env


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """No credentials, no region, no GR00T_* settings: what a laptop without AWS looks like."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "GR00T_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def world(monkeypatch):
    with aws_world() as w:
        w.put_asset(dataset_meta(), config={"maxSteps": 120})
        for key, value in settings_env(w.settings).items():
            monkeypatch.setenv(key, value)
        yield w


def _run(argv, capsys):
    code = cli.main(["launch", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_without_settings_or_credentials_marks_placeholders(no_aws, capsys):
    code, out, err = _run(["--vams-event", str(EVENTS_DIR / "vams_event.json"), "--dry-run"], capsys)
    assert code == 0, err
    request = json.loads(out)
    assert request["RoleArn"] == "<PLACEHOLDER: set GR00T_ROLE_ARN>"
    assert request["AlgorithmSpecification"]["TrainingImage"] == "<PLACEHOLDER: set GR00T_IMAGE_URI>"
    assert "placeholders stand in for GR00T_IMAGE_URI, GR00T_ROLE_ARN" in err
    assert "gr00t_config.json and the dataset were NOT checked" in err
    # metadata and parameters from the event still apply
    assert request["HyperParameters"]["maxSteps"] == "2000"


def test_dry_run_reads_the_asset_and_sends_nothing(world, capsys):
    event_file = EVENTS_DIR / "vams_event.json"
    code, out, err = _run(["--vams-event", str(event_file), "--dry-run"], capsys)
    assert code == 0, err
    request = json.loads(out)
    assert request["HyperParameters"]["maxSteps"] == "120"  # from the asset's gr00t_config.json
    assert request["RoleArn"] == aws_env.ROLE_ARN
    assert aws_env.all_jobs() == {}


def test_dry_run_with_a_settings_file(world, tmp_path, capsys):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"GR00T_SUBNETS": "subnet-0123456789abcdef0", "GR00T_SECURITY_GROUPS": "sg-0123456789abcdef0"}))
    code, out, err = _run(["--vams-event", str(EVENTS_DIR / "vams_event.json"), "--settings", str(path), "--dry-run"], capsys)
    assert code == 0, err
    assert json.loads(out)["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0"]


def test_standalone_asset_with_run_parameters(world, capsys):
    uri = f"s3://{world.bucket}/{world.root}"
    code, out, err = _run([uri, "--param", "maxSteps=50", "--param", "learningRate=3e-4", "--run-id", "r1", "--dry-run"], capsys)
    assert code == 0, err
    request = json.loads(out)
    hps = request["HyperParameters"]
    # per-run parameters sit just below gr00t_config.json: the file's maxSteps (120) still wins
    assert hps["maxSteps"] == "120" and hps["learningRate"] == "0.0003"
    assert json.loads(hps["gr00tProvenance"])["learningRate"] == "run"
    assert hps["outputS3AssetFilesPath"] == f"s3://{world.bucket}/pipelines/gr00t-standalone/{world.root.rstrip('/')}/output/r1/files/"

def test_standalone_launch_starts_the_job(world, capsys):
    uri = f"s3://{world.bucket}/{world.root}"
    code, out, err = _run([uri, "--run-id", "r2"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert list(aws_env.all_jobs()) == [result["trainingJobName"]] and result["adopted"] is False
    code, out, err = _run([uri, "--run-id", "r2"], capsys)
    assert json.loads(out)["adopted"] is True and len(aws_env.all_jobs()) == 1
    code, out, err = _run([uri, "--run-id", "r2", "--attempt", "2"], capsys)
    assert len(aws_env.all_jobs()) == 2


def test_state_machine_start(world, capsys):
    from tests.aws_env import create_function

    sfn = world.clients.stepfunctions
    create_function(world.clients, "noop")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
    code, out, err = _run([f"s3://{world.bucket}/{world.root}", "--run-id", "r3", "--state-machine", arn], capsys)
    assert code == 0, err
    started = json.loads(out)
    assert started["timeoutSeconds"] == 28800 + 3600
    execution = sfn.describe_execution(executionArn=started["executionArn"])
    execution_input = json.loads(execution["input"])
    assert execution_input["body"]["gr00tRunParameters"] == {} and execution_input["timeoutSeconds"] == 32400
    assert aws_env.all_jobs() == {}


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--dry-run"], "give either --vams-event FILE or an asset URI"),
        (["s3://bkt/a/", "--vams-event", "x.json"], "not both"),
        (["s3://bkt/a/", "--param", "maxSteps", "--dry-run"], "--param 'maxSteps' must look like KEY=VALUE"),
        (["--vams-event", "/no/such/file.json"], "does not exist"),
        (["bucket/asset", "--dry-run"], "the asset URI must be an s3://bucket/key URI"),
    ],
)
def test_bad_arguments_are_user_errors(no_aws, capsys, argv, match):
    code, out, err = _run(argv, capsys)
    assert code == 2 and match in err and "Traceback" not in err


def test_launch_without_settings_says_which(world, monkeypatch, capsys):
    monkeypatch.delenv("GR00T_ROLE_ARN")
    code, out, err = _run([f"s3://{world.bucket}/{world.root}", "--run-id", "r4"], capsys)
    assert code == 2 and "set GR00T_ROLE_ARN" in err and aws_env.all_jobs() == {}


@pytest.mark.parametrize("spot,expected", [(False, 28800 + 3600), (True, 2 * 28800 + 3600)])
def test_task_timeout_covers_runtime_spot_wait_and_start_up(spot, expected):
    from gr00t_core.resolution import resolve

    assert launch_cmd.task_timeout_seconds(resolve(file={"useSpot": spot}).values) == expected


def test_standalone_event_respects_the_output_prefix():
    event = launch_cmd.standalone_event("s3://bkt/assets/a1", settings=DeploymentSettings(output_prefix="s3://out/runs"), run_id="r", params={})
    assert event["body"]["outputS3AssetFilesPath"] == "s3://out/runs/gr00t-standalone/a1/output/r/files/"
    assert event["body"]["inputAssetLocationKey"] == "assets/a1/"
