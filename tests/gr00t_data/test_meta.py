"""gr00t_data.meta on in-memory meta files (what the launch Lambda reads from S3)."""

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gr00t_core.data_configs import DATA_CONFIGS
from gr00t_data.meta import check_meta


@pytest.fixture
def files(_pristine_dualcam: Path) -> dict[str, bytes]:
    meta = _pristine_dualcam / "meta"
    return {f"meta/{p.name}": p.read_bytes() for p in meta.iterdir()}


def _reader(files: dict[str, bytes]) -> Callable[[str], bytes | None]:
    return files.get


def _info(files: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(files["meta/info.json"])


def _set_info(files: dict[str, bytes], **changes: Any) -> None:
    info = _info(files)
    for key, value in changes.items():
        if value is _DELETE:
            info.pop(key)
        else:
            info[key] = value
    files["meta/info.json"] = json.dumps(info).encode()


_DELETE = object()


def test_a_raw_v21_dataset_is_fine_and_summarised(files: dict[str, bytes]) -> None:
    report = check_meta(_reader(files), "so100_dualcam")
    assert report.errors == [] and report.warnings == []
    assert report.modality_is_template and report.modality == DATA_CONFIGS["so100_dualcam"].modality_json()
    assert report.summary == {
        "version": "v2.1",
        "robot_type": "so100",
        "episodes": 2,
        "frames": 40,
        "fps": 30,
        "tasks": 2,
        "cameras": {"observation.images.front": "h264", "observation.images.wrist": "h264"},
        "state_dim": 6,
        "action_dim": 6,
        "modality": "will be created from so100_dualcam",
    }


def test_the_module_is_pure() -> None:
    code = "import sys, gr00t_data.meta; print(sorted(m for m in ('numpy', 'pyarrow', 'av', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _mutate_v3(files: dict[str, bytes]) -> None:
    _set_info(files, codebase_version="v3.0")


def _mutate_v3_layout(files: dict[str, bytes]) -> None:
    del files["meta/episodes.jsonl"]
    files["meta/tasks.parquet"] = b"PAR1..."


def _append(name: str, text: bytes) -> Callable[[dict[str, bytes]], None]:
    def mutate(files: dict[str, bytes]) -> None:
        files[name] = files[name] + text

    return mutate


def _replace(name: str, value: bytes | None) -> Callable[[dict[str, bytes]], None]:
    def mutate(files: dict[str, bytes]) -> None:
        if value is None:
            files.pop(name, None)
        else:
            files[name] = value

    return mutate


def _info_change(**changes: Any) -> Callable[[dict[str, bytes]], None]:
    return lambda files: _set_info(files, **changes)


def _feature_change(name: str, feature: Any) -> Callable[[dict[str, bytes]], None]:
    def mutate(files: dict[str, bytes]) -> None:
        info = _info(files)
        if feature is _DELETE:
            info["features"].pop(name)
        else:
            info["features"][name] = feature
        files["meta/info.json"] = json.dumps(info).encode()

    return mutate


def _modality(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, bytes]], None]:
    def mutate(files: dict[str, bytes]) -> None:
        modality = DATA_CONFIGS["so100_dualcam"].modality_json()
        edit(modality)
        files["meta/modality.json"] = json.dumps(modality).encode()

    return mutate


BAD = [
    ("no info.json", _replace("meta/info.json", None), "so100_dualcam", r"meta/info.json not found; datasetPath must point"),
    ("info.json malformed", _replace("meta/info.json", b'{"fps": 30,,}'), "so100_dualcam", r"meta/info.json is not valid JSON \(line 1, column 12"),
    ("info.json not UTF-8", _replace("meta/info.json", b"\xff\xfe{"), "so100_dualcam", r"not UTF-8"),
    ("info.json a list", _replace("meta/info.json", b"[1, 2]"), "so100_dualcam", r"must hold a JSON object, found list"),
    ("v3.0 label on v2 files", _mutate_v3, "so100_dualcam", r"says v3.0 but the folder has the LeRobot v2 layout .*'v2.1'"),
    ("v3 layout under a v2 label", _mutate_v3_layout, "so100_dualcam", r"LeRobot v3.0 layout .*set codebase_version to 'v3.0'"),
    ("v1.6", _info_change(codebase_version="v1.6"), "so100_dualcam", r"v1.6 is too old"),
    ("no version", _info_change(codebase_version=_DELETE), "so100_dualcam", r"codebase_version is None"),
    ("fps a string", _info_change(fps="thirty"), "so100_dualcam", r"fps must be a number of frames per second above 0 and at most 1000, got 'thirty'"),
    ("features a list", _info_change(features=[]), "so100_dualcam", r"features must be an object"),
    ("total_frames a string", _info_change(total_frames="40"), "so100_dualcam", r"total_frames must be an integer from 0 to 1000000000, got '40'"),
    ("bad data_path", _info_change(data_path="data/{episode}.parquet"), "so100_dualcam", r"data_path must be a pattern"),
    ("bad chunks_size", _info_change(chunks_size=0), "so100_dualcam", r"chunks_size must be a positive integer"),
    ("no video_path", _info_change(video_path=None), "so100_dualcam", r"video_path is null but data config 'so100_dualcam' needs cameras front, wrist"),
    ("episodes missing", _replace("meta/episodes.jsonl", None), "so100_dualcam", r"meta/episodes.jsonl not found"),
    ("episodes bad line", _append("meta/episodes.jsonl", b'{"episode_index": 2, "length": \n'), "so100_dualcam", r"meta/episodes.jsonl line 3 is not valid JSON"),
    ("episodes wrong type", _append("meta/episodes.jsonl", b'{"episode_index": 2, "length": "20"}\n'), "so100_dualcam", r"entry 3: length must be a positive integer, got '20'"),
    ("episode twice", _append("meta/episodes.jsonl", b'{"episode_index": 1, "length": 20, "tasks": []}\n'), "so100_dualcam", r"episode_index 1 is listed twice"),
    ("no episodes", _replace("meta/episodes.jsonl", b"\n"), "so100_dualcam", r"lists no episode"),
    ("tasks missing", _replace("meta/tasks.jsonl", None), "so100_dualcam", r"meta/tasks.jsonl not found"),
    ("tasks bad line", _append("meta/tasks.jsonl", b"{oops}\n"), "so100_dualcam", r"meta/tasks.jsonl line 3 is not valid JSON"),
    ("tasks wrong shape", _append("meta/tasks.jsonl", b'{"task_index": "2"}\n'), "so100_dualcam", r"tasks.jsonl entry 3 must be"),
    ("modality malformed", _replace("meta/modality.json", b"{"), "so100_dualcam", r"meta/modality.json is not valid JSON"),
    ("modality lacks a key", _modality(lambda m: m["video"].pop("wrist")), "so100_dualcam", r"meta/modality.json lacks key\(s\) video.wrist that data config 'so100_dualcam'"),
    ("modality range too wide", _modality(lambda m: m["state"].update(gripper={"start": 5, "end": 7})), "so100_dualcam", r"state.gripper spans \[5, 7\) but 'observation.state' has 6 values"),
    ("modality range inverted", _modality(lambda m: m["action"].update(gripper={"start": 5, "end": 5})), "so100_dualcam", r"action.gripper has start 5 and end 5"),
    ("modality range not ints", _modality(lambda m: m["action"].update(gripper={"start": "5", "end": 6})), "so100_dualcam", r"action.gripper needs integer 'start' and 'end'"),
    ("modality camera unknown", _modality(lambda m: m["video"].update(front={"original_key": "observation.images.top"})), "so100_dualcam", r"video.front reads 'observation.images.top', which meta/info.json does not list as a video feature \(cameras: observation.images.front, observation.images.wrist\)"),
    ("wrong data config for the recording", lambda f: None, "so100", r"so100 layout that would be written to meta/modality.json: video.webcam reads 'observation.images.webcam', which meta/info.json does not list"),
    ("user modality for another config", _modality(lambda m: None), "so100", r"meta/modality.json lacks key\(s\) video.webcam that data config 'so100'"),
    # A template that covers only part of the column trains on the wrong joints (issue #11): an error.
    ("template narrower than the data", _feature_change("observation.state", {"dtype": "float32", "shape": [8], "names": None}), "so100_dualcam", r"layout covers 6 values of 'observation.state' but meta/info.json says it has 8.*add your own meta/modality.json"),
    ("config without a layout", lambda f: None, "unitree_g1", r"meta/modality.json not found and data config 'unitree_g1' has no published layout.*\"rs_view\": {\"original_key\""),
    ("unknown data config", lambda f: None, "so101", r"unknown data config 'so101'"),
    ("state too narrow for the template", _feature_change("observation.state", {"dtype": "float32", "shape": [5], "names": None}), "so100_dualcam", r"state.gripper spans \[5, 6\) but 'observation.state' has 5 values"),
    ("state feature missing", _feature_change("observation.state", _DELETE), "so100_dualcam", r"state.single_arm reads column 'observation.state', which meta/info.json does not list"),
    ("feature without shape", _feature_change("action", {"dtype": "float32"}), "so100_dualcam", r"feature 'action' must be an object with 'dtype' and a 'shape' list"),
]


@pytest.mark.parametrize("mutate, data_config, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_bad_input_is_an_error_naming_file_and_fix(
    files: dict[str, bytes], mutate: Callable[[dict[str, bytes]], None], data_config: str, match: str
) -> None:
    mutate(files)
    report = check_meta(_reader(files), data_config)
    assert report.errors, "expected an error"
    assert any(re.search(match, e) for e in report.errors), report.errors


def test_every_problem_is_reported_at_once(files: dict[str, bytes]) -> None:
    _set_info(files, fps=0, total_frames="x")
    files["meta/tasks.jsonl"] += b"{bad\n"
    report = check_meta(_reader(files), "so100_dualcam")
    assert len(report.errors) == 3


QUIRKS = [
    ("total_chunks 0", _info_change(total_chunks=0), r"total_chunks is 0"),
    ("split wider than the episodes", _info_change(splits={"train": "0:100"}), r"split train '0:100' reaches past the 2 episodes"),
    ("total_episodes off", _info_change(total_episodes=5), r"total_episodes is 5 but meta/episodes.jsonl lists 2"),
    ("total_frames off", _info_change(total_frames=41), r"total_frames is 41 but the episode lengths add up to 40"),
    ("blank lines", _append("meta/episodes.jsonl", b"\n\n"), r"meta/episodes.jsonl has blank line\(s\) \(3, 4\)"),
    ("task text unknown", _append("meta/episodes.jsonl", b'{"episode_index": 7, "length": 3, "tasks": ["dance"]}\n'), r"names task\(s\) missing from meta/tasks.jsonl: 'dance'"),
    ("newer minor version", _info_change(codebase_version="v2.2"), r"newer than v2.1"),
]


@pytest.mark.parametrize("mutate, match", [q[1:] for q in QUIRKS], ids=[q[0] for q in QUIRKS])
def test_tolerable_quirks_are_warnings(files: dict[str, bytes], mutate: Callable[[dict[str, bytes]], None], match: str) -> None:
    mutate(files)
    report = check_meta(_reader(files), "so100_dualcam")
    assert report.errors == []
    assert any(re.search(match, w) for w in report.warnings), report.warnings


def test_nvidia_demo_style_v20_with_user_modality(files: dict[str, bytes]) -> None:
    # v2.0 (video_info instead of info), no episodes_stats.jsonl, a user's modality.json with explicit keys.
    info = _info(files)
    info["codebase_version"] = "v2.0"
    for key in ("observation.images.front", "observation.images.wrist"):
        info["features"][key]["video_info"] = info["features"][key].pop("info")
    files["meta/info.json"] = json.dumps(info).encode()
    files.pop("meta/episodes_stats.jsonl")
    modality = DATA_CONFIGS["so100_dualcam"].modality_json()
    modality["state"]["single_arm"]["original_key"] = "observation.state"
    files["meta/modality.json"] = json.dumps(modality).encode()
    report = check_meta(_reader(files), "so100_dualcam")
    assert report.errors == []
    assert report.summary["version"] == "v2.0" and report.summary["modality"] == "present"
    assert report.summary["cameras"]["observation.images.wrist"] == "h264"


def test_custom_config_needs_a_modality_file_but_no_known_keys(files: dict[str, bytes]) -> None:
    assert check_meta(_reader(files), "my_pkg.configs:MyConfig").errors[0].startswith("meta/modality.json not found")
    files["meta/modality.json"] = json.dumps(DATA_CONFIGS["so100"].modality_json() | {"video": {}}).encode()
    assert check_meta(_reader(files), "my_pkg.configs:MyConfig").errors == []
