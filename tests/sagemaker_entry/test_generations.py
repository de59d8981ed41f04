"""N1.6/N1.7 argv against the recorded FinetuneConfig fields, the generated modality config, and the open-loop
evaluation (argv table and output parsing on the recorded formats)."""

import json
import subprocess
from pathlib import Path

import pytest

from gr00t_core.engines import ENGINES_BY_KEY, spec_for
from gr00t_core.resolution import resolve
from sagemaker_entry import engines, evaluation
from sagemaker_entry.engines import build_command, node_layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIELDS = json.loads((FIXTURES / "isaac_gr00t_finetune_config.json").read_text())
REPO = Path("/opt/gr00t/Isaac-GR00T")
DATA = Path("/opt/ml/work/dataset")
OUT = Path("/opt/ml/checkpoints")
MODEL = Path("/opt/ml/work/models/base")
MODALITY = Path("/opt/ml/work/gr00t_modality_config.py")


def _config(**overrides):
    values = {"engine": "isaac-gr00t", "instanceType": "ml.g6e.48xlarge", **overrides}
    return resolve(hyperparameters={k: str(v) for k, v in values.items()}).values


def _argv(config, gpus=1):
    layout = node_layout(engine="isaac-gr00t", num_gpus_param=gpus, gpus_visible=gpus, hosts=["algo-1"],
                         current_host="algo-1", master_addr="algo-1", master_port=7777, network_interface="eth0")
    cmd = build_command(config, python="/py", layout=layout, dataset_dir=DATA, output_dir=OUT, base_model_dir=MODEL,
                        resume=True, gr00t_repo=REPO, request_file=Path("/r.json"), modality_config=MODALITY)
    script = str(REPO / "gr00t/experiment/launch_finetune.py")
    return cmd.argv[cmd.argv.index(script) + 1:]


@pytest.mark.parametrize("key", ["n1.6", "n1.7"])
def test_every_flag_is_a_field_of_finetune_config_at_the_pinned_commit(key):
    spec = ENGINES_BY_KEY[key]
    recorded = FIELDS[spec.source_commit]
    assert recorded["generation"] == spec.generation
    config = _config(baseModelPath=f"nvidia/GR00T-N{spec.generation}-3B", videoBackend="decord", numGpus=2)
    args = _argv(config, gpus=2)
    flags = [a for a in args if a.startswith("--")]
    for flag in flags:
        name = flag[2:].replace("-", "_")
        if name.startswith("no_") and name[3:] in recorded["booleans"]:
            continue
        assert name in recorded["fields"], f"{flag} is not a FinetuneConfig field at {spec.source_commit}"
        if name in recorded["booleans"]:
            continue
        assert not args[args.index(flag) + 1].startswith("--"), flag
    assert args[args.index("--modality-config-path") + 1] == str(MODALITY)
    assert args[args.index("--global-batch-size") + 1] == str(config["batchSize"] * 2)
    assert "--resume" not in flags and "--resume-from-checkpoint" not in flags  # no such field: it resumes itself
    assert ("--video-backend" in flags) == (key == "n1.6")


def test_n16_passes_only_video_backends_it_decodes_with():
    assert "--video-backend" not in _argv(_config(baseModelPath="nvidia/GR00T-N1.6-3B"))  # torchvision_av


def test_the_generated_modality_config_registers_every_key_of_modality_json():
    modality = {"state": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
                "action": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
                "video": {"front": {"original_key": "observation.images.front"}},
                "annotation": {"human.task_description": {"original_key": "task_index"}}}
    text = engines.modality_config_source(modality, "new_embodiment")
    compile(text, "gr00t_modality_config.py", "exec")
    assert "modality_keys=['single_arm', 'gripper']," in text and "modality_keys=['front']" in text
    assert "modality_keys=['annotation.human.task_description']" in text
    assert "delta_indices=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]" in text
    assert text.count("ActionConfig(") == 2
    assert text.rstrip().endswith("register_modality_config(config, embodiment_tag=EmbodimentTag.NEW_EMBODIMENT)")
    with pytest.raises(ValueError, match="no action"):
        engines.modality_config_source({"state": {"a": {}}, "video": {"v": {}}}, "new_embodiment")


def test_a_modality_config_shipped_at_the_asset_root_wins(tmp_path):
    (tmp_path / "asset").mkdir()
    (tmp_path / "asset" / engines.MODALITY_CONFIG_FILE).write_text("# mine\n")
    dest = tmp_path / "work" / engines.MODALITY_CONFIG_FILE
    spec = ENGINES_BY_KEY["n1.7"]
    how = engines.prepare_modality_config(spec, asset_root=tmp_path / "asset", dataset_dir=tmp_path, embodiment_tag="gr1",
                                          dest=dest)
    assert dest.read_text() == "# mine\n" and "from the asset" in how
    assert engines.modality_config_path(ENGINES_BY_KEY["n1.5"], tmp_path) is None


@pytest.mark.parametrize(("key", "total", "wanted", "expected_tail"), [
    ("n1.5", 5, 2, ["--trajs", "2", "--modality-keys", "single_arm", "gripper"]),
    ("n1.6", 5, 2, ["--traj-ids", "3", "4", "--action-horizon", "16", "--save-plot-path", str(OUT / "eval_open_loop.png")]),
    ("n1.7", 1, 3, ["--traj-ids", "0", "--action-horizon", "16", "--save-plot-path", str(OUT / "eval_open_loop.png")]),
])
def test_eval_argv(key, total, wanted, expected_tail):
    spec = ENGINES_BY_KEY[key]
    config = _config(baseModelPath=f"nvidia/GR00T-N{spec.generation}-3B", evalEpisodes=wanted)
    episodes = evaluation.episode_ids(total, wanted, spec)
    argv = evaluation.eval_argv(spec, config, python="/py", gr00t_repo=REPO, model_dir=OUT, dataset_dir=DATA,
                                episodes=episodes, plot_path=OUT / evaluation.PLOT_FILE)
    script = "scripts/eval_policy.py" if key == "n1.5" else "gr00t/eval/open_loop_eval.py"
    assert argv[:4] == ["/py", str(REPO / script), "--model-path", str(OUT)]
    assert argv[-len(expected_tail):] == expected_tail
    assert "True" not in argv and "False" not in argv


@pytest.mark.parametrize(("sample", "mse", "per", "mae"), [
    ("n15_eval_policy.txt", 0.01875, {"0": 0.01237, "1": 0.02513}, None),
    ("n16_open_loop_eval.txt", 0.005256, {"3": 0.004412, "4": 0.0061}, 0.035625),
])
def test_parse_output_of_the_recorded_formats(sample, mse, per, mae):
    result = evaluation.parse_output((FIXTURES / "gr00t_eval" / sample).read_text())
    assert result["mse"] == pytest.approx(mse)
    assert {k: v["mse"] for k, v in result["per_episode"].items()} == pytest.approx(per)
    assert result.get("mae") == (pytest.approx(mae) if mae else None)


def test_evaluate_writes_plot_metric_and_result(tmp_path, capsys):
    spec = spec_for(_config())
    sample = (FIXTURES / "gr00t_eval" / "n15_eval_policy.txt").read_text()
    seen = []

    def run(argv, **kwargs):
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=sample, stderr="")

    result = evaluation.evaluate(spec, _config(evalEpisodes=2), python="/py", gr00t_repo=REPO, model_dir=tmp_path,
                                 dataset_dir=DATA, episode_indices=[0, 1], output_dir=tmp_path, run=run)
    assert result["mse"] == pytest.approx(0.01875) and result["plot"] == "eval_open_loop.png"
    assert (tmp_path / "eval_open_loop.png").stat().st_size > 0
    assert "[gr00t-sm] eval open_loop_mse=0.01875" in capsys.readouterr().out
    evaluation.write_result(tmp_path, result)
    assert json.loads((tmp_path / "train_result.json").read_text())["eval"]["episodes"] == [0, 1]


def test_a_failed_evaluation_is_reported_not_raised(tmp_path):
    def run(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, stdout="", stderr="Traceback...\nKeyError: 'video.front'")

    result = evaluation.evaluate(spec_for(_config()), _config(), python="/py", gr00t_repo=REPO, model_dir=tmp_path,
                                 dataset_dir=DATA, episode_indices=[0, 1, 2], output_dir=tmp_path, run=run)
    assert "printed no MSE (exit code 1)" in result["failed"] and "KeyError" in result["failed"]
    assert evaluation.evaluate(spec_for(_config()), _config(evalEpisodes=0), python="/py", gr00t_repo=REPO,
                               model_dir=tmp_path, dataset_dir=DATA, episode_indices=[0, 1, 2], output_dir=tmp_path,
                               run=run) == {"skipped": "evalEpisodes is 0"}
