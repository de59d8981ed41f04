"""The training entry for real: tiny model, a few dozen steps on the synthetic dataset, seconds each."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from gr00t_core import metrics
from gr00t_data.synthetic import generate_dataset
from gr00t_data.video import read_frames
from sagemaker_entry.builtin import load_policy
from sagemaker_entry.builtin.checkpoint import COMPLETE_MARKER, latest_checkpoint
from sagemaker_entry.builtin.lerobot import LeRobotDataset
from sagemaker_entry.builtin.policy import ObservationError

from .conftest import run_entry, write_request

REPO = Path(__file__).resolve().parents[3]


def _result(output: Path) -> dict:
    return json.loads((output / "train_result.json").read_text())


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def trained(dataset_dir, tmp_path_factory):
    """One 24-step run (checkpoints at 12 and 24) whose outputs several tests read."""
    folder = tmp_path_factory.mktemp("trained")
    config = {"maxSteps": 24, "saveSteps": 12, "tuneLlm": True, "videoBackend": "decord"}
    code, out, err = run_entry(write_request(folder, dataset_dir, config, tensorboard_dir=folder / "tensorboard"))
    assert code == 0, err
    return folder / "out", out, err


def test_training_lowers_the_loss_and_writes_every_output(trained):
    output, _, err = trained
    result = _result(output)
    assert result["global_step"] == 24 and result["interrupted"] is False
    assert result["final_loss"] < result["initial_loss"]
    assert 0 < result["trainable_parameters"] < result["total_parameters"]  # the vision encoder is frozen
    assert result["samples_per_second"] > 0 and result["train_runtime"] > 0
    assert result["ignored_parameters"] == ["baseModelPath", "tuneLlm", "videoBackend"]
    assert err.count("tuneLlm=true is ignored") == 1  # warned once
    assert {"mse", "baseline_repeat_state_mse", "normalized_mse", "per_episode"} <= set(result["eval"])
    assert result["eval"]["episodes"] == [3]  # evalEpisodes=1: the last episode is held out
    for name in ("loss_curve.png", "eval_open_loop.png"):
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for step in (12, 24):
        folder = output / f"checkpoint-{step}"
        for name in ("model.safetensors", "trainer_state.json", "optimizer.pt", "scheduler.pt", "builtin_policy.json",
                     "experiment_cfg/metadata.json", COMPLETE_MARKER):
            assert (folder / name).is_file(), name
    metadata = json.loads((output / "checkpoint-24" / "experiment_cfg" / "metadata.json").read_text())
    entry = metadata["new_embodiment"]
    assert entry["embodiment_tag"] == "new_embodiment"
    assert set(entry["statistics"]["action"]) == {"single_arm", "gripper"}
    assert entry["modalities"]["video"]["front"]["resolution"] == [32, 32]
    assert latest_checkpoint(output) == output / "checkpoint-24"


def test_log_lines_match_the_sagemaker_metric_regexes(trained):
    _, out, _ = trained
    lines = out.splitlines()
    loss_lines = [line for line in lines if line.startswith("{'loss'")]
    step_lines = [line for line in lines if line.startswith("[gr00t-sm] step=")]
    assert len(loss_lines) == len(step_lines) == 13  # step 1 (first step), then every 2 steps
    for line in loss_lines:
        found = metrics.extract(line)
        assert {"train:loss", "train:grad_norm", "train:learning_rate", "train:epoch"} <= set(found), line
        assert metrics.parse_trainer_line(line)["loss"] == found["train:loss"]
    assert [metrics.extract(line)["train:step"] for line in step_lines][-1] == 24
    assert all(metrics.extract(line)["train:samples_per_second"] > 0 for line in step_lines)
    final = [line for line in lines if "'train_loss'" in line]
    assert len(final) == 1 and "train:final_loss" in metrics.extract(final[0])


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar TensorBoard itself reads from the folder: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_event_files_hold_the_logged_losses_and_the_evaluation(trained):
    output, out, _ = trained
    result = _result(output)
    scalars = _scalars(output.parent / "tensorboard")
    # the printed log dicts (the numbers CloudWatch gets) and the event files hold the same losses
    logged = [metrics.parse_trainer_line(line) for line in out.splitlines() if line.startswith("{'loss'")]
    steps = [1, *range(2, 25, 2)]  # logging_first_step, then every logging_steps=2
    assert [step for step, _ in scalars["train/loss"]] == steps
    assert [value for _, value in scalars["train/loss"]] == pytest.approx([d["loss"] for d in logged], rel=1e-5)
    assert scalars["train/loss"][0][1] == pytest.approx(result["initial_loss"], rel=1e-6)
    assert scalars["train/loss"][-1][1] == pytest.approx(result["final_loss"], rel=1e-6)
    assert [s for s, _ in scalars["train/learning_rate"]] == [s for s, _ in scalars["train/grad_norm"]] == steps
    assert scalars["train/learning_rate"][1][1] == pytest.approx(logged[1]["learning_rate"], rel=1e-5)
    assert [v for _, v in scalars["eval/open_loop_mse"]] == pytest.approx([result["eval"]["mse"]])
    assert scalars["eval/baseline_repeat_state_mse"] == [(24, pytest.approx(result["eval"]["baseline_repeat_state_mse"]))]


def test_resume_continues_to_the_same_step_count_and_the_same_weights(trained, tmp_path, dataset_dir):
    output, _, _ = trained
    config = {"maxSteps": 24, "saveSteps": 12, "tuneLlm": True, "videoBackend": "decord"}
    request = write_request(tmp_path, dataset_dir, config, resume_from_checkpoint=output / "checkpoint-12")
    code, out, err = run_entry(request)
    assert code == 0, err
    resumed = tmp_path / "out"
    assert _result(resumed)["global_step"] == 24 and not (resumed / "checkpoint-12").exists()
    assert out.splitlines()[0].startswith("[gr00t-sm] trainable_parameters=")
    assert "[gr00t-sm] step=14 " in out  # logging carries on from the checkpoint's step
    # Same data order (deterministic sampler), same RNG states: the resumed run ends where the whole run did.
    a = load_file(str(output / "checkpoint-24" / "model.safetensors"))
    b = load_file(str(resumed / "checkpoint-24" / "model.safetensors"))
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-5) for k in a)


def test_inference_from_a_checkpoint_returns_robot_unit_chunks(trained, dataset_dir):
    output, _, _ = trained
    policy = load_policy(output / "checkpoint-24", device="cpu")
    source = LeRobotDataset(dataset_dir, "so100_dualcam")
    ep = source.load_episode(3)
    front = read_frames(source.video_path(3, source.layout.cameras[0]))[10]  # recorded size, 48x64
    wrist = read_frames(source.video_path(3, source.layout.cameras[1]))[10]
    obs = {
        "video.front": front,
        "video.wrist": wrist[None],  # GR00T's (1, H, W, 3) form
        "state.single_arm": ep.state[10, :5],
        "state.gripper": ep.state[10, 5:],
        "annotation.human.task_description": source.task_text(int(ep.task[10])),
    }
    action = policy.get_action(obs)
    assert set(action) == {"action.single_arm", "action.gripper"}
    assert action["action.single_arm"].shape == (16, 5) and action["action.gripper"].shape == (16, 1)
    b = source.bounds
    chunk = np.concatenate([action["action.single_arm"], action["action.gripper"]], axis=1)
    assert np.all(chunk >= b.action_min - 1e-3) and np.all(chunk <= b.action_max + 1e-3)
    again = load_policy(output / "checkpoint-24", device="cpu").get_action({**obs, "video.wrist": wrist})
    np.testing.assert_allclose(again["action.gripper"], action["action.gripper"])  # same seed, same frame
    del obs["state.gripper"]
    with pytest.raises(ObservationError, match="state.gripper"):
        policy.get_action(obs)


def test_lora_on_a_builtin_base_checkpoint(trained, tmp_path, dataset_dir):
    output, _, _ = trained
    config = {"maxSteps": 4, "saveSteps": 4, "loraRank": 4, "loraAlpha": 8, "evalEpisodes": 0}
    # default engine options (64 px): the base checkpoint's sizes (32 px) win
    request = write_request(tmp_path, dataset_dir, config, base_model_dir=output / "checkpoint-24", engine_options={})
    code, _, err = run_entry(request)
    assert code == 0, err
    result = _result(tmp_path / "out")
    assert "baseModelPath" not in result["ignored_parameters"]  # a builtin checkpoint is a base it can load
    assert result["trainable_parameters"] < _result(output)["trainable_parameters"]
    assert result["eval"] is None
    policy = load_policy(tmp_path / "out" / "checkpoint-4", device="cpu")
    assert policy.config.lora_rank == 4 and policy.config.lora_targets and policy.config.image_size == 32


def test_a_corrupt_video_stops_the_run_naming_episode_and_file(dataset_copy, tmp_path):
    path = dataset_copy / "videos" / "chunk-000" / "observation.images.wrist" / "episode_000001.mp4"
    path.write_bytes(path.read_bytes()[:300])
    code, _, err = run_entry(write_request(tmp_path, dataset_copy, {"dataloaderNumWorkers": 1}))
    assert code == 2
    assert f"episode 1: {path}" in err and "Traceback" not in err


def test_a_base_checkpoint_or_resume_point_of_another_shape_is_refused(trained, dataset_dir, tmp_path):
    output, _, _ = trained
    gr1 = generate_dataset(tmp_path / "gr1", layout="fourier_gr1_arms_only", episodes=2, frames_per_episode=20,
                           write_modality=True, write_stats=True)
    code, _, err = run_entry(write_request(tmp_path, gr1, {"dataConfig": "fourier_gr1_arms_only"},
                                           base_model_dir=output / "checkpoint-24"))
    assert code == 2 and "does not fit this dataset" in err and "state_dim: checkpoint 6, dataset 26" in err
    code, _, err = run_entry(write_request(tmp_path, dataset_dir, {"loraRank": 8},
                                           resume_from_checkpoint=output / "checkpoint-12"))
    assert code == 2 and "lora_rank: checkpoint 0, this run 8" in err


def test_a_dataset_that_does_not_match_the_data_config_exits_2(dataset_dir, tmp_path):
    code, _, err = run_entry(write_request(tmp_path, dataset_dir, {"dataConfig": "fourier_gr1_arms_only"}))
    assert code == 2 and "video.ego_view" in err and "Traceback" not in err


def test_sigterm_saves_the_current_step_and_exits_0_then_resume_finishes(dataset_dir, tmp_path):
    config = {"maxSteps": 40, "batchSize": 4, "saveSteps": 1000, "evalEpisodes": 0, "dataloaderNumWorkers": 1}
    request = write_request(tmp_path, dataset_dir, config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_entry.builtin.train", "--request", str(request)],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    for line in proc.stdout:
        if line.startswith("[gr00t-sm] step="):
            # as torchrun stops a rank: the signal goes to its whole process group, DataLoader workers included
            os.killpg(proc.pid, signal.SIGTERM)
            break
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    output = tmp_path / "out"
    result = _result(output)
    stopped = result["global_step"]
    assert result["interrupted"] is True and 0 < stopped < 40
    assert (output / f"checkpoint-{stopped}" / COMPLETE_MARKER).is_file()
    assert f"[gr00t-sm] step={stopped} " in rest  # the loss at the stopping step is logged
    (tmp_path / "resume").mkdir()
    again = write_request(tmp_path / "resume", dataset_dir, config, output_dir=output,
                          resume_from_checkpoint=output / f"checkpoint-{stopped}")
    code, _, err = run_entry(again)
    assert code == 0, err
    assert _result(output)["global_step"] == 40 and (output / "checkpoint-40" / COMPLETE_MARKER).is_file()


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1", "--standalone",
            "-m", "sagemaker_entry.builtin.train", "--request"]


def test_two_ranks_under_torchrun_on_cpu(dataset_dir, tmp_path):
    config = {"maxSteps": 4, "saveSteps": 2, "evalEpisodes": 0, "dataloaderNumWorkers": 1}
    request = write_request(tmp_path, dataset_dir, config, tensorboard_dir=tmp_path / "tensorboard")
    proc = subprocess.run([*TORCHRUN, str(request)], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = tmp_path / "out"
    folder = output / "checkpoint-4"
    assert (folder / "rng_state_0.pth").is_file() and (folder / "rng_state_1.pth").is_file()
    assert (folder / COMPLETE_MARKER).is_file()
    assert proc.stdout.count("[gr00t-sm] step=4 ") == 1  # rank 0 prints, rank 1 does not
    assert proc.stderr.count("baseModelPath='nvidia/GR00T-N1.5-3B' is ignored") == 1
    result = _result(output)
    assert result["global_step"] == 4 and result["interrupted"] is False and result["world_size"] == 2
    # 160 samples = 20 batches of 8 per epoch shared by two ranks: 10 steps an epoch (one rank alone: 20)
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["epoch"] == pytest.approx(4 / 10)
    # only the global rank 0 writes TensorBoard events: one file, each step once
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert [step for step, _ in _scalars(tmp_path / "tensorboard")["train/loss"]] == [1, 2, 4]  # logging_steps=2


def test_importing_the_package_does_not_import_torch():
    code = "import sys, sagemaker_entry.builtin; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), check=True)


@pytest.mark.slow
def test_sigterm_to_torchrun_saves_one_checkpoint_agreed_by_both_ranks(dataset_dir, tmp_path):
    config = {"maxSteps": 500, "saveSteps": 1000, "evalEpisodes": 0, "dataloaderNumWorkers": 1}
    request = write_request(tmp_path, dataset_dir, config)
    proc = subprocess.Popen([*TORCHRUN, str(request)], cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("[gr00t-sm] step="):
            proc.send_signal(signal.SIGTERM)  # torchrun forwards it to each rank's process group
            break
    _, err = proc.communicate(timeout=120)
    # torchrun itself ends with its SignalException; the ranks stop cleanly (no traceback from them)
    assert proc.returncode != 0 and "SignalException" in err
    assert "sagemaker_entry/builtin" not in err, err[-3000:]
    output = tmp_path / "out"
    result = _result(output)
    stopped = result["global_step"]
    assert result["interrupted"] is True and 0 < stopped < 500
    folder = output / f"checkpoint-{stopped}"
    assert (folder / "rng_state_0.pth").is_file() and (folder / "rng_state_1.pth").is_file()
    assert (folder / COMPLETE_MARKER).is_file()
    assert [p.name for p in output.glob("checkpoint-*")] == [folder.name]  # both ranks stopped at the same step
