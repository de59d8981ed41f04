"""The event local mode sends is the one VAMS sends: the launcher parses it as such."""

from __future__ import annotations

import json

from launcher.orchestration.vams import asset_location, parse_vams_event, run_origin
from local_mode.pipeline import ASSET_BUCKET, PIPELINE_ID, vams_body


def test_local_body_is_a_vams_pipeline_body():
    body = vams_body(asset_id="x1234", asset_name="so101", execution="0f9e8d7c-1111-2222-3333-444455556666",
                     input_parameters={"maxSteps": 10, "tuneLlm": True, "learningRate": 0.0002})
    event = parse_vams_event({"body": json.dumps(body), "TaskToken": "token-1"})  # VAMS may send the body as a string
    assert event.task_token == "token-1"
    assert event.body.inputParameters == {"maxSteps": "10", "tuneLlm": "true", "learningRate": "0.0002"}
    assert event.body.inputMetadata["VAMS"]["assetData"]["assetName"] == "so101"
    location = asset_location(event.body)
    assert (location.bucket, location.root_key) == (ASSET_BUCKET, "x1234/")
    origin = run_origin(event, location)
    assert (origin.asset_id, origin.pipeline_id, origin.execution_id) == ("x1234", PIPELINE_ID, "0f9e8d7c-1111-2222-3333-444455556666")
    assert origin.output_files_uri.endswith("/output/0f9e8d7c-1111-2222-3333-444455556666/files/")
    assert origin.work_uri.endswith("/output/0f9e8d7c-1111-2222-3333-444455556666/sagemaker/")


def test_no_input_parameters_is_an_empty_string_as_vams_sends_it():
    assert vams_body(asset_id="x1", asset_name="a", execution="e" * 36, input_parameters={})["inputParameters"] == ""
