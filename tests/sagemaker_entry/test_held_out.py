"""The GR00T engines' evaluation episodes are held out of training: which ones (tables), and a real dataset through
the dataset phase and the evaluation, with a stand-in interpreter that reads the dataset as Isaac-GR00T's
evaluation scripts do (sagemaker_entry/evaluation.py names the sources)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from gr00t_core.engines import ENGINES_BY_KEY
from gr00t_data.split import listed_episodes
from gr00t_data.stats import compute_stats
from gr00t_data.synthetic import generate_dataset
from sagemaker_entry import evaluation, inputs
from sagemaker_entry.contract import read_training_env
from sagemaker_entry.finish import Finish
from sagemaker_entry.lifecycle import Lifecycle
from sagemaker_entry.plan import plan_run
from sagemaker_entry.reports import TrainerLog
from tests.entry_jobs import make_job, read_only, writable

EPISODES = 5
ENGINE = {"n1.5": {"engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.5-3B"},
          "n1.6": {"engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.6-3B"}}

# What the scripts do with the trajectory ids, per Isaac-GR00T's source: N1.5 eval_policy.py reads id i as
# episode_index i and fails when meta/episodes.jsonl does not list it; open_loop_eval.py reads position i of the
# list and skips ids past its end. The MSE printed is the episode_index read + 0.5, so the result shows which
# episode each trajectory really was.
STAND_IN = """\
import json, pathlib, sys
args = sys.argv[2:]
pathlib.Path(__file__).with_name("argv.json").write_text(json.dumps(args))
root = pathlib.Path(args[args.index("--dataset-path") + 1])
listed = [json.loads(line)["episode_index"] for line in (root / "meta/episodes.jsonl").read_text().splitlines()]
mses = []
if "--trajs" in args:
    for traj in range(int(args[args.index("--trajs") + 1])):
        if traj not in listed:
            sys.exit(f"ValueError: Error finding trajectory index for {traj}")
        mses.append(traj + 0.5)
        print("Running trajectory:", traj)
        print("MSE:", mses[-1])
else:
    for traj in map(int, args[args.index("--traj-ids") + 1:args.index("--action-horizon")]):
        if traj >= len(listed):
            continue
        mses.append(listed[traj] + 0.5)
        print(f"INFO:root:MSE for trajectory {traj}: {mses[-1]}, MAE: 0.1")
print("Average MSE across all trajs:", sum(mses) / len(mses))
"""


@pytest.mark.parametrize(("key", "indices", "wanted", "positions", "why_not"), [
    ("n1.5", [0, 1, 2, 3], 1, [0], None),  # eval_policy.py reaches episodes 0..N-1 only
    ("n1.5", [0, 1, 2, 3], 2, [0, 1], None),
    ("n1.6", [0, 1, 2, 3], 2, [2, 3], None),  # the last ones, as the builtin engine
    ("n1.7", [0, 1, 2, 3], 1, [3], None),
    ("n1.6", [0, 1], 2, [], "has 2 episode(s) and at least one must be trained on"),
    ("n1.5", [0, 1, 2], 3, [], "has 3 episode(s)"),
    ("n1.5", [5, 6, 7], 1, [], "evaluates episodes 0..0, which meta/episodes.jsonl does not list first"),
])
def test_which_episodes_are_held_out(key, indices, wanted, positions, why_not):
    held, reason = evaluation.held_out_positions(indices, wanted, ENGINES_BY_KEY[key])
    assert held == positions
    assert (reason is None) == (why_not is None) and (why_not is None or why_not in reason)


@pytest.mark.parametrize(("key", "indices", "wanted", "held_out", "expected"), [
    ("n1.5", [0, 1], 2, True, {0: 0, 1: 1}),
    ("n1.6", [8, 9], 2, True, {0: 8, 1: 9}),  # positions in the held-out copy -> its episodes
    ("n1.7", [9], 1, True, {0: 9}),
    ("n1.6", [0, 1, 2, 3, 4], 2, False, {3: 3, 4: 4}),
    ("n1.5", [0, 1, 2, 3, 4], 2, False, {0: 0, 1: 1}),
    ("n1.6", [0], 3, False, {0: 0}),
])
def test_trajectory_ids_name_the_dataset_episodes(key, indices, wanted, held_out, expected):
    assert evaluation.trajectory_ids(ENGINES_BY_KEY[key], indices, wanted, held_out=held_out) == expected


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("held_out") / "dataset", episode_lengths=[10, 11, 12, 13, 14],
                            width=32, height=24, write_stats=True)


def _run_phases(tmp_path: Path, pristine: Path, key: str, wanted: int) -> tuple[object, list[str], Path]:
    """The dataset phase and the evaluation of a GR00T run on a read-only copy of the synthetic dataset."""
    channel = Path(shutil.copytree(pristine, tmp_path / "channel"))
    repo = tmp_path / "gr00t"
    repo.mkdir()
    python = repo / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {repo / 'stand_in.py'} \"$@\"\n")
    python.chmod(0o755)
    (repo / "stand_in.py").write_text(STAND_IN)
    job = make_job(tmp_path, channel, endpoint="http://127.0.0.1:9",
                   parameters={**ENGINE[key], "instanceType": "ml.g6e.12xlarge", "evalEpisodes": wanted},
                   extra_env={"GR00T_SM_GR00T_REPO": str(repo), "GR00T_SM_GR00T_PYTHON": str(python)})
    env = read_training_env(job.env)
    plan = plan_run(env, dry_run=True)
    meta = {p.name: p.read_bytes() for p in (channel / "meta").iterdir()}
    listing = read_only(channel)  # as an FSx/EFS channel mounted ro
    env.checkpoint_dir.mkdir(parents=True)  # the training phase makes it
    try:
        warnings = inputs.prepare_datasets(plan)
        Finish(env, plan, Lifecycle(), lambda name: None, TrainerLog(), None)._evaluate()
    finally:
        writable(channel)
    assert read_only(channel) == listing and {p.name: p.read_bytes() for p in (channel / "meta").iterdir()} == meta
    writable(channel)
    return plan, warnings, env.checkpoint_dir


@pytest.mark.parametrize(("key", "wanted", "trained", "held", "trajectory_args"), [
    ("n1.5", 2, [2, 3, 4], [0, 1], ["--trajs", "2"]),
    ("n1.6", 2, [0, 1, 2], [3, 4], ["--traj-ids", "0", "1"]),
    ("n1.6", 1, [0, 1, 2, 3], [4], ["--traj-ids", "0"]),
])
def test_the_evaluation_reads_episodes_the_training_copy_does_not_list(tmp_path, _pristine, key, wanted, trained,
                                                                       held, trajectory_args):
    plan, warnings, outputs = _run_phases(tmp_path, _pristine, key, wanted)
    train_dir, eval_dir = plan.dataset_dir, plan.eval_dataset_dir
    assert not warnings
    assert [e["episode_index"] for e in listed_episodes(train_dir)] == trained
    assert [e["episode_index"] for e in listed_episodes(eval_dir)] == held
    info = json.loads((train_dir / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"]) == (len(trained), sum(10 + i for i in trained))
    assert json.loads((eval_dir / "meta/info.json").read_text())["total_episodes"] == len(held)
    stats = json.loads((train_dir / "meta/stats.json").read_text())
    assert stats == json.loads(json.dumps(compute_stats(train_dir)))  # over the training episodes it lists
    assert json.loads((eval_dir / "meta/stats.json").read_text()) == stats  # the normalisation the model learnt
    assert (eval_dir / "meta/modality.json").read_text() == (train_dir / "meta/modality.json").read_text()

    argv = json.loads((tmp_path / "gr00t" / "argv.json").read_text())
    assert argv[argv.index("--dataset-path") + 1] == str(eval_dir)
    assert argv[argv.index(trajectory_args[0]):][:len(trajectory_args)] == trajectory_args
    result = json.loads((outputs / "train_result.json").read_text())["eval"]
    assert result["held_out"] is True and result["episodes"] == held
    assert {k: v["mse"] for k, v in result["per_episode"].items()} == {str(i): i + 0.5 for i in held}


@pytest.mark.parametrize("key", ["n1.5", "n1.6"])
def test_too_few_episodes_evaluate_on_training_ones_with_a_warning(tmp_path, _pristine, key):
    plan, warnings, outputs = _run_phases(tmp_path, _pristine, key, EPISODES)
    assert [w for w in warnings if w.startswith("evaluation: ")] == [
        f"evaluation: evalEpisodes = {EPISODES} but the dataset has {EPISODES} episode(s) and at least one must be "
        "trained on; the evaluation runs on episodes the model trained on (held_out: false)"]
    assert not plan.eval_dataset_dir.exists()
    assert len(listed_episodes(plan.dataset_dir)) == EPISODES
    argv = json.loads((tmp_path / "gr00t" / "argv.json").read_text())
    assert argv[argv.index("--dataset-path") + 1] == str(plan.dataset_dir)
    result = json.loads((outputs / "train_result.json").read_text())["eval"]
    assert result["held_out"] is False and result["episodes"] == list(range(EPISODES))
