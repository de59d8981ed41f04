"""Several datasets of one layout in one builtin run (issue 11, section 3): real training on a mixture of two."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from gr00t_core.resolution import resolve
from gr00t_data.prepare import prepare_dataset
from gr00t_data.synthetic import generate_dataset
from sagemaker_entry.builtin import load_policy
from sagemaker_entry.builtin.mixture import merge_statistics, open_datasets
from sagemaker_entry.builtin.settings import read_request
from sagemaker_entry.builtin.train import _Log, _split, main, training_samples
from sagemaker_entry.engines import BUILTIN_MODULE, build_command
from tests.sagemaker_entry.test_engines import PY, REPO, _layout

from .conftest import QUICK, TINY, run_entry, write_request


@pytest.fixture(scope="module")
def second_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same layout as ``dataset_dir``, other recordings: 3 episodes x 30 frames, other ranges (another seed)."""
    root = generate_dataset(tmp_path_factory.mktemp("second") / "dataset", episodes=3, frames_per_episode=30, seed=7)
    prepare_dataset(root, "so100_dualcam")
    return root


def _own_bounds(root: Path) -> tuple[np.ndarray, np.ndarray]:
    source = open_datasets([root], "so100_dualcam", warn=lambda _: None)[0]
    return source.bounds.action_min, source.bounds.action_max


def _entry_argv(request: Path, more: list[Path]) -> list[str]:
    """What the container runs for a builtin job whose datasetPath names several folders (after ``-m MODULE``)."""
    config = resolve(hyperparameters={"engine": "builtin", "datasetPath": "a,b", "instanceType": "local_cpu"}).values
    command = build_command(config, python=PY, layout=_layout(config, ["algo-1"], "algo-1", gpus=0),
                            dataset_dir=Path("/unused"), output_dir=Path("/unused"), base_model_dir=None, resume=False,
                            gr00t_repo=REPO, request_file=request, more_dataset_dirs=more)
    argv = list(command.argv)
    return argv[argv.index(BUILTIN_MODULE) + 1 :]


def test_resolution_accepts_several_datasets_for_the_builtin_engine():
    config = resolve(parameters={"engine": "builtin", "datasetPath": ["recordings/monday", "sim"]})
    assert config.values["datasetPath"] == "recordings/monday,sim"


def test_a_mixture_trains_with_merged_statistics_and_both_datasets_in_its_batches(dataset_dir, second_dataset, tmp_path):
    argv = _entry_argv(tmp_path / "request.json", [second_dataset])
    assert argv[2:] == ["--dataset", str(second_dataset)]
    write_request(tmp_path, dataset_dir, {"maxSteps": 10, "saveSteps": 10, "evalEpisodes": 1})
    assert main(argv) == 0  # the entry as the container calls it, with the argv build_command made
    result = json.loads((tmp_path / "out" / "train_result.json").read_text())
    assert [d["path"] for d in result["datasets"]] == [str(dataset_dir), str(second_dataset)]
    assert [d["frames"] for d in result["datasets"]] == [160, 90]
    assert result["global_step"] == 10 and np.isfinite(result["final_loss"])
    # evalEpisodes=1 holds out the last episode of each dataset
    assert {e["dataset"] for e in result["eval"]["per_episode"]} == {str(dataset_dir), str(second_dataset)}

    # One set of statistics for every dataset, GR00T's merge: min of the minima, max of the maxima.
    (low_a, high_a), (low_b, high_b) = _own_bounds(dataset_dir), _own_bounds(second_dataset)
    assert not np.allclose(low_a, low_b)  # the test means something only if the ranges differ
    policy = load_policy(tmp_path / "out" / "checkpoint-10", device="cpu")
    np.testing.assert_allclose(policy.bounds.action_min, np.minimum(low_a, low_b), rtol=1e-6)
    np.testing.assert_allclose(policy.bounds.action_max, np.maximum(high_a, high_b), rtol=1e-6)

    # The order the run's Trainer drew: every batch of its 10 steps, by dataset of origin.
    request = read_request(tmp_path / "request.json")
    sources = open_datasets([dataset_dir, second_dataset], "so100_dualcam", warn=lambda _: None)
    splits = _split(sources, 1, _Log(0))
    samples, sampler = training_samples(splits, policy.config, TINY["frame_cache_mb"] * 2**20, request.config["seed"])
    order = list(sampler)
    origin = [samples.episode(samples.locate(i)[0]).dataset for i in order]
    batch = QUICK["batchSize"]
    batches = [set(origin[k : k + batch]) for k in range(0, 10 * batch, batch)]
    assert sum(b == {0, 1} for b in batches) >= 8, batches
    # Over an epoch each frame is drawn once: datasets weigh in proportion to their trained frames (120 and 60).
    assert origin.count(1) == 60 and origin.count(0) == 120


@pytest.mark.parametrize("damage", ["width", "camera"])
def test_datasets_of_another_layout_are_refused_naming_the_dataset(dataset_dir, second_dataset, tmp_path, damage):
    other = Path(shutil.copytree(second_dataset, tmp_path / "other"))
    modality_file = other / "meta" / "modality.json"
    modality = json.loads(modality_file.read_text())
    config = {}
    if damage == "width":
        modality["state"]["single_arm"]["end"] -= 1  # 4 joints instead of 5
        expected = r"state\.single_arm \(4 values\)"
    else:
        del modality["video"]["wrist"]
        config = {"dataConfig": "my_robot:Config"}  # every key of modality.json, so the camera lists differ
        expected = r"cameras video\.front differ"
    modality_file.write_text(json.dumps(modality))
    code, _, err = run_entry(write_request(tmp_path, dataset_dir, config, dataset_dirs=[str(dataset_dir), str(other)]))
    assert code == 2
    assert f"dataset {other}:" in err and "do not share one layout" in err
    assert re.search(expected, err), err
    assert not (tmp_path / "out" / "checkpoint-1").exists()


def test_merged_statistics_follow_gr00t_compute_overall_statistics():
    a = {"action": {"arm": {"min": [0.0], "max": [1.0], "mean": [0.5], "std": [0.1], "q01": [0.1], "q99": [0.9]}}}
    b = {"action": {"arm": {"min": [-1.0], "max": [0.5], "mean": [0.0], "std": [0.2], "q01": [-0.9], "q99": [0.4]}}}
    merged = merge_statistics([a, b], [300, 100])["action"]["arm"]
    assert merged["min"] == [-1.0] and merged["max"] == [1.0]
    assert merged["mean"] == pytest.approx([0.375])  # frame-weighted
    # pooled: E[x^2] = 0.75 (0.01 + 0.25) + 0.25 (0.04 + 0) = 0.205; var = 0.205 - 0.375^2
    assert merged["std"] == pytest.approx([np.sqrt(0.205 - 0.375**2)])
    assert merged["q01"] == pytest.approx([0.75 * 0.1 + 0.25 * -0.9]) and merged["q99"] == pytest.approx([0.775])


def test_the_old_single_dataset_dir_key_is_still_read(dataset_dir, tmp_path):
    request = read_request(write_request(tmp_path, dataset_dir))
    assert request.dataset_dirs == (dataset_dir,)
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"dataset_dirs": [str(dataset_dir), "/data/b"], "output_dir": str(tmp_path)}))
    assert read_request(path).dataset_dirs == (dataset_dir, Path("/data/b"))
