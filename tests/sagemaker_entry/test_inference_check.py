"""The inference check: a real builtin checkpoint on CPU, and GR00T's path through a child interpreter with
stand-ins of Gr00tPolicy (tests/sagemaker_entry/gr00t_standins.py cites their real signatures)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from gr00t_core import metrics
from gr00t_data.prepare import prepare_dataset
from gr00t_data.synthetic import generate_dataset
from sagemaker_entry import inference_check as ic
from tests.sagemaker_entry.gr00t_standins import write_gr00t_package

CONFIG = {"dataConfig": "so100_dualcam", "embodimentTag": "new_embodiment"}
TINY = {"image_size": 32, "patch_size": 16, "vision_hidden_size": 32, "vision_layers": 1, "hidden_size": 64,
        "layers": 2, "heads": 4, "logging_steps": 2, "frame_cache_mb": 16}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = generate_dataset(tmp_path_factory.mktemp("ic") / "dataset", episodes=2, frames_per_episode=24)
    prepare_dataset(root, "so100_dualcam")
    return root


@pytest.fixture(scope="module")
def builtin_checkpoint(dataset, tmp_path_factory) -> Path:
    from sagemaker_entry.builtin.train import main

    folder = tmp_path_factory.mktemp("train")
    request = {"dataset_dir": str(dataset), "output_dir": str(folder / "out"), "base_model_dir": None,
               "resume_from_checkpoint": None, "engine_options": TINY,
               "config": {"maxSteps": 2, "batchSize": 4, "saveSteps": 2, "learningRate": 1e-3,
                          "dataloaderNumWorkers": 0, "evalEpisodes": 0}}
    (folder / "request.json").write_text(json.dumps(request))
    assert main(["--request", str(folder / "request.json")]) == 0
    return sorted((folder / "out").glob("checkpoint-*"))[-1]


def test_builtin_checkpoint_answers_a_dataset_frame(builtin_checkpoint, dataset, tmp_path):
    result = ic.for_run(engine="builtin", generation=None, checkpoint=builtin_checkpoint, dataset_dir=dataset,
                        config=CONFIG, gr00t_python="", work_dir=tmp_path)
    assert result.ok, result.error
    assert result.action_shapes == {"action.single_arm": [16, 5], "action.gripper": [16, 1]}
    info = json.loads((dataset / "meta" / "info.json").read_text())
    h, w, _ = info["features"]["observation.images.front"]["shape"]
    assert result.observation_shapes["video.front"] == [1, h, w, 3]
    assert result.observation_shapes["state.single_arm"] == [1, 5]
    assert result.calls == ic.CALLS and result.first_call_ms > 0 and result.median_call_ms > 0
    assert "passed" in ic.describe(result)


def test_observation_is_the_recorded_frame(dataset):
    import pyarrow.parquet as pq

    from gr00t_data.video import decode_first_frame

    obs = ic.dataset_observation(dataset, "so100_dualcam")
    state = np.asarray(pq.read_table(dataset / "data/chunk-000/episode_000000.parquet").column("observation.state")[0].as_py())
    assert np.allclose(obs.values["state.single_arm"][0], state[:5]) and np.allclose(obs.values["state.gripper"][0], state[5:])
    frame = decode_first_frame(dataset / "videos/chunk-000/observation.images.wrist/episode_000000.mp4")
    assert np.array_equal(obs.values["video.wrist"][0], frame)
    tasks = [json.loads(line)["task"] for line in (dataset / "meta/tasks.jsonl").read_text().splitlines() if line.strip()]
    assert obs.values["annotation.human.task_description"][0] in tasks


EXPECTED = ic.ExpectedAction({"action.single_arm": 5, "action.gripper": 1})


@pytest.mark.parametrize("action, match", [
    ({"action.single_arm": np.zeros((16, 5))}, r"lacks action\.gripper"),
    ({"action.single_arm": np.zeros((16, 4)), "action.gripper": np.zeros((16, 1))}, r"action\.single_arm has shape \(16, 4\), expected \(16, 5\)"),
    ({"action.single_arm": np.zeros((8, 5)), "action.gripper": np.zeros((16, 1))}, r"action\.single_arm has shape \(8, 5\)"),
    ({"action.single_arm": np.full((16, 5), np.nan), "action.gripper": np.zeros((16, 1))}, r"action\.single_arm holds 80 non-finite"),
    ({"action.single_arm": np.zeros(16), "action.gripper": np.zeros((16, 1))}, r"action\.single_arm has shape \(16,\)"),
    ([1, 2], "returned a list"),
])
def test_wrong_actions_name_the_key_and_shape(action, match):
    with pytest.raises(ic.InferenceCheckError, match=match):
        ic.check_action(action, EXPECTED)


def test_n15_squeezed_gripper_is_accepted_with_a_note():
    shapes, notes = ic.check_action({"action.single_arm": np.zeros((16, 5)), "action.gripper": np.zeros(16)}, EXPECTED)
    assert shapes["action.gripper"] == [16, 1] and "squeezes" in notes[0]


def _gr00t_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dims: dict[str, int]) -> Path:
    """GR00T stand-ins on the child's PYTHONPATH, answering ``dims``; a checkpoint folder they can load."""
    (tmp_path / "dims.json").write_text(json.dumps(dims))
    monkeypatch.setenv("PYTHONPATH", str(write_gr00t_package(tmp_path / "gr00t_src")))
    monkeypatch.setenv("STANDIN_ACTION_DIMS", str(tmp_path / "dims.json"))
    checkpoint = tmp_path / "checkpoint-10"
    (checkpoint / "experiment_cfg").mkdir(parents=True)
    (checkpoint / "experiment_cfg" / "metadata.json").write_text("{}")
    return checkpoint


@pytest.mark.parametrize("generation", ["1.5", "1.6"])
def test_gr00t_path_in_a_child_interpreter(generation, dataset, tmp_path, monkeypatch):
    checkpoint = _gr00t_checkpoint(tmp_path, monkeypatch, {"action.single_arm": 5, "action.gripper": 1})
    result = ic.for_run(engine="isaac-gr00t", generation=generation, checkpoint=checkpoint, dataset_dir=dataset,
                        config=CONFIG, gr00t_python=sys.executable, work_dir=tmp_path / "work")
    assert result.ok, result.error
    assert result.action_shapes == {"action.single_arm": [16, 5], "action.gripper": [16, 1]}
    assert result.calls == ic.CALLS


def test_gr00t_policy_that_returns_the_wrong_width_fails_naming_it(dataset, tmp_path, monkeypatch):
    checkpoint = _gr00t_checkpoint(tmp_path, monkeypatch, {"action.single_arm": 6, "action.gripper": 1})
    result = ic.for_run(engine="isaac-gr00t", generation="1.6", checkpoint=checkpoint, dataset_dir=dataset,
                        config=CONFIG, gr00t_python=sys.executable, work_dir=tmp_path / "work")
    assert not result.ok and "action.single_arm has shape (16, 6), expected (16, 5)" in result.error


def test_a_checkpoint_gr00t_cannot_load_reports_its_error(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(write_gr00t_package(tmp_path / "gr00t_src")))
    result = ic.for_run(engine="isaac-gr00t", generation="1.5", checkpoint=tmp_path / "checkpoint-1", dataset_dir=dataset,
                        config=CONFIG, gr00t_python=sys.executable, work_dir=tmp_path / "work")
    assert not result.ok and "Gr00tPolicy failed" in result.error and "metadata.json" in result.error


def test_metric_line_is_parsed_by_the_metric_definitions():
    assert metrics.extract(metrics.inference_line(True, 41.5, 12.25)) == {
        "inference:ok": 1.0, "inference:first_call_ms": 41.5, "inference:median_call_ms": 12.25}
    assert metrics.extract(metrics.inference_line(False, None, None)) == {"inference:ok": 0.0}
