"""The VAMS event: every accepted shape, every malformed one, and what the launcher derives from it."""

import copy
import json

import pytest

from gr00t_core.errors import EventError
from launcher.orchestration.vams import (
    AssetLocation,
    asset_location,
    find_task_token,
    flatten_asset_metadata,
    parse_vams_event,
    run_origin,
)
from tests.aws_env import ASSET_ROOT, load_event

EVENT = load_event("vams_event.json")


def _with(**changes):
    event = copy.deepcopy(EVENT)
    for key, value in changes.items():
        if value is ...:
            event["body"].pop(key)
        else:
            event["body"][key] = value
    return event


def test_the_vams_event_parses():
    event = parse_vams_event(EVENT)
    assert event.task_token == EVENT["body"]["TaskToken"]
    assert event.body.inputParameters["dataConfig"] == "so100_dualcam"
    assert event.body.inputMetadata["VAMS"]["assetMetadata"]["GROOT_MAX_STEPS"] == "2000"
    assert event.attempt == 1


def test_body_as_json_string_is_the_same_event():
    assert parse_vams_event(load_event("vams_event_body_string.json")) == parse_vams_event(EVENT)


def test_whole_event_as_json_string():
    assert parse_vams_event(json.dumps(EVENT)).body.assetId == EVENT["body"]["assetId"]


@pytest.mark.parametrize("value", ["", "   ", None, "{}", {}])
def test_empty_input_parameters_and_metadata(value):
    event = parse_vams_event(_with(inputParameters=value, inputMetadata=value))
    assert event.body.inputParameters == {} and event.body.inputMetadata == {}


def test_token_beside_the_body_for_this_projects_state_machine():
    event = _with(TaskToken=...)
    event["TaskToken"] = "tok-from-asl"
    assert parse_vams_event(event).task_token == "tok-from-asl"


@pytest.mark.parametrize(
    "event,match",
    [
        (_with(outputS3AssetFilesPath=...), r"body.outputS3AssetFilesPath is required but missing"),
        (_with(inputS3AssetFilePath=...), r"body.inputS3AssetFilePath is required"),
        (_with(assetId=12345), r"body.assetId: input should be a valid string, got int"),
        (_with(inputParameters="{maxSteps: 5}"), r"body.inputParameters: inputParameters is not valid JSON"),
        (_with(inputParameters="[1, 2]"), r"inputParameters must be a JSON object, got list"),
        (_with(inputMetadata=42), r"inputMetadata must be a JSON object or a JSON string, got int"),
        (_with(outputS3AssetFilesPath="bucket/pipelines/x/files/"), r"must be an s3://bucket/key URI"),
        (_with(TaskToken=""), r"body.TaskToken"),
        ({"body": "{not json"}, r"body: body \(a JSON string\) is not valid JSON \(line 1, column 2"),
        ({"body": 7}, r"body"),
        ({"notbody": {}}, r"body is required but missing"),
        ([1, 2], r"must be a JSON object with a 'body', got list"),
        ("{oops", r"not valid JSON"),
        ({**copy.deepcopy(EVENT), "attempt": "2"}, r"attempt"),
    ],
)
def test_malformed_events_list_what_is_wrong(event, match):
    with pytest.raises(EventError, match=match):
        parse_vams_event(event)


def test_every_bad_field_is_reported_together():
    with pytest.raises(EventError, match=r"\(3 problem\(s\)\)"):
        parse_vams_event(_with(assetId=1, databaseId=2, inputParameters="nope"))


@pytest.mark.parametrize(
    "event,token",
    [
        (_with(inputParameters="{broken"), EVENT["body"]["TaskToken"]),
        ({"body": json.dumps({"TaskToken": "t1", "assetId": 5})}, "t1"),
        ({"body": "{broken", "TaskToken": "t2"}, "t2"),
        ({"body": {"TaskToken": 5}}, None),
        ("not json", None),
        (None, None),
    ],
)
def test_token_is_found_even_in_broken_events(event, token):
    assert find_task_token(event) == token


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({}, AssetLocation("vams-asset-bucket", ASSET_ROOT)),
        ({"inputAssetLocationKey": "assets/a1"}, AssetLocation("vams-asset-bucket", "assets/a1/")),
        ({"inputAssetLocationKey": "", "inputS3AssetFilePath": "s3://bkt2/assets/a1/"}, AssetLocation("vams-asset-bucket", "assets/a1/")),
        (
            {"inputAssetLocationKey": "", "bucketAsset": "", "inputS3AssetFilePath": "s3://bkt2/assets/a1/gr00t_config.json"},
            AssetLocation("bkt2", "assets/a1/"),
        ),
    ],
)
def test_asset_location(changes, expected):
    assert asset_location(parse_vams_event(_with(**changes)).body) == expected


def test_run_origin_reads_pipeline_and_execution_from_the_output_path():
    event = parse_vams_event(EVENT)
    origin = run_origin(event, asset_location(event.body))
    assert origin.pipeline_id == "gr00t-sagemaker-finetune"
    assert origin.execution_id == "7c1e0b2a-9d4f-4b61-a8a3-0e6f5d2c9b47"
    assert origin.work_uri == origin.output_files_uri[: -len("files/")] + "sagemaker/"
    assert origin.run_key == (event.body.assetId, "robotics-db", origin.output_files_uri)


def test_attempt_changes_the_run_key_and_missing_asset_id_falls_back_to_the_root():
    event = parse_vams_event({**_with(assetId=""), "attempt": 3})
    origin = run_origin(event, asset_location(event.body))
    assert origin.asset_id == ASSET_ROOT.rstrip("/")
    assert origin.run_key[-1] == "attempt-3"


def test_output_path_outside_the_vams_layout_still_gets_a_sibling_work_prefix():
    event = parse_vams_event(_with(outputS3AssetFilesPath="s3://bkt/custom/out"))
    origin = run_origin(event, asset_location(event.body))
    assert origin.output_files_uri == "s3://bkt/custom/out/"
    assert origin.work_uri == "s3://bkt/custom/out-sagemaker/"
    assert origin.pipeline_id == ""


@pytest.mark.parametrize(
    "metadata,expected",
    [
        ({"VAMS": {"assetMetadata": {"GROOT_MAX_STEPS": "5"}, "fileMetadata": {"GROOT_MAX_STEPS": "7", "x": 1}}}, {"GROOT_MAX_STEPS": "7", "x": 1}),
        ({"VAMS": {"assetMetadata": {"metadata": [{"metadataKey": "GROOT_SEED", "metadataValue": "3"}]}}}, {"GROOT_SEED": "3"}),
        ({"assetMetadata": {"k": "v"}}, {"k": "v"}),
        ({"VAMS": "nonsense"}, {}),
        ({}, {}),
    ],
)
def test_flatten_asset_metadata(metadata, expected):
    assert flatten_asset_metadata(metadata) == expected
