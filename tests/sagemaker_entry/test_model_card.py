"""The model card renders for every engine from the template, with Hub-valid front matter and this run's keys."""

from __future__ import annotations

import re

import pytest
import yaml
from huggingface_hub import ModelCard

from gr00t_core.resolution import resolve
from gr00t_data.prepare import prepare_dataset
from gr00t_data.synthetic import generate_dataset
from sagemaker_entry import model_card

INFERENCE = {
    "ok": True, "engine": "x", "checkpoint": "checkpoint-40", "observation_source": "episode 0, frame 0",
    "observation_shapes": {"video.front": [1, 48, 64, 3], "video.wrist": [1, 48, 64, 3], "state.single_arm": [1, 5],
                           "state.gripper": [1, 1], "annotation.human.task_description": "text"},
    "expected_shapes": {"action.single_arm": [16, 5], "action.gripper": [16, 1]},
    "action_shapes": {"action.single_arm": [16, 5], "action.gripper": [16, 1]},
    "calls": 5, "first_call_ms": 812.5, "median_call_ms": 47.25, "error": None, "notes": [],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = generate_dataset(tmp_path_factory.mktemp("card") / "dataset", episodes=2, frames_per_episode=20)
    prepare_dataset(root, "so100_dualcam")
    return root


EVAL = {"mse": 0.5, "baseline_repeat_state_mse": 1.5, "beats_baseline": True, "plot": "eval_open_loop.png"}


def _render(dataset, engine, base, inference=INFERENCE, evaluation=EVAL):
    config = resolve(file={"engine": engine, "baseModelPath": base, "maxSteps": 40}, metadata={"GROOT_BATCH_SIZE": "16"})
    summary = {"status": "completed", "job_name": "gr00t-job-1", "output_folder": "gr00tOutput_X_trainingjob_1_abc",
               "instance": {"type": "ml.g6e.4xlarge", "hosts": 1, "gpus_per_host": 1, "processes_per_host": 1},
               "phase_seconds": {"dataset": 1.5, "training": 600.25}, "global_step": 40, "final_loss": 0.0412,
               "eval": evaluation, "inference_check": inference}
    return model_card.render(summary, config.values, {k: t.value for k, t in config.provenance.items()},
                             dataset_dir=dataset, checkpoint="checkpoint-40", best_loss=0.03, loss_curve="loss_curve.png")


@pytest.mark.parametrize("engine, base, generation, license_name", [
    ("builtin", "nvidia/GR00T-N1.5-3B", None, None),
    ("isaac-gr00t", "nvidia/GR00T-N1.5-3B", "1.5", "nvidia-oneway-noncommercial-license"),
    ("isaac-gr00t", "nvidia/GR00T-N1.6-3B", "1.6", "nvidia-oneway-noncommercial-license"),
])
def test_card_for_each_engine(dataset, engine, base, generation, license_name):
    text = _render(dataset, engine, base)
    meta = yaml.safe_load(re.match(r"^---\n(.*?)\n---\n", text, re.S).group(1))
    card = ModelCard(text)  # huggingface_hub's own parser of the front matter
    assert card.data.to_dict() == meta
    assert {"robotics", "gr00t", "lerobot"} <= set(meta["tags"]) and meta["pipeline_tag"] == "robotics"
    if engine == "builtin":
        assert meta["license"] == "apache-2.0" and "base_model" not in meta
        assert 'load_policy("checkpoint-40")' in text and "policy.get_action(obs)" in text
    else:
        assert meta["license"] == "other" and meta["license_name"] == license_name and meta["license_link"].startswith("https://")
        assert meta["base_model"] == base
        assert "Gr00tPolicy(" in text and f"GR00T N{generation}" in text
    if generation == "1.5":
        assert 'DATA_CONFIG_MAP["so100_dualcam"]' in text and "scripts/inference_service.py --server" in text
        assert '"video.front": np.zeros((1, 48, 64, 3), np.uint8)' in text
    if generation == "1.6":
        assert "EmbodimentTag.NEW_EMBODIMENT" in text and '"front": np.zeros((1, 1, 48, 64, 3), np.uint8)' in text
        assert '"annotation.human.task_description": [["<task instruction>"]]' in text
    # this run's facts, with provenance tiers
    assert "| `maxSteps` | `40` | gr00t_config.json |" in text
    assert "| `batchSize` | `16` | asset metadata |" in text
    # each engine's own default (gr00t_core/engines.py): the builtin engine trains from random weights
    assert f"| `learningRate` | `{'0.001' if engine == 'builtin' else '0.0001'}` | defaults |" in text
    assert "| `action.single_arm` | 16 x 5 |" in text and "first call 812.5 ms" in text and "47.2 ms" in text
    assert "| `front` | `observation.images.front` |" in text and "h264" in text
    assert "![training loss](loss_curve.png)" in text and "![open-loop evaluation](eval_open_loop.png)" in text
    assert "0.0412" in text and "| Best training loss | 0.03 |" in text


@pytest.mark.parametrize(("evaluation", "label"), [
    (EVAL, "held-out episodes"),  # the builtin engine's result: always held out
    ({"mse": 0.5, "held_out": True, "episodes": [4]}, "held-out episodes"),
    ({"mse": 0.5, "held_out": False, "episodes": [0]}, "training episodes"),  # too few episodes to hold one out
])
def test_the_card_says_which_episodes_were_evaluated(dataset, evaluation, label):
    text = _render(dataset, "isaac-gr00t", "nvidia/GR00T-N1.6-3B", evaluation=evaluation)
    assert f"| Open-loop action MSE ({label}) | 0.5 |" in text


def test_failed_check_is_in_the_card(dataset):
    failed = {**INFERENCE, "ok": False, "action_shapes": {}, "error": "action.gripper has shape (16, 2), expected (16, 1)"}
    text = _render(dataset, "builtin", "nvidia/GR00T-N1.5-3B", failed)
    assert "**Failed**" in text and "action.gripper has shape (16, 2)" in text


def test_card_without_a_check_or_dataset_still_renders():
    config = resolve(file={"engine": "builtin"})
    text = model_card.render({"status": "failed"}, config.values, {}, dataset_dir=None, checkpoint="checkpoint-N")
    assert "Not run" in text and "could not be read" in text
    assert ModelCard(text).data.license == "apache-2.0"
