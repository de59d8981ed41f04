import json

import numpy as np
import pytest

from gr00t_core.errors import DatasetError
from sagemaker_entry.builtin.lerobot import LeRobotDataset
from sagemaker_entry.builtin.normalize import normalize, unnormalize


def test_layout_follows_the_data_config_and_modality_json(dataset_dir):
    ds = LeRobotDataset(dataset_dir, "so100_dualcam")
    assert [c.name for c in ds.layout.cameras] == ["front", "wrist"]
    assert [c.column for c in ds.layout.cameras] == ["observation.images.front", "observation.images.wrist"]
    assert [(p.name, p.dim) for p in ds.layout.state] == [("single_arm", 5), ("gripper", 1)]
    assert ds.layout.language_key == "annotation.human.task_description" and ds.layout.horizon == 16
    ep = ds.load_episode(1)
    assert ep.state.shape == (40, 6) and ep.action.shape == (40, 6) and ep.task.shape == (40,)
    assert ds.task_text(int(ep.task[0])).startswith("Push the blue block")
    # statistics are sliced per part from stats.json, in GR00T's metadata.json shape
    stats = json.loads((dataset_dir / "meta" / "stats.json").read_text())
    assert ds.statistics["state"]["gripper"]["max"] == stats["observation.state"]["max"][5:6]
    assert ds.statistics["action"]["single_arm"]["q99"] == stats["action"]["q99"][0:5]


def test_a_key_missing_from_modality_json_is_named(dataset_copy):
    path = dataset_copy / "meta" / "modality.json"
    modality = json.loads(path.read_text())
    del modality["video"]["wrist"]
    del modality["state"]["gripper"]
    path.write_text(json.dumps(modality))
    with pytest.raises(DatasetError) as info:
        LeRobotDataset(dataset_copy, "so100_dualcam")
    assert "video.wrist" in str(info.value) and "state.gripper" in str(info.value)


def test_lerobot_v3_is_refused_with_a_hint(dataset_copy):
    path = dataset_copy / "meta" / "info.json"
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, "codebase_version": "v3.0"}))
    with pytest.raises(DatasetError, match="converted to v2.1"):
        LeRobotDataset(dataset_copy, "so100_dualcam")


def test_missing_stats_are_computed_in_memory_and_warned_about(dataset_copy, dataset_dir):
    (dataset_copy / "meta" / "stats.json").unlink()
    warnings = []
    ds = LeRobotDataset(dataset_copy, "so100_dualcam", warn=warnings.append)
    assert len(warnings) == 1 and "stats.json is missing" in warnings[0]
    assert not (dataset_copy / "meta" / "stats.json").exists()  # never written into the user's dataset
    np.testing.assert_allclose(ds.bounds.action_max, LeRobotDataset(dataset_dir, "so100_dualcam").bounds.action_max)


def test_held_out_episodes_are_the_last_ones_and_one_is_always_trained_on(dataset_dir):
    ds = LeRobotDataset(dataset_dir, "so100_dualcam")
    assert ds.split(1) == ([0, 1, 2], [3])
    assert ds.split(0) == ([0, 1, 2, 3], [])
    assert ds.split(10) == ([0], [1, 2, 3])


def test_min_max_normalisation_round_trips_and_handles_constant_dimensions():
    low, high = np.array([0.0, -2.0, 5.0]), np.array([10.0, 2.0, 5.0])
    x = np.array([[0.0, -2.0, 5.0], [10.0, 2.0, 5.0], [5.0, 0.0, 5.0]])
    n = normalize(x, low, high)
    np.testing.assert_allclose(n, [[-1, -1, 0], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(unnormalize(n, low, high), x, atol=1e-5)
    assert normalize(np.array([20.0, 0.0, 5.0]), low, high)[0] == 1.0  # clipped
