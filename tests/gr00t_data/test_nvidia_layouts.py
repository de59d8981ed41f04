"""Issue #11 §1: datasets laid out as NVIDIA publishes them pass; templates match NVIDIA's published metadata.

NVIDIA's files used here, copied verbatim (NVIDIA/Isaac-GR00T):
- demo_data/robot_sim.PickNPlace/meta/modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702
- getting_started/examples/so100__modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702
- demo_data/robot_sim.PickNPlace/meta/info.json @6d8a53bfc08056b950611b244881679c49091935 (44 float64 values,
  int64 annotation.* columns, total_chunks 0)
"""

import json
from pathlib import Path

import pytest

from gr00t_core.data_configs import DATA_CONFIGS, MAX_ACTION_DIM, TEMPLATE_SOURCES
from gr00t_core.errors import DatasetError
from gr00t_data.meta import check_meta
from gr00t_data.preflight import run_preflight
from gr00t_data.prepare import local_reader, prepare_dataset
from gr00t_data.synthetic import generate_dataset

_GR1_PARTS = [("left_arm", 0, 7), ("left_hand", 7, 13), ("left_leg", 13, 19), ("neck", 19, 22),
              ("right_arm", 22, 29), ("right_hand", 29, 35), ("right_leg", 35, 41), ("waist", 41, 44)]
NVIDIA_GR1_DEMO_MODALITY = {
    "state": {name: {"start": a, "end": b} for name, a, b in _GR1_PARTS},
    "action": {name: {"start": a, "end": b} for name, a, b in _GR1_PARTS},
    "video": {"ego_view": {"original_key": "observation.images.ego_view"}},
    "annotation": {"human.action.task_description": {}, "human.validity": {}},
}
NVIDIA_SO100_EXAMPLE = {
    "state": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
    "action": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
    "video": {"webcam": {"original_key": "observation.images.webcam"}},
    "annotation": {"human.task_description": {"original_key": "task_index"}},
}
TINY = {"episodes": 2, "frames_per_episode": 10, "width": 32, "height": 24}


def test_templates_equal_nvidias_published_files() -> None:
    assert DATA_CONFIGS["fourier_gr1_arms_only"].modality_json() == NVIDIA_GR1_DEMO_MODALITY
    assert DATA_CONFIGS["so100"].modality_json() == NVIDIA_SO100_EXAMPLE
    # every template names where it was checked, and nothing else has one
    assert {n for n, c in DATA_CONFIGS.items() if c.modality_template is not None} == set(TEMPLATE_SOURCES)


@pytest.fixture(scope="module")
def gr1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GR1 dataset in NVIDIA's demo layout: 44 values, int64 annotation columns, NVIDIA's modality.json."""
    root = generate_dataset(tmp_path_factory.mktemp("gr1") / "gr1", layout="fourier_gr1_arms_only", **TINY)
    (root / "meta/modality.json").write_text(json.dumps(NVIDIA_GR1_DEMO_MODALITY))
    return root


def test_a_44_value_gr1_dataset_trains_with_arms_only(gr1: Path) -> None:
    """44 values in the columns, 26 selected by fourier_gr1_arms_only: within GR00T's 32."""
    report = prepare_dataset(gr1, "fourier_gr1_arms_only", decode_check=False, write=False)
    assert report.summary["action_dim"] == 44 and report.summary["state_dim"] == 44


def test_the_limit_counts_the_selected_parts(gr1: Path) -> None:
    modality = json.loads(json.dumps(NVIDIA_GR1_DEMO_MODALITY))
    modality["action"]["left_arm"] = {"start": 0, "end": 7, "original_key": "action"}
    modality["action"]["right_arm"] = {"start": 0, "end": 20}  # 20 + 7 + 6 + 6 = 39 selected values
    files = {p: (gr1 / p).read_bytes() for p in ("meta/info.json", "meta/episodes.jsonl", "meta/tasks.jsonl")}
    files["meta/modality.json"] = json.dumps(modality).encode()
    report = check_meta(files.get, "fourier_gr1_arms_only")
    assert any(
        f"the 4 action parts the data config reads add up to 39 values; GR00T N1.5 handles at most {MAX_ACTION_DIM}" in e
        for e in report.errors
    ), report.errors


def test_an_int64_annotation_column_of_the_wrong_type_or_missing_is_named(gr1: Path, tmp_path: Path) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(shutil.copytree(gr1, tmp_path / "gr1"))
    path = root / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(path)
    column = "annotation.human.action.task_description"
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, pa.array([0.5] * table.num_rows)), path)
    with pytest.raises(DatasetError, match=r"episode_000000.parquet: annotation column 'annotation.human.action.task_description' is double"):
        prepare_dataset(root, "fourier_gr1_arms_only", decode_check=False, write=False)


def test_a_template_that_does_not_fit_the_data_is_an_error(tmp_path: Path) -> None:
    """A 6-value SO-100 recording trained as GR1 would train on the wrong joints: refused, not warned."""
    root = generate_dataset(tmp_path / "so100", layout="so100", **TINY)
    report = check_meta(local_reader(root), "fourier_gr1_arms_only")
    assert any("spans [7, 13) but 'observation.state' has 6 values" in e for e in report.errors), report.errors


@pytest.mark.parametrize("name", sorted(DATA_CONFIGS))
def test_every_data_config_has_a_template_or_an_example(tmp_path: Path, name: str) -> None:
    root = generate_dataset(tmp_path / "d", layout="so100_dualcam", write_videos=False, **TINY)
    report = check_meta(local_reader(root), name)
    if DATA_CONFIGS[name].modality_template is not None:
        assert report.modality_is_template
        return
    (message,) = [e for e in report.errors if "meta/modality.json not found" in e]
    example = json.loads(message.split("part lies in the column): ", 1)[1])
    config = DATA_CONFIGS[name]
    for key in (*config.video_keys, *config.state_keys, *config.action_keys, config.language_key):
        section, part = key.split(".", 1)
        assert part in example[section], (key, example)


def _asset(tmp_path: Path, module_source: str | None, data_config: str = "my_robot.configs:MyConfig") -> Path:
    asset = tmp_path / "asset"
    generate_dataset(asset / "dataset", layout="so100_dualcam", write_modality=True, **TINY)
    (asset / "gr00t_config.json").write_text(json.dumps({"dataConfig": data_config}))
    if module_source is not None:
        (asset / "my_robot").mkdir()
        (asset / "my_robot/configs.py").write_text(module_source)
    return asset


def test_a_custom_config_module_at_the_asset_root_passes(tmp_path: Path) -> None:
    result = run_preflight(_asset(tmp_path, "class MyConfig:\n    video_keys = ['video.front']\n"), decode_check=False)
    assert result.errors == [], result.errors


@pytest.mark.parametrize("source, match", [
    (None, r"my_robot/configs.py not found at the asset root"),
    ("class MyConfig(:\n", r"my_robot/configs.py: Python syntax error at line 1"),
    ("class Other:\n    pass\n", r"my_robot/configs.py: defines no top-level class 'MyConfig' \(classes: Other\)"),
])
def test_a_custom_config_module_that_cannot_work_is_named(tmp_path: Path, source: str | None, match: str) -> None:
    import re

    result = run_preflight(_asset(tmp_path, source), decode_check=False)
    assert any(re.search(match, e) for e in result.errors), result.errors
