"""The issue's learning criterion, on the synthetic dataset with learnable dynamics (CPU, a few hundred steps)."""

import json

import pytest

from gr00t_data.synthetic import generate_dataset

from .conftest import run_entry, write_request


@pytest.mark.slow
def test_a_few_hundred_steps_halve_the_loss_and_beat_the_repeat_state_baseline(tmp_path):
    # 16 episodes over 4 tasks: the two held-out episodes have tasks seen in training, new start poses.
    dataset = generate_dataset(tmp_path / "dataset", episodes=16, frames_per_episode=50, write_modality=True, write_stats=True)
    config = {"maxSteps": 400, "batchSize": 32, "learningRate": 1e-3, "saveSteps": 400, "evalEpisodes": 2,
              "dataloaderNumWorkers": 1}
    code, _, err = run_entry(write_request(tmp_path, dataset, config))
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "train_result.json").read_text())
    assert result["global_step"] == 400
    assert result["final_loss"] <= 0.5 * result["initial_loss"], (result["initial_loss"], result["final_loss"])
    evaluation = result["eval"]
    assert evaluation["episodes"] == [14, 15]
    assert evaluation["beats_baseline"] is True, evaluation
    assert evaluation["normalized_mse"] < evaluation["normalized_baseline_repeat_state_mse"], evaluation
