"""deploy/vams_pipeline.json against the rules of VAMS's create-pipeline API (``PUT /pipelines``).

The rules are restated from the VAMS source, not imported: awslabs/visual-asset-management-system, release 2.5,
commit de84d4930095845b373745b485409580a408f4aa:
- backend/backend/models/pipelines.py ``CreatePipelineRequestModel`` (field types, ``Field`` bounds, root validator)
- backend/backend/common/validators.py (``id_pattern``, ``file_type_pattern``, ``validate()`` and its validators)
- backend/backend/handlers/pipelines/createPipeline.py (the 2.5 handler: ``parse(body, CreatePipelineRequestModel)``,
  ``build_user_provided_resource``, ``upload_pipeline``)
VAMS 2.5's ``validate()`` returns at the first optional-empty or ``GLOBAL`` value, so with ``databaseId: GLOBAL``
the later field checks never run; each rule is checked on its own here, so the payload is also accepted where they
do run (a database-scoped registration, a later VAMS).
"""

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from gr00t_core.parameters import SEEDED_PARAMETERS, defaults, to_string
from local_mode import pipeline as local_pipeline

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = json.loads((ROOT / "deploy" / "vams_pipeline.json").read_text())

# validators.py: id_pattern = r'^[-_a-zA-Z0-9]{3,63}$' (validate_id: fullmatch); pipelines.py: pipelineId
# Field(..., min_length=4, max_length=64, pattern=id_pattern).
ID_PATTERN = re.compile(r"^[-_a-zA-Z0-9]{3,63}$")
# validators.py: file_type_pattern = '^[\\.]([a-zA-Z0-9]){1,7}$' (validator 'FILE_EXTENSION').
FILE_TYPE_PATTERN = re.compile(r"^[\.]([a-zA-Z0-9]){1,7}$")
# pipelines.py: MAX_TASK_TIMEOUT_SECONDS = 604800  # 1 week
MAX_TASK_TIMEOUT_SECONDS = 604800
# pipelines.py Literal types.
PIPELINE_TYPES = ("standardFile", "previewFile")
EXECUTION_TYPES = ("Lambda", "SQS", "EventBridge")
WAIT_FOR_CALLBACK = ("Enabled", "Disabled")
# Later VAMS (same file at commit 0bbfe470d22b76a795652be31e9e76beec4ccb34): _LAMBDA_FUNCTION_NAME_PATTERN, "a bare
# Lambda function name or name:alias/version". 2.5 takes any string; a blank one makes VAMS create a new Lambda
# from its sample code (createPipeline.py build_user_provided_resource -> create_lambda_pipeline).
LAMBDA_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9-_]{1,140}(:[a-zA-Z0-9-_$]{1,128})?$")
# VAMS's own GR00T (AWS Batch) pipeline id, registered by its CDK construct (reference/vams-contract.md).
VAMS_GR00T_PIPELINE_ID = "nvidia-gr00t-finetune-n1-5-3b"


def _positive_seconds(body: dict, name: str) -> tuple[int | None, list[str]]:
    value = body.get(name)
    if value is None or value == "":
        return None, []
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None, [f"{name} must be a positive integer (seconds)"]
    return seconds, [] if seconds > 0 else [f"{name} must be a positive non-zero value (seconds)"]


def create_pipeline_errors(body: dict) -> list[str]:
    """Every rule VAMS 2.5 applies to a create-pipeline body, each checked independently."""
    errors = []
    for name in ("pipelineId", "databaseId", "pipelineType", "pipelineExecutionType", "description", "assetType",
                 "outputType"):
        if not isinstance(body.get(name), str):
            errors.append(f"{name} is a required string")
    if errors:
        return errors
    pipeline_id, database_id, description = body["pipelineId"], body["databaseId"], body["description"]
    if not (4 <= len(pipeline_id) <= 64 and ID_PATTERN.fullmatch(pipeline_id)):
        errors.append("pipelineId: 4-64 characters of [-_a-zA-Z0-9]")
    # 'ID' validator with allowGlobalKeyword: 'GLOBAL' exactly, any other casing of it refused, else an id.
    if database_id.lower().strip() == "global":
        if database_id != "GLOBAL":
            errors.append("databaseId: GLOBAL must be capitalized")
    elif not ID_PATTERN.fullmatch(database_id):
        errors.append("databaseId: 3-63 characters of [-_a-zA-Z0-9] or GLOBAL")
    if pipeline_id.lower().strip() == "global":  # 'ID' without allowGlobalKeyword
        errors.append("pipelineId: GLOBAL is not allowed")
    if not 4 <= len(description) <= 256:
        errors.append("description: 4-256 characters")
    if body["pipelineType"] not in PIPELINE_TYPES:
        errors.append(f"pipelineType: one of {PIPELINE_TYPES}")
    if body["pipelineExecutionType"] not in EXECUTION_TYPES:
        errors.append(f"pipelineExecutionType: one of {EXECUTION_TYPES}")
    if body["pipelineExecutionType"] == "SQS" and not body.get("sqsQueueUrl"):
        errors.append("sqsQueueUrl is required when pipelineExecutionType is 'SQS'")
    if not FILE_TYPE_PATTERN.fullmatch(body["assetType"]):
        errors.append("assetType must match ^[\\.]([a-zA-Z0-9]){1,7}$")
    if body["outputType"] and not FILE_TYPE_PATTERN.fullmatch(body["outputType"]):  # optional: empty passes
        errors.append("outputType must match ^[\\.]([a-zA-Z0-9]){1,7}$")
    if body.get("waitForCallback", "Disabled") not in WAIT_FOR_CALLBACK:
        errors.append(f"waitForCallback: one of {WAIT_FOR_CALLBACK}")
    parameters = body.get("inputParameters")
    if parameters is not None and not isinstance(parameters, str):
        errors.append("inputParameters must be a string")
    elif parameters:
        try:
            json.loads(parameters)  # 'STRING_JSON': any JSON text
        except ValueError:
            errors.append("inputParameters must be a valid json string")
    if not isinstance(body.get("updateAssociatedWorkflows", False), bool):
        errors.append("updateAssociatedWorkflows must be a boolean")
    timeout, problems = _positive_seconds(body, "taskTimeout")
    errors += problems
    if timeout is not None and timeout > MAX_TASK_TIMEOUT_SECONDS:
        errors.append(f"taskTimeout cannot exceed {MAX_TASK_TIMEOUT_SECONDS} seconds")
    heartbeat, problems = _positive_seconds(body, "taskHeartbeatTimeout")
    errors += problems
    if timeout is not None and heartbeat is not None and heartbeat >= timeout:
        errors.append("taskHeartbeatTimeout must be smaller than taskTimeout")
    return errors


def test_the_registration_payload_meets_every_create_pipeline_rule():
    assert create_pipeline_errors(PIPELINE) == []
    # One Lambda task that waits for the job's callback (reference/vams-contract.md).
    assert (PIPELINE["pipelineType"], PIPELINE["pipelineExecutionType"], PIPELINE["waitForCallback"]) == (
        "standardFile", "Lambda", "Enabled")


@pytest.mark.parametrize(("change", "message"), [
    ({"outputType": ".checkpoint"}, "outputType"),  # what this project registered before: 10 letters
    ({"assetType": "all"}, "assetType"),
    ({"pipelineId": "abc"}, "pipelineId"),
    ({"pipelineId": "gr00t finetune"}, "pipelineId"),
    ({"pipelineId": "x" * 65}, "pipelineId"),
    ({"pipelineId": "global"}, "GLOBAL is not allowed"),
    ({"databaseId": "Global"}, "capitalized"),
    ({"description": "x" * 257}, "description"),
    ({"description": "abc"}, "description"),
    ({"pipelineType": "standard"}, "pipelineType"),
    ({"waitForCallback": "true"}, "waitForCallback"),
    ({"inputParameters": "{maxSteps: 10}"}, "inputParameters"),
    ({"inputParameters": {"maxSteps": "10"}}, "inputParameters"),
    ({"taskTimeout": "9h"}, "taskTimeout"),
    ({"taskTimeout": str(MAX_TASK_TIMEOUT_SECONDS + 1)}, "taskTimeout"),
    ({"taskHeartbeatTimeout": "0"}, "taskHeartbeatTimeout"),
    ({"taskHeartbeatTimeout": "40000"}, "smaller than taskTimeout"),
])
def test_the_restated_rules_refuse_what_vams_refuses(change, message):
    errors = create_pipeline_errors({**PIPELINE, **change})
    assert errors and any(message in e for e in errors), errors


def test_the_pipeline_is_our_own_and_cannot_take_over_vams_gr00t_workflows():
    # updateAssociatedWorkflows: VAMS (backend/backend/handlers/workflows/__init__.py update_pipeline_workflows)
    # rewrites every workflow listing this pipelineId, and in its state machine every state whose NAME CONTAINS the
    # id: the function name, timeouts, outputType and inputParameters become this registration's.
    ours = PIPELINE["pipelineId"]
    assert ours not in VAMS_GR00T_PIPELINE_ID and VAMS_GR00T_PIPELINE_ID not in ours
    assert PIPELINE["updateAssociatedWorkflows"] is True  # re-registering updates the workflows built on it


def test_the_launch_lambda_is_named_so_vams_does_not_create_one():
    name = PIPELINE["lambdaName"]
    assert name.strip() == name and LAMBDA_NAME_PATTERN.fullmatch(name)
    template = cfn_yaml.load(str(ROOT / "deploy" / "template.yaml"))
    assert name == template["Parameters"]["LaunchFunctionName"]["Default"]
    assert name.startswith("vams")  # the VAMS docs ask for it (reference/vams-contract.md)
    # The API ignores userProvidedResource (extra='ignore') and builds it from lambdaName; VAMS's CDK import path
    # stores it as given, so both say the same.
    assert PIPELINE["userProvidedResource"] == {"isProvided": True, "resourceId": name}


def test_the_workflow_waits_longer_than_the_job_and_has_no_heartbeat():
    # VAMS 2.5 stores taskHeartbeatTimeout only when it is not blank (createPipeline.py upload_pipeline) and the
    # workflow's Lambda state gets HeartbeatSeconds only then (backend/backend/common/stepfunctions_builder.py
    # TaskStateBuilder._apply_callback_timeout); TimeoutSeconds is int(taskTimeout or 86400). Releases before 2.5
    # stored body.get("taskHeartbeatTimeout", "3600") (createPipeline.py at commit
    # 0617fdb06890bcd1bdb8e1f0842ed157e20ded74): the field is sent, empty, so no release adds a heartbeat that a
    # multi-hour training job would miss.
    assert "taskHeartbeatTimeout" in PIPELINE and PIPELINE["taskHeartbeatTimeout"] == ""
    assert int(PIPELINE["taskTimeout"]) > defaults()["maxRuntimeSeconds"]


def test_registration_input_parameters_are_the_seeded_defaults_as_strings():
    params = json.loads(PIPELINE["inputParameters"])
    assert params == {p.name: to_string(p.default) for p in SEEDED_PARAMETERS}


def test_local_mode_runs_as_the_registered_pipeline():
    assert (local_pipeline.PIPELINE_ID, local_pipeline.OUTPUT_TYPE) == (PIPELINE["pipelineId"], PIPELINE["outputType"])
