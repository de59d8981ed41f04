"""prepare_dataset on real files: parquet, mp4, and the never-overwrite / never-lose guarantees."""

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gr00t_core.data_configs import DATA_CONFIGS
from gr00t_core.errors import DatasetError
from gr00t_data.prepare import prepare_dataset
from gr00t_data.stats import STAT_FIELDS, compute_stats
from gr00t_data.synthetic import generate_dataset
from gr00t_data.video import encoder_for

EP0 = "data/chunk-000/episode_000000.parquet"
FRONT0 = "videos/chunk-000/observation.images.front/episode_000000.mp4"


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_raw_dataset_gets_modality_and_stats(dualcam: Path) -> None:
    before = snapshot(dualcam)
    report = prepare_dataset(dualcam, "so100_dualcam")
    assert report.prepared == ["meta/modality.json", "meta/stats.json"] and report.originals == {}
    assert report.warnings == []
    assert json.loads((dualcam / "meta/modality.json").read_text()) == DATA_CONFIGS["so100_dualcam"].modality_json()
    assert json.loads((dualcam / "meta/stats.json").read_text()) == compute_stats(dualcam)
    assert report.summary["cameras"] == {"observation.images.front": "h264", "observation.images.wrist": "h264"}
    assert report.summary["prepared"] == report.prepared and report.summary["frames"] == 40
    after = snapshot(dualcam)
    assert {k: v for k, v in after.items() if k in before} == before  # only added files
    assert not [p for p in dualcam.rglob("*") if p.name.endswith(".tmp")]
    # Idempotent: a prepared dataset needs nothing more.
    again = prepare_dataset(dualcam, "so100_dualcam")
    assert again.prepared == [] and snapshot(dualcam) == after


def test_check_only_writes_nothing(dualcam: Path) -> None:
    before = snapshot(dualcam)
    report = prepare_dataset(dualcam, "so100_dualcam", write=False)
    assert report.prepared == [] and report.summary["modality"] == "will be created from so100_dualcam"
    assert snapshot(dualcam) == before
    assert prepare_dataset(dualcam, "so100_dualcam").summary["modality"] == "created from so100_dualcam"


def test_a_users_modality_json_is_never_overwritten(dualcam: Path) -> None:
    mine = DATA_CONFIGS["so100_dualcam"].modality_json()
    mine["state"]["single_arm"]["absolute"] = True  # valid, but not what the template would write
    text = json.dumps(mine) + "   \n"
    (dualcam / "meta/modality.json").write_text(text)
    report = prepare_dataset(dualcam, "so100_dualcam")
    assert "meta/modality.json" not in report.prepared
    assert (dualcam / "meta/modality.json").read_text() == text


def test_a_complete_users_stats_json_is_kept(dualcam: Path) -> None:
    stats = {c: {f: [0.5] * len(v["mean"]) for f in STAT_FIELDS} for c, v in compute_stats(dualcam).items()}
    text = json.dumps(stats)
    (dualcam / "meta/stats.json").write_text(text)
    assert "meta/stats.json" not in prepare_dataset(dualcam, "so100_dualcam").prepared
    assert (dualcam / "meta/stats.json").read_text() == text


@pytest.mark.parametrize(
    "content, reason",
    [
        ("lerobot", "lacks q01, q99"),  # LeRobot's own stats.json: min/max/mean/std only
        ('{"action": ', "not valid JSON"),
        ("wrong-width", "do not have 6 values"),
    ],
)
def test_an_incomplete_stats_json_is_kept_as_orig_and_completed(dualcam: Path, content: str, reason: str) -> None:
    full = compute_stats(dualcam)
    if content == "lerobot":
        content = json.dumps({c: {f: v[f] for f in ("min", "max", "mean", "std")} for c, v in full.items()})
    elif content == "wrong-width":
        content = json.dumps({c: {f: [0.0] for f in STAT_FIELDS} for c in full})
    (dualcam / "meta/stats.json").write_text(content)
    report = prepare_dataset(dualcam, "so100_dualcam")
    assert report.originals == {"meta/stats.json": "meta/stats.json.orig"}
    assert (dualcam / "meta/stats.json.orig").read_text() == content
    assert json.loads((dualcam / "meta/stats.json").read_text()) == full
    assert any(reason in w and "meta/stats.json.orig" in w for w in report.warnings), report.warnings


def test_an_existing_orig_is_never_overwritten(dualcam: Path) -> None:
    (dualcam / "meta/stats.json.orig").write_text("older original")
    (dualcam / "meta/stats.json").write_text("{}")
    report = prepare_dataset(dualcam, "so100_dualcam")
    assert report.originals["meta/stats.json"] == "meta/stats.json.orig.1"
    assert (dualcam / "meta/stats.json.orig").read_text() == "older original"
    assert (dualcam / "meta/stats.json.orig.1").read_text() == "{}"


def test_blank_lines_gr00t_chokes_on_are_removed_keeping_the_original(dualcam: Path) -> None:
    path = dualcam / "meta/episodes.jsonl"
    original = path.read_text().replace("\n", "\n\n", 1)
    path.write_text(original)
    report = prepare_dataset(dualcam, "so100_dualcam")
    assert report.originals["meta/episodes.jsonl"] == "meta/episodes.jsonl.orig"
    assert (dualcam / "meta/episodes.jsonl.orig").read_text() == original
    assert path.read_text() == original.replace("\n\n", "\n")
    assert any("blank line" in w for w in report.warnings)


def _fail(root: Path, data_config: str = "so100_dualcam") -> list[str]:
    before = snapshot(root)
    with pytest.raises(DatasetError) as info:
        prepare_dataset(root, data_config)
    assert snapshot(root) == before, "a dataset that is not ready must not be touched"
    assert str(root) in str(info.value)
    return info.value.problems


def _corrupt(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"dataset folder not found; datasetPath must name the folder"):
        prepare_dataset(tmp_path / "nope", "so100_dualcam")


def test_missing_and_corrupted_parquet_files_are_named(dualcam: Path) -> None:
    generate_dataset(dualcam.parent / "more", episodes=3, frames_per_episode=20, width=32, height=24)
    more = dualcam.parent / "more"
    (more / "data/chunk-000/episode_000001.parquet").unlink()
    _corrupt(more / "data/chunk-000/episode_000002.parquet")
    problems = _fail(more)
    assert any("data/chunk-000/episode_000001.parquet: episode file missing" in p for p in problems)
    assert any("data/chunk-000/episode_000002.parquet: not a readable parquet file" in p for p in problems)


def test_missing_and_corrupted_videos_are_named_together_with_other_problems(dualcam: Path) -> None:
    (dualcam / "videos/chunk-000/observation.images.wrist/episode_000001.mp4").unlink()
    _corrupt(dualcam / FRONT0)
    problems = _fail(dualcam)
    assert any(
        re.search(r"observation.images.wrist: 1 of 2 video file\(s\) missing: .*wrist/episode_000001.mp4; upload them", p)
        for p in problems
    ), problems
    assert any(re.search(r"observation.images.front: 1 unreadable video file\(s\): .*front/episode_000000.mp4", p) for p in problems)


def test_a_video_file_that_is_not_a_video(dualcam: Path) -> None:
    (dualcam / FRONT0).write_text("<html>Access denied</html>")
    assert any("unreadable video" in p for p in _fail(dualcam))


def _rewrite_episode(root: Path, **columns: pa.Array) -> None:
    table = pq.read_table(root / EP0)
    for name, array in columns.items():
        if array is None:
            table = table.drop_columns([name])
        else:
            table = table.set_column(table.schema.get_field_index(name), name, array)
    pq.write_table(table, root / EP0)


def _state(rows: int, width: int, fill: float = 1.0) -> pa.Array:
    return pa.array(np.full((rows, width), fill, dtype=np.float32).tolist(), type=pa.list_(pa.float32()))


def test_state_width_differs_from_info_json(dualcam: Path) -> None:
    generate_dataset(dualcam.parent / "w", layout="so100", episodes=1, frames_per_episode=20, width=32, height=24)
    root = dualcam.parent / "w"
    _rewrite_episode(root, **{"observation.state": _state(20, 7)})
    assert any("'observation.state' has 7 values per frame but meta/info.json says 6" in p for p in _fail(root, "so100"))


def test_episode_shorter_than_listed(dualcam: Path) -> None:
    table = pq.read_table(dualcam / EP0).slice(0, 15)
    pq.write_table(table, dualcam / EP0)
    assert any("shorter than meta/episodes.jsonl says: data/chunk-000/episode_000000.parquet (15 rows, 20 listed)" in p for p in _fail(dualcam))


def test_nan_in_actions(dualcam: Path) -> None:
    _rewrite_episode(dualcam, action=_state(20, 6, float("nan")))
    assert any("'action' holds NaN" in p for p in _fail(dualcam))


def test_a_column_gr00t_reads_is_missing(dualcam: Path) -> None:
    _rewrite_episode(dualcam, task_index=None)
    problems = _fail(dualcam)
    assert any("numeric columns differ" in p and "task_index" in p for p in problems), problems


def test_meta_errors_stop_before_anything_is_written(dualcam: Path) -> None:
    info = json.loads((dualcam / "meta/info.json").read_text())
    info["codebase_version"] = "v3.0"
    (dualcam / "meta/info.json").write_text(json.dumps(info))
    assert any("says v3.0 but the folder has the LeRobot v2 layout" in p for p in _fail(dualcam))


def test_unknown_data_config(dualcam: Path) -> None:
    assert any("unknown data config 'so101'" in p for p in _fail(dualcam, "so101"))


def test_quirks_of_real_datasets_are_warnings(dualcam: Path) -> None:
    # NVIDIA's demo: a camera listed without files, total_chunks 0, a wide split, no frame_index column.
    info = json.loads((dualcam / "meta/info.json").read_text())
    info["features"]["observation.images.top"] = dict(info["features"]["observation.images.front"])
    info.update(total_chunks=0, splits={"train": "0:100"})
    (dualcam / "meta/info.json").write_text(json.dumps(info))
    for ep in (0, 1):
        path = dualcam / f"data/chunk-000/episode_{ep:06d}.parquet"
        pq.write_table(pq.read_table(path).drop_columns(["frame_index"]), path)
    report = prepare_dataset(dualcam, "so100_dualcam")
    joined = "\n".join(report.warnings)
    assert "camera 'observation.images.top' but it has no video files" in joined
    assert "total_chunks is 0" in joined and "split train '0:100'" in joined
    assert "'frame_index' but the parquet files have no such numeric column" in joined


@pytest.mark.skipif(encoder_for("av1") is None, reason="this PyAV build has no AV1 encoder")
def test_av1_recordings_are_decoded(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "av1", layout="so100", episodes=2, frames_per_episode=10, codec="av1", width=32, height=24)
    report = prepare_dataset(root, "so100")
    assert report.summary["cameras"] == {"observation.images.webcam": "av1"}


def test_gr1_layout_is_prepared(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "gr1", layout="fourier_gr1_arms_only", episodes=2, frames_per_episode=10, width=32, height=24)
    report = prepare_dataset(root, "fourier_gr1_arms_only", decode_check=False)
    # NVIDIA's GR1 demo layout: 44 values per frame, of which fourier_gr1_arms_only trains on 26 (< 32).
    assert report.summary["state_dim"] == 44 and "meta/modality.json" in report.prepared
