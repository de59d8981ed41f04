"""``gr00t-sm preflight``: exit codes, the readable report, the --json shape, and every class of bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from gr00t_data.synthetic import generate_dataset
from launcher import cli

REPO = Path(__file__).resolve().parents[3]
CONFIG = {"engine": "builtin", "maxSteps": 40, "saveSteps": 20, "batchSize": 8, "instanceType": "local_cpu"}


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("preflight") / "dataset", episodes=2, frames_per_episode=20, width=32, height=24)


@pytest.fixture
def asset(tmp_path: Path, _pristine: Path) -> Path:
    root = tmp_path / "asset"
    shutil.copytree(_pristine, root / "dataset")
    (root / "gr00t_config.json").write_text(json.dumps(CONFIG, indent=2))
    return root


def preflight(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["preflight", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def preflight_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = preflight(capsys, *argv, "--json")
    data = json.loads(out)
    assert set(data) == {"config", "provenance", "dataset", "errors", "warnings"}
    assert isinstance(data["errors"], list) and isinstance(data["warnings"], list)
    return code, data


def test_ready_asset_report_names_created_files(asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = preflight(capsys, asset)
    assert code == 0
    assert "READY: this asset can be trained on." in out
    assert "files created by preparation: meta/modality.json, meta/stats.json" in out
    assert "2 episodes, 40 frames at 30 fps" in out and "observation.images.front (h264)" in out
    assert "maxSteps" in out and "from gr00t_config.json" in out
    assert (asset / "dataset/meta/modality.json").is_file() and (asset / "dataset/meta/stats.json").is_file()
    code, out, _ = preflight(capsys, asset)
    assert code == 0 and "nothing needed preparing" in out


def test_json_shape_and_provenance(asset: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"learningRate": "3e-4", "batchSize": "2", "maxSteps": "5"}))
    code, data = preflight_json(
        capsys, asset, "--input-parameters", f"@{params}", "--asset-metadata", '{"GROOT_BATCH_SIZE": "4", "GROOT_SEED": "7", "Owner": "lab"}'
    )
    assert code == 0 and data["errors"] == []
    config, provenance = data["config"], data["provenance"]
    assert (config["maxSteps"], provenance["maxSteps"]) == (40, "file")
    assert (config["batchSize"], provenance["batchSize"]) == (8, "file")
    assert (config["seed"], provenance["seed"]) == (7, "metadata")
    assert (config["learningRate"], provenance["learningRate"]) == (3e-4, "parameters")
    assert provenance["warmupRatio"] == "default"
    assert set(provenance.values()) <= {"file", "metadata", "parameters", "default"}
    dataset = data["dataset"]
    assert {k: dataset[k] for k in ("version", "episodes", "frames", "fps", "state_dim", "action_dim")} == {
        "version": "v2.1", "episodes": 2, "frames": 40, "fps": 30, "state_dim": 6, "action_dim": 6,
    }
    assert dataset["cameras"] == {"observation.images.front": "h264", "observation.images.wrist": "h264"}
    assert dataset["prepared"] == ["meta/modality.json", "meta/stats.json"]


def test_without_a_config_file_defaults_apply(asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (asset / "gr00t_config.json").unlink()
    code, data = preflight_json(capsys, asset)
    assert code == 0 and data["provenance"]["maxSteps"] == "default"
    assert any("no gr00t_config.json" in w for w in data["warnings"])


def test_unknown_keys_are_warnings(asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (asset / "gr00t_config.json").write_text(json.dumps({**CONFIG, "maxStep": 3}))
    code, data = preflight_json(capsys, asset)
    assert code == 0 and any("'maxStep' (did you mean 'maxSteps'?)" in w for w in data["warnings"])


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _config(**values: Any) -> Any:
    return lambda asset: _write(asset / "gr00t_config.json", json.dumps({**CONFIG, **values}))


def _v3(asset: Path) -> None:
    info = json.loads((asset / "dataset/meta/info.json").read_text())
    info["codebase_version"] = "v3.0"
    _write(asset / "dataset/meta/info.json", json.dumps(info))


def _truncate(rel: str) -> Any:
    def mutate(asset: Path) -> None:
        path = asset / "dataset" / rel
        path.write_bytes(path.read_bytes()[:100])

    return mutate


def _symlinked_dataset(asset: Path) -> None:
    outside = asset.parent / "elsewhere"
    shutil.move(asset / "dataset", outside)
    (asset / "dataset").symlink_to(outside, target_is_directory=True)


def _symlinked_file(asset: Path) -> None:
    rel = "dataset/data/chunk-000/episode_000001.parquet"
    outside = asset.parent / "episode.parquet"
    shutil.move(asset / rel, outside)
    (asset / rel).symlink_to(outside)


BAD = [
    ("malformed config file", lambda a: _write(a / "gr00t_config.json", '{"maxSteps": 40,\n "batchSize": }'),
     r"gr00t_config.json is not valid JSON \(line 2, column 15"),
    ("config file not an object", lambda a: _write(a / "gr00t_config.json", "[1]"), r"must hold a JSON object of parameter -> value, found list"),
    ("config file not UTF-8", lambda a: (a / "gr00t_config.json").write_bytes(b"\xff\xfe\x00{"), r"is not UTF-8 text"),
    ("wrong type", _config(maxSteps="lots"), r"maxSteps = 'lots' from gr00t_config.json: expected an integer"),
    ("out of range", _config(batchSize=0), r"batchSize = 0 from gr00t_config.json: must be at least 1"),
    ("unknown data config", _config(dataConfig="so101"), r"unknown data config 'so101'"),
    ("absolute datasetPath", _config(datasetPath="/etc"), r"datasetPath = '/etc' from gr00t_config.json: must be a path relative"),
    ("datasetPath with ..", _config(datasetPath="../dataset"), r"must stay inside the asset; '../dataset' contains '..'"),
    ("dataset symlinked out", _symlinked_dataset, r"datasetPath 'dataset' \(from defaults\) leads outside the asset"),
    ("a dataset file symlinked out", _symlinked_file, r"the dataset links to files outside the asset \(dataset/data/chunk-000/episode_000001.parquet -> "),
    ("missing dataset folder", _config(datasetPath="recordings"), r"datasetPath 'recordings' \(from gr00t_config.json\): folder .*recordings not found"),
    ("v3.0 label on v2 files", _v3, r"dataset/meta/info.json says v3.0 but the folder has the LeRobot v2 layout"),
    ("missing video", lambda a: (a / "dataset/videos/chunk-000/observation.images.wrist/episode_000000.mp4").unlink(),
     r"observation.images.wrist: 1 of 2 video file\(s\) missing: videos/chunk-000/observation.images.wrist/episode_000000.mp4"),
    ("corrupted parquet", _truncate("data/chunk-000/episode_000001.parquet"),
     r"dataset/data/chunk-000/episode_000001.parquet: not a readable parquet file"),
    ("malformed episodes.jsonl", lambda a: _write(a / "dataset/meta/episodes.jsonl", '{"episode_index": 0, "length": 20}\n{oops\n'),
     r"dataset/meta/episodes.jsonl line 2 is not valid JSON"),
    ("malformed info.json", lambda a: _write(a / "dataset/meta/info.json", "{"), r"dataset/meta/info.json is not valid JSON"),
    ("malformed modality.json", lambda a: _write(a / "dataset/meta/modality.json", "{]"), r"dataset/meta/modality.json is not valid JSON"),
]


@pytest.mark.parametrize("mutate, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_a_clear_message(asset: Path, capsys: pytest.CaptureFixture[str], mutate: Any, match: str) -> None:
    import re

    mutate(asset)
    before = sorted(str(p) for p in asset.rglob("*"))
    code, data = preflight_json(capsys, asset)
    assert code == 2
    assert any(re.search(match, e) for e in data["errors"]), data["errors"]
    assert data["dataset"] == {} or data["dataset"]["prepared"] == []  # checked despite config errors, not prepared
    assert sorted(str(p) for p in asset.rglob("*")) == before  # nothing prepared in an asset that is not ready
    code, out, _ = preflight(capsys, asset)
    assert code == 2 and "NOT READY" in out


def test_every_problem_is_listed_at_once(asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(asset / "gr00t_config.json", json.dumps({**CONFIG, "maxSteps": "x", "batchSize": -1}))
    (asset / "dataset/videos/chunk-000/observation.images.front/episode_000001.mp4").unlink()
    pq.write_table(pq.read_table(asset / "dataset/data/chunk-000/episode_000000.parquet").slice(0, 3),
                   asset / "dataset/data/chunk-000/episode_000000.parquet")
    code, data = preflight_json(capsys, asset)
    assert code == 2 and len(data["errors"]) == 4, data["errors"]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--input-parameters", "{not json"], r"--input-parameters is not valid JSON"),
        (["--asset-metadata", "[1, 2]"], r"--asset-metadata must be a JSON object"),
        (["--asset-metadata", "@/no/such/file.json"], r"--asset-metadata file '/no/such/file.json' cannot be read"),
        (["--asset-metadata", '{"GROOT_MAX_STEPS": "ten"}'], r"maxSteps = 'ten' from gr00t_config.json|is invalid but overridden"),
    ],
)
def test_bad_arguments(asset: Path, capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    import re

    code, out, _ = preflight(capsys, asset, *argv, "--json")
    data = json.loads(out)
    assert any(re.search(match, m) for m in data["errors"] + data["warnings"]), data
    assert code == (0 if "GROOT_MAX_STEPS" in argv[1] else 2)


def test_missing_asset_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = preflight_json(capsys, tmp_path / "nothing")
    assert code == 2 and "asset folder" in data["errors"][0] and "not found" in data["errors"][0]


def test_metadata_value_wins_over_input_parameters_and_loses_to_the_file(asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = preflight_json(
        capsys, asset, "--asset-metadata", '{"GROOT_MAX_STEPS": "30", "GROOT_WARMUP_RATIO": "0.1"}',
        "--input-parameters", '{"warmupRatio": "0.2", "weightDecay": "0.01"}',
    )
    assert code == 0
    assert data["config"]["maxSteps"] == 40  # gr00t_config.json
    assert (data["config"]["warmupRatio"], data["provenance"]["warmupRatio"]) == (0.1, "metadata")
    assert (data["config"]["weightDecay"], data["provenance"]["weightDecay"]) == (0.01, "parameters")


def test_installed_command_prints_no_traceback_for_user_errors(asset: Path) -> None:
    (asset / "gr00t_config.json").write_text("{broken")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "preflight", str(asset)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "gr00t_config.json is not valid JSON (line 1" in proc.stdout


def test_the_bundled_example_asset_is_raw_small_and_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = REPO / "examples/so101_table_cleanup"
    tracked = subprocess.run(["git", "ls-files", str(example)], capture_output=True, text=True, cwd=REPO).stdout.split()
    assert not [f for f in tracked if f.endswith(("meta/modality.json", "meta/stats.json"))]  # users' raw v2.1 data
    assert sum((REPO / f).stat().st_size for f in tracked) < 3_000_000  # `make demo` adds outputs beside it: not counted
    copy = Path(shutil.copytree(example, tmp_path / "example", ignore=shutil.ignore_patterns("gr00tOutput_*", "modality.json", "stats.json")))
    code, data = preflight_json(capsys, copy)
    assert code == 0 and data["errors"] == []
    assert data["config"]["engine"] == "builtin" and data["provenance"]["instanceType"] == "default"
    assert data["dataset"]["episodes"] == 6 and data["dataset"]["prepared"] == ["meta/modality.json", "meta/stats.json"]
