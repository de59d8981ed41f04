"""The state machine definition: statelint clean, JSONPath only, and consistent with the Lambda's error names."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gr00t_aws.callbacks import NON_RETRYABLE_ERRORS

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "stepfunctions" / "gr00t_finetune.asl.json"
ASL = json.loads(ASL_PATH.read_text())
STATELINT = Path(sys.executable).parent / "statelint"


def _lint(path):
    return subprocess.run([str(STATELINT), str(path)], capture_output=True, text=True, timeout=60)


def test_statelint_is_clean():
    result = _lint(ASL_PATH)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_statelint_catches_a_broken_definition(tmp_path):
    broken = json.loads(ASL_PATH.read_text())
    broken["States"]["StopJob"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    result = _lint(path)
    assert result.returncode != 0 and "NoSuchState" in result.stdout


def test_jsonpath_only():
    text = ASL_PATH.read_text()
    assert "JSONata" not in text and "QueryLanguage" not in text and "{%" not in text


@pytest.mark.parametrize("state", ["Launch", "LaunchWithHeartbeat"])
def test_launch_waits_for_the_callback_and_never_retries_user_errors(state):
    s = ASL["States"][state]
    assert s["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert s["Parameters"]["Payload"]["TaskToken.$"] == "$$.Task.Token"
    assert s["TimeoutSecondsPath"] == "$.timeoutSeconds"
    first, second = s["Retry"]
    assert sorted(first["ErrorEquals"]) == sorted(NON_RETRYABLE_ERRORS) and first["MaxAttempts"] == 0
    assert "States.TaskFailed" in second["ErrorEquals"] and second["MaxAttempts"] >= 1
    caught = [c["ErrorEquals"] for c in s["Catch"]]
    assert ["States.Timeout"] in caught and ["States.ALL"] in caught
    assert {c["Next"] for c in s["Catch"]} == {"StopJob"}


def test_the_two_launch_states_differ_only_by_the_heartbeat():
    plain, beating = dict(ASL["States"]["Launch"]), dict(ASL["States"]["LaunchWithHeartbeat"])
    assert beating.pop("HeartbeatSecondsPath") == "$.heartbeatSeconds"
    assert plain == beating


def test_default_timeout_outlasts_the_longest_job_the_default_deployment_allows():
    # A task that times out first gives up on a job still within its MaxRuntime (or a spot job's MaxWait).
    from launcher.commands.launch import TIMEOUT_MARGIN_SECONDS, task_timeout_seconds
    from launcher.orchestration.settings import DEFAULT_MAX_RUNTIME_SECONDS

    params = ASL["States"]["ApplyDefaults"]["Parameters"]["input.$"]
    defaults = json.loads(params.split("States.StringToJson('")[1].split("')")[0])
    longest = {"maxRuntimeSeconds": DEFAULT_MAX_RUNTIME_SECONDS, "useSpot": True, "maxWaitSeconds": 0}  # MaxWait 2 x
    assert defaults == {"timeoutSeconds": task_timeout_seconds(longest), "attempt": 1}
    assert defaults["timeoutSeconds"] == 2 * DEFAULT_MAX_RUNTIME_SECONDS + TIMEOUT_MARGIN_SECONDS
    assert str(defaults["timeoutSeconds"]) in ASL["Comment"] and str(defaults["timeoutSeconds"]) in ASL["States"]["TimedOut"]["Cause"]


def test_every_failure_path_stops_the_job_before_failing():
    states = ASL["States"]
    assert states["StopJob"]["Next"] == "WhyFailed" and states["StopJob"]["Catch"][0]["Next"] == "WhyFailed"
    ends = {c["Next"] for c in states["WhyFailed"]["Choices"]} | {states["WhyFailed"]["Default"]}
    assert {states[n]["Type"] for n in ends} == {"Fail"}
    assert states["TimedOut"]["Error"] == "Gr00t.TimedOut"
