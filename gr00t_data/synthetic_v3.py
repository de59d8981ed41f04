"""Synthetic LeRobot v3.0 datasets (what LeRobot >= 0.4 records), for the conversion tests and benchmark.

A v2.1 dataset from :func:`gr00t_data.synthetic.generate_dataset` is packed the way LeRobot's own
``src/lerobot/datasets/v30/convert_dataset_v21_to_v30.py`` packs one (huggingface/lerobot commit
c9cd9c02304da7ec4bcaa5842a4dd52ed222e7c9; paths from ``src/lerobot/datasets/utils.py`` at 00448aa1):

* episodes are concatenated into ``data/chunk-XXX/file-YYY.parquet`` files; a file holds
  ``episodes_per_data_file`` episodes, then the next file starts (``update_chunk_file_indices``: a new chunk
  after ``files_per_chunk`` files);
* per camera, episode videos are concatenated by stream copy into ``videos/<key>/chunk-XXX/file-YYY.mp4``,
  ``episodes_per_video_file`` per file (a different rollover than the data files, as in real datasets), with
  ``from_timestamp`` / ``to_timestamp`` the running sum of the episode durations;
  ``video_mode="continuous"`` instead encodes each file's frames as one stream with a long GOP, so episodes
  start inside a GOP and cannot be stream-copied (the conversion must re-encode them);
* ``meta/episodes/chunk-000/file-000.parquet`` holds one row per episode with the locating columns and
  ``stats/<feature>/<stat>``; ``meta/tasks.parquet`` a pandas-style frame indexed by the task text;
* info.json: ``codebase_version`` v3.0, the v3 path templates, ``data_files_size_in_mb`` /
  ``video_files_size_in_mb``, no ``total_chunks`` / ``total_videos``, ``fps`` on every non-video feature.

The v2.1 dataset it was made from is kept next to it when ``keep_v21`` names a folder, so tests can compare.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import av
import pyarrow as pa
import pyarrow.parquet as pq

from gr00t_data.convert import PANDAS_INDEX, V3_DATA_PATH, V3_VIDEO_PATH
from gr00t_data.meta import data_file, video_file
from gr00t_data.synthetic import generate_dataset
from gr00t_data.video import open_writer, read_frames, write_video, yuv420p_frame

VIDEO_MODES = ("concat", "continuous")


def _next_file(chunk: int, number: int, files_per_chunk: int) -> tuple[int, int]:
    # LeRobot's update_chunk_file_indices
    return (chunk + 1, 0) if number == files_per_chunk - 1 else (chunk, number + 1)


def _groups(count: int, size: int, files_per_chunk: int) -> list[tuple[int, int, list[int]]]:
    out: list[tuple[int, int, list[int]]] = []
    chunk = number = 0
    for start in range(0, count, size):
        out.append((chunk, number, list(range(start, min(start + size, count)))))
        chunk, number = _next_file(chunk, number, files_per_chunk)
    return out


def _concat_by_copy(sources: list[Path], dest: Path, durations: list[float]) -> None:
    """One mp4 of the sources one after the other, packets copied (LeRobot's concatenate_video_files)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(dest), "w", format="mp4") as out:
        target = None
        elapsed = 0.0
        for source, duration in zip(sources, durations, strict=True):
            with av.open(str(source)) as container:
                stream = container.streams.video[0]
                if target is None:
                    target = out.add_stream_from_template(stream)
                shift = round(elapsed / stream.time_base)
                for packet in container.demux(stream):
                    if packet.pts is None or packet.dts is None:
                        continue
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = target
                    out.mux(packet)
            elapsed += duration


def _tasks_table(tasks: list[dict[str, Any]]) -> pa.Table:
    # What pandas.DataFrame({"task_index": ...}, index=texts).to_parquet() writes: the index as a column plus the
    # pandas schema metadata naming it as the index.
    table = pa.table({"task_index": pa.array([t["task_index"] for t in tasks], pa.int64()),
                      PANDAS_INDEX: pa.array([t["task"] for t in tasks], pa.string())})
    pandas_meta = {
        "index_columns": [PANDAS_INDEX],
        "column_indexes": [],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": PANDAS_INDEX, "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def generate_v3_dataset(
    root: Path,
    *,
    episodes_per_data_file: int = 2,
    episodes_per_video_file: int = 3,
    files_per_chunk: int = 1000,
    video_mode: str = "concat",
    gop: int = 2,
    keep_v21: Path | None = None,
    **v21: Any,
) -> Path:
    """Write a LeRobot v3.0 dataset under ``root`` and return ``root``.

    ``v21`` goes to :func:`gr00t_data.synthetic.generate_dataset` (layout, episodes, frames_per_episode,
    episode_lengths, fps, width, height, codec, seed, ...); ``gop`` is the keyframe interval of the episode
    videos (``concat``) or of each whole file (``continuous``).
    """
    if video_mode not in VIDEO_MODES:
        raise ValueError(f"unknown video_mode {video_mode!r}; choose one of {', '.join(VIDEO_MODES)}")
    if min(episodes_per_data_file, episodes_per_video_file, files_per_chunk) < 1:
        raise ValueError("episodes per file and files per chunk must be at least 1")
    root = Path(root)
    if (root / "meta" / "info.json").exists():
        raise FileExistsError(f"{root} already holds a dataset (meta/info.json); choose an empty folder")
    scratch = Path(tempfile.mkdtemp(prefix="v21-", dir=root.parent if root.parent.exists() else None))
    try:
        src = generate_dataset(scratch / "v21", **v21) if keep_v21 is None else generate_dataset(keep_v21, **v21)
        if video_mode == "concat" and gop != 2:
            _reencode_episodes(src, gop)
        _pack(src, root, episodes_per_data_file, episodes_per_video_file, files_per_chunk, video_mode, gop)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return root


def _cameras(info: dict[str, Any]) -> list[str]:
    return sorted(k for k, f in info["features"].items() if f.get("dtype") == "video")


def _reencode_episodes(src: Path, gop: int) -> None:
    info = json.loads((src / "meta/info.json").read_text())
    for row in _read_jsonl(src / "meta/episodes.jsonl"):
        for key in _cameras(info):
            path = src / video_file(info, key, row["episode_index"])
            write_video(path, read_frames(path), fps=info["fps"], codec=info["features"][key]["info"]["video.codec"], gop=gop)


def _pack(src: Path, root: Path, per_data: int, per_video: int, files_per_chunk: int, video_mode: str, gop: int) -> None:
    info = json.loads((src / "meta/info.json").read_text())
    episodes = _read_jsonl(src / "meta/episodes.jsonl")
    stats = {r["episode_index"]: r["stats"] for r in _read_jsonl(src / "meta/episodes_stats.jsonl")}
    fps = info["fps"]
    records: list[dict[str, Any]] = [dict(e) for e in episodes]

    offset = 0
    for chunk, number, members in _groups(len(episodes), per_data, files_per_chunk):
        tables = [pq.read_table(src / data_file(info, episodes[i]["episode_index"])) for i in members]
        path = root / V3_DATA_PATH.format(chunk_index=chunk, file_index=number)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), path)
        for i, table in zip(members, tables, strict=True):
            records[i].update({"data/chunk_index": chunk, "data/file_index": number,
                               "dataset_from_index": offset, "dataset_to_index": offset + table.num_rows})
            offset += table.num_rows

    for key in _cameras(info):
        codec = info["features"][key]["info"]["video.codec"]
        for chunk, number, members in _groups(len(episodes), per_video, files_per_chunk):
            path = root / V3_VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=number)
            durations = [episodes[i]["length"] / fps for i in members]
            sources = [src / video_file(info, key, episodes[i]["episode_index"]) for i in members]
            if video_mode == "concat":
                _concat_by_copy(sources, path, durations)
            else:
                # x264 would start a new GOP where the picture jumps (a new episode): its scene-cut detection is
                # switched off so that episodes really start inside a GOP.
                writer = open_writer(path, fps=fps, codec=codec, width=info["features"][key]["shape"][1],
                                     height=info["features"][key]["shape"][0], gop=gop, options={"sc_threshold": "0"})
                try:
                    for source in sources:
                        for image in read_frames(source):
                            writer.write(yuv420p_frame(image))
                finally:
                    writer.close()
            elapsed = 0.0
            for i, duration in zip(members, durations, strict=True):
                records[i].update({f"videos/{key}/chunk_index": chunk, f"videos/{key}/file_index": number,
                                   f"videos/{key}/from_timestamp": elapsed, f"videos/{key}/to_timestamp": elapsed + duration})
                elapsed += duration

    for record in records:
        for feature, values in stats[record["episode_index"]].items():
            for stat, value in values.items():
                record[f"stats/{feature}/{stat}"] = value
        record["meta/episodes/chunk_index"] = 0
        record["meta/episodes/file_index"] = 0
    meta = root / "meta"
    (meta / "episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), meta / "episodes/chunk-000/file-000.parquet")
    pq.write_table(_tasks_table(_read_jsonl(src / "meta/tasks.jsonl")), meta / "tasks.parquet")

    info["codebase_version"] = "v3.0"
    for gone in ("total_chunks", "total_videos"):
        info.pop(gone)
    info["data_files_size_in_mb"], info["video_files_size_in_mb"] = 100, 500
    info["data_path"], info["video_path"] = V3_DATA_PATH, V3_VIDEO_PATH
    for feature in info["features"].values():
        if feature["dtype"] != "video":
            feature["fps"] = fps
    (meta / "info.json").write_text(json.dumps(info, indent=4) + "\n")


__all__ = ["VIDEO_MODES", "generate_v3_dataset"]
