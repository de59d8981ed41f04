"""LeRobot v3.0 -> v2.1: generated v3.0 datasets convert to v2.1 datasets holding the same rows and frames."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from gr00t_core.errors import DatasetError
from gr00t_data.convert import V3_DATA_PATH, V3_VIDEO_PATH, convert_v3_to_v21, is_v3
from gr00t_data.meta import V3_NOTE, check_meta
from gr00t_data.prepare import local_reader
from gr00t_data.stats import compute_stats
from gr00t_data.synthetic_v3 import generate_v3_dataset
from gr00t_data.video import read_frames

LENGTHS = [20, 25, 18, 22, 30]  # uneven, so every file boundary falls at a different frame
CAMERAS = ("observation.images.front", "observation.images.wrist")
SMALL = {"episode_lengths": LENGTHS, "width": 64, "height": 48}


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def concat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A v3.0 dataset as LeRobot writes it (episodes encoded alone, concatenated by stream copy), with data files
    of 2 episodes, video files of 3, and 2 files per chunk (so data reaches chunk-001), and its v2.1 origin."""
    base = tmp_path_factory.mktemp("v3")
    v3 = generate_v3_dataset(base / "v3", keep_v21=base / "v21", episodes_per_data_file=2, episodes_per_video_file=3,
                             files_per_chunk=2, **SMALL)
    return v3, base / "v21"


def _episodes(v3: Path) -> list[dict]:
    rows = pq.read_table(v3 / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    return sorted(rows, key=lambda r: r["episode_index"])


def _source_frames(v3: Path, key: str, record: dict, fps: float) -> np.ndarray:
    """The episode's frames decoded from the v3.0 file, chosen by timestamp as LeRobot's reader does."""
    path = v3 / V3_VIDEO_PATH.format(video_key=key, chunk_index=record[f"videos/{key}/chunk_index"],
                                     file_index=record[f"videos/{key}/file_index"])
    start, end = record[f"videos/{key}/from_timestamp"], record[f"videos/{key}/to_timestamp"]
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)
                  if start - 0.5 / fps <= f.time < end - 0.5 / fps]
    return np.stack(frames)


def _first_frame_time(path: Path) -> float:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).time


def test_the_generated_dataset_has_the_v3_layout(concat: tuple[Path, Path]) -> None:
    v3, _ = concat
    info = json.loads((v3 / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and is_v3(v3)
    assert sorted(str(p.relative_to(v3)) for p in (v3 / "data").rglob("*.parquet")) == [
        "data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet", "data/chunk-001/file-000.parquet"]
    assert (v3 / "videos/observation.images.front/chunk-000/file-001.mp4").is_file()
    assert not (v3 / "meta/episodes.jsonl").exists()
    # meta/tasks.parquet as pandas writes it: the task text is the frame's index.
    import pandas as pd
    tasks = pd.read_parquet(v3 / "meta/tasks.parquet")
    assert tasks.index[0] == "Pick up the red cube and place it in the bin." and list(tasks["task_index"]) == [0, 1, 2, 3]


def test_conversion_gives_the_same_rows_and_frames(concat: tuple[Path, Path], tmp_path: Path) -> None:
    v3, v21 = concat
    before = tree_digest(v3)
    report = convert_v3_to_v21(v3, tmp_path / "out")
    out = tmp_path / "out"
    assert tree_digest(v3) == before  # the source is only read
    assert (report.episodes, report.frames, report.copied_videos, report.reencoded_videos) == (5, sum(LENGTHS), 10, 0)

    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v2.1" and info["total_chunks"] == 1 and info["total_videos"] == 10
    assert info["data_path"] == "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    assert "data_files_size_in_mb" not in info and "fps" not in info["features"]["action"]
    episodes = [json.loads(line) for line in (out / "meta/episodes.jsonl").read_text().splitlines()]
    assert [(e["episode_index"], e["length"]) for e in episodes] == list(enumerate(LENGTHS))
    assert (out / "meta/tasks.jsonl").read_text() == (v21 / "meta/tasks.jsonl").read_text()
    stats_rows = [json.loads(line) for line in (out / "meta/episodes_stats.jsonl").read_text().splitlines()]
    original = [json.loads(line) for line in (v21 / "meta/episodes_stats.jsonl").read_text().splitlines()]
    assert stats_rows == original
    assert json.loads((out / "meta/stats.json").read_text()) == json.loads(json.dumps(compute_stats(out)))

    records = _episodes(v3)
    for record in records:
        ep = record["episode_index"]
        rel = f"data/chunk-000/episode_{ep:06d}.parquet"
        converted = pq.read_table(out / rel)
        assert converted.equals(pq.read_table(v21 / rel))  # every column, the global index included
        # ... and the same rows as the v3.0 file holds for it
        whole = pq.read_table(v3 / V3_DATA_PATH.format(chunk_index=record["data/chunk_index"], file_index=record["data/file_index"]))
        first = min(r["dataset_from_index"] for r in records
                    if (r["data/chunk_index"], r["data/file_index"]) == (record["data/chunk_index"], record["data/file_index"]))
        assert converted["action"].to_pylist() == whole.slice(record["dataset_from_index"] - first, record["length"])["action"].to_pylist()
        for key in CAMERAS:
            video = out / f"videos/chunk-000/{key}/episode_{ep:06d}.mp4"
            frames = read_frames(video)
            assert frames.shape[0] == record["length"]
            # Stream copy: the same packets, so the decoded pixels are identical, and the episode starts at t = 0.
            np.testing.assert_array_equal(frames, _source_frames(v3, key, record, info["fps"]))
            np.testing.assert_array_equal(frames, read_frames(v21 / f"videos/chunk-000/{key}/episode_{ep:06d}.mp4"))
            assert _first_frame_time(video) == 0.0


def test_episodes_cut_inside_a_gop_are_reencoded_close_to_the_source(tmp_path: Path) -> None:
    # One encode over each whole video file with a 40-frame GOP: episodes that do not start on a keyframe
    # cannot be copied and are decoded and encoded again.
    v3 = generate_v3_dataset(tmp_path / "v3", episodes_per_video_file=5, video_mode="continuous", gop=40, **SMALL)
    report = convert_v3_to_v21(v3, tmp_path / "out")
    # Four episodes per camera start inside a GOP; the first starts on the file's keyframe but its last B-frames
    # may be decoded after the next episode's first P-frame, which a copy would lose: re-encoded too then.
    assert report.copied_videos + report.reencoded_videos == 10 and report.reencoded_videos >= 8, report
    info = json.loads((v3 / "meta/info.json").read_text())
    for record in _episodes(v3):
        for key in CAMERAS:
            ep = record["episode_index"]
            video = tmp_path / f"out/videos/chunk-000/{key}/episode_{ep:06d}.mp4"
            frames, source = read_frames(video), _source_frames(v3, key, record, info["fps"])
            assert frames.shape == source.shape and _first_frame_time(video) == 0.0
            # A re-encode is lossy (H.264 at CRF 18 of already decoded frames), so pixels are compared within a
            # tolerance: the mean error of a near-lossless encode stays around 1 grey level; a shifted or
            # wrong frame (the square moves several pixels per frame) costs far more.
            error = np.abs(frames.astype(np.int16) - source).mean(axis=(1, 2, 3))
            assert error.max() < 3.0, (ep, key, error.round(2))
            shifted = np.abs(frames[1:].astype(np.int16) - source[:-1]).mean()
            assert len(frames) < 2 or shifted > error.mean(), (ep, key)


def test_the_lambda_accepts_v3_meta_and_plans_the_conversion(concat: tuple[Path, Path]) -> None:
    report = check_meta(local_reader(concat[0]), "so100_dualcam")
    assert report.errors == []
    assert V3_NOTE in report.warnings
    assert report.summary["version"] == "v3.0" and report.summary["conversion"] == "converted to v2.1 in the job"
    assert (report.summary["episodes"], report.summary["frames"]) == (5, sum(LENGTHS))
    assert report.summary["cameras"] == {key: "h264" for key in CAMERAS}


def test_a_truncated_data_file_is_named(concat: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    v3 = Path(shutil.copytree(concat[0], tmp_path / "v3"))
    path = v3 / "data/chunk-000/file-001.parquet"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"data/chunk-000/file-001.parquet: not a readable parquet file") as info:
        convert_v3_to_v21(v3, tmp_path / "out")
    assert "re-upload" in str(info.value)


def test_a_missing_video_file_is_named(concat: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    v3 = Path(shutil.copytree(concat[0], tmp_path / "v3"))
    (v3 / "videos/observation.images.wrist/chunk-000/file-001.mp4").unlink()
    with pytest.raises(DatasetError, match=r"videos/observation.images.wrist/chunk-000/file-001.mp4: video file missing"):
        convert_v3_to_v21(v3, tmp_path / "out")


def test_preflight_of_a_v3_asset_passes_and_leaves_it_unchanged(concat: tuple[Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from launcher import cli

    asset = tmp_path / "asset"
    shutil.copytree(concat[0], asset / "dataset")
    before = tree_digest(asset)
    code = cli.main(["preflight", str(asset), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result["errors"]
    assert tree_digest(asset) == before  # no modality.json, stats.json or converted files added to the asset
    dataset = result["dataset"]
    assert dataset["version"] == "v3.0" and dataset["episodes"] == 5 and dataset["frames"] == sum(LENGTHS)
    assert dataset["conversion"].startswith("converted to v2.1: 5 episodes, 10 episode videos cut by stream copy")
    assert dataset["prepared"] == [] and any(V3_NOTE in w for w in result["warnings"])


def test_preflight_names_the_asset_file_of_a_broken_v3_dataset(concat: tuple[Path, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from launcher import cli

    asset = tmp_path / "asset"
    shutil.copytree(concat[0], asset / "dataset")
    (asset / "dataset/meta/tasks.parquet").write_bytes(b"PAR1 not really")
    before = tree_digest(asset)
    code = cli.main(["preflight", str(asset), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 2 and tree_digest(asset) == before
    assert any("dataset/meta/tasks.parquet: not a readable parquet file" in e for e in result["errors"]), result["errors"]
