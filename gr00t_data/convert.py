"""LeRobot v3.0 -> v2.1, the layout GR00T N1.5 reads: per-episode parquet files and videos, jsonl metadata.

The v3.0 layout, as LeRobot writes it (huggingface/lerobot ``src/lerobot/datasets/utils.py`` at commit
00448aa17406616512cfd9bba3ddb9a6cf906379, and the v2.1 -> v3.0 converter
``src/lerobot/datasets/v30/convert_dataset_v21_to_v30.py`` at c9cd9c02304da7ec4bcaa5842a4dd52ed222e7c9):

* ``data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet``: many episodes per file; ``index`` is global;
* ``videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4``: many episodes per file, one after
  the other, addressed by ``videos/<key>/from_timestamp`` / ``to_timestamp`` (relative to the file);
* ``meta/episodes/chunk-*/file-*.parquet``: one row per episode with ``episode_index``, ``tasks`` (list of
  text), ``length``, ``data/chunk_index``, ``data/file_index``, ``dataset_from_index``, ``dataset_to_index``,
  ``videos/<key>/{chunk_index,file_index,from_timestamp,to_timestamp}`` and ``stats/<feature>/<stat>``;
* ``meta/tasks.parquet``: a pandas frame whose index is the task text (stored as ``__index_level_0__``) with a
  ``task_index`` column.

What the conversion must get right is what NVIDIA/Isaac-GR00T ``scripts/lerobot_conversion/convert_v3_to_v2.py``
(commit 26180b20d62dded7938b1f7a1428033b7b8e07fa) does, less its weak point: it cuts videos with
``ffmpeg -ss -t -c copy``, which snaps to keyframes and can add frames or shift the start. Here packets are
selected by their own timestamps: an episode whose packets start on a keyframe and form a closed run in decode
order is stream-copied (LeRobot encodes every episode on its own and concatenates by stream copy, so this is the
normal case); any other episode is decoded and re-encoded. Each converted video starts at t = 0.

``stats.json`` is recomputed with GR00T's formula (:mod:`gr00t_data.stats`): LeRobot's q01/q99 are
count-weighted means of per-episode quantiles, not quantiles over all frames. The source is only read.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gr00t_core.errors import DatasetError
from gr00t_core.json_text import JsonTextError, parse_json
from gr00t_data.meta import parse_version
from gr00t_data.stats import compute_stats
from gr00t_data.video import VideoReadError, encoder_for, open_writer

V21 = "v2.1"
V3_DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V3_VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
V3_EPISODES_GLOB = "meta/episodes/chunk-*/file-*.parquet"
V3_TASKS = "meta/tasks.parquet"
V21_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V21_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
DEFAULT_CHUNKS_SIZE = 1000
PANDAS_INDEX = "__index_level_0__"  # where pandas.DataFrame.to_parquet stores a non-default index (the task text)
# Re-encoded episodes: near-lossless, and LeRobot's own short GOP (encode_video_frames, g=2) for random access.
REENCODE_CRF = 18
REENCODE_GOP = 2
_V3_ONLY_INFO = ("data_files_size_in_mb", "video_files_size_in_mb")


def is_v3(dataset_dir: Path) -> bool:
    """Whether ``meta/info.json`` says LeRobot v3.x (False when it cannot be read: the checks report that)."""
    try:
        info = parse_json((Path(dataset_dir) / "meta/info.json").read_bytes(), name="meta/info.json")
    except (OSError, JsonTextError):
        return False
    parsed = parse_version(info.get("codebase_version")) if isinstance(info, dict) else None
    return parsed is not None and parsed[0] >= 3


@dataclass
class ConversionReport:
    source: Path
    dest: Path
    episodes: int = 0
    frames: int = 0
    copied_videos: int = 0  # episode videos cut by stream copy
    reencoded_videos: int = 0  # episode videos decoded and encoded again (the source did not allow a copy)
    video_seconds: float = 0.0  # duration of all converted episode videos together
    warnings: list[str] = field(default_factory=list)


class _Bad(Exception):
    """One blocking problem, already phrased for the user."""


def _read_table(root: Path, rel: str) -> pa.Table:
    try:
        return pq.read_table(root / rel)
    except FileNotFoundError:
        raise _Bad(f"{rel}: file missing; the LeRobot v3.0 dataset is incomplete - upload it whole") from None
    except (pa.ArrowException, OSError) as exc:
        raise _Bad(f"{rel}: not a readable parquet file ({exc}); re-upload it") from None


def _episode_records(root: Path) -> list[dict[str, Any]]:
    paths = sorted(root.glob(V3_EPISODES_GLOB))
    if not paths:
        raise _Bad("meta/episodes/: no chunk-*/file-*.parquet found; a LeRobot v3.0 dataset lists its episodes there")
    records: list[dict[str, Any]] = []
    for path in paths:
        rel = str(path.relative_to(root))
        table = _read_table(root, rel)
        needed = ("episode_index", "length", "dataset_from_index", "dataset_to_index")
        missing = [c for c in needed if c not in table.column_names]
        if missing:
            raise _Bad(f"{rel}: column(s) {', '.join(missing)} missing; re-export the dataset with LeRobot >= 0.4")
        # Only the columns that locate data; the stats columns are read separately for episodes_stats.jsonl.
        keep = [c for c in table.column_names if not c.startswith("stats/")]
        records.extend(table.select(keep).to_pylist())
    records.sort(key=lambda r: int(r["episode_index"]))
    seen: set[int] = set()
    for r in records:
        index, length = r["episode_index"], r["length"]
        if index in seen:
            raise _Bad(f"meta/episodes/: episode_index {index} is listed twice; re-export the dataset")
        seen.add(index)
        if not isinstance(length, int) or length < 1 or r["dataset_to_index"] - r["dataset_from_index"] != length:
            raise _Bad(
                f"meta/episodes/: episode {index} has length {length!r} but rows {r['dataset_from_index']} to "
                f"{r['dataset_to_index']}; re-export the dataset"
            )
    return records


def _episode_stats(root: Path) -> list[dict[str, Any]]:
    """episodes_stats.jsonl rows rebuilt from the ``stats/<feature>/<stat>`` columns of meta/episodes/."""
    rows: list[dict[str, Any]] = []
    for path in sorted(root.glob(V3_EPISODES_GLOB)):
        table = _read_table(root, str(path.relative_to(root)))
        columns = [c for c in table.column_names if c.startswith("stats/") and c.count("/") >= 2]
        if not columns:
            continue
        data = table.select(["episode_index", *columns]).to_pylist()
        for row in data:
            stats: dict[str, dict[str, Any]] = defaultdict(dict)
            for column in columns:
                feature, stat = column[len("stats/") :].rsplit("/", 1)
                stats[feature][stat] = row[column]
            rows.append({"episode_index": row["episode_index"], "stats": dict(stats)})
    rows.sort(key=lambda r: int(r["episode_index"]))
    return rows


def _tasks(root: Path) -> list[dict[str, Any]]:
    table = _read_table(root, V3_TASKS)
    text = next((c for c in (PANDAS_INDEX, "task") if c in table.column_names), None)
    if "task_index" not in table.column_names or text is None:
        raise _Bad(
            f"{V3_TASKS}: needs a task_index column and the task text (pandas index or a 'task' column), "
            f"has {', '.join(table.column_names)}; re-export the dataset with LeRobot >= 0.4"
        )
    rows = [{"task_index": int(i), "task": str(t)} for i, t in zip(table["task_index"].to_pylist(), table[text].to_pylist(), strict=True)]
    return sorted(rows, key=lambda r: r["task_index"])


def _template(info: dict[str, Any], key: str, default: str) -> str:
    value = info.get(key)
    return value if isinstance(value, str) and value else default


def _convert_data(root: Path, dest: Path, info: dict[str, Any], records: list[dict[str, Any]], chunks: int) -> None:
    pattern = _template(info, "data_path", V3_DATA_PATH)
    by_file: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_file[(int(r.get("data/chunk_index") or 0), int(r.get("data/file_index") or 0))].append(r)
    for (chunk, number), group in sorted(by_file.items()):
        rel = pattern.format(chunk_index=chunk, file_index=number)
        table = _read_table(root, rel)
        group.sort(key=lambda r: int(r["dataset_from_index"]))
        # A file restarts at row 0 (size rollover, resumed recording): slice relative to its first episode;
        # the global ``index`` column is kept as it is.
        first = int(group[0]["dataset_from_index"])
        for r in group:
            start, length = int(r["dataset_from_index"]) - first, int(r["length"])
            if start + length > table.num_rows:
                raise _Bad(
                    f"{rel}: episode {r['episode_index']} needs rows {start} to {start + length} but the file has "
                    f"{table.num_rows}; the dataset is truncated - re-upload it"
                )
            index = int(r["episode_index"])
            out = dest / V21_DATA_PATH.format(episode_chunk=index // chunks, episode_index=index)
            out.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(start, length), out)


# --- video ------------------------------------------------------------------------------------------------------
@dataclass
class _Cut:
    episode_index: int
    start: float  # seconds from the start of the source file
    end: float
    length: int  # frames the episode's parquet rows expect
    dest: Path


def _packets(path: Path, rel: str) -> tuple[av.container.InputContainer, av.video.stream.VideoStream, list[av.Packet]]:
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise _Bad(f"{rel}: video file missing; the LeRobot v3.0 dataset is incomplete - upload it whole") from None
    except (av.FFmpegError, OSError) as exc:
        raise _Bad(f"{rel}: not a readable video ({exc}); re-upload it") from None
    if not container.streams.video:
        container.close()
        raise _Bad(f"{rel}: holds no video stream")
    stream = container.streams.video[0]
    try:
        # Packets of one file (LeRobot caps files at 500 MB): demuxing is cheap, and holding them lets every
        # episode be checked for a stream copy before anything is written.
        packets = [p for p in container.demux(stream) if p.pts is not None and p.dts is not None]
    except av.FFmpegError as exc:
        container.close()
        raise _Bad(f"{rel}: cannot be read ({exc}); re-upload it") from None
    return container, stream, packets


def _pts(packet: av.Packet) -> int:
    # _packets keeps only packets with a pts and a dts; this tells the type checker so.
    if packet.pts is None or packet.dts is None:
        raise ValueError("a packet without timestamps")
    return packet.pts


def _time_base(stream: av.video.stream.VideoStream) -> Fraction:
    if stream.time_base is None:
        raise ValueError("the video stream has no time base")
    return stream.time_base


def _copyable(packets: list[av.Packet], chosen: list[int]) -> bool:
    """The chosen packets (indices in decode order) decode on their own: one unbroken run in decode order that
    starts with a keyframe presented first (an open GOP or a cut inside a GOP fails this)."""
    if not chosen or chosen != list(range(chosen[0], chosen[-1] + 1)):
        return False
    first = packets[chosen[0]]
    return bool(first.is_keyframe) and _pts(first) == min(_pts(packets[i]) for i in chosen)


def _stream_copy(stream: av.video.stream.VideoStream, packets: list[av.Packet], chosen: list[int], dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = _pts(packets[chosen[0]])  # the episode's first frame becomes t = 0
    with av.open(str(dest), "w", format="mp4") as out:
        target = out.add_stream_from_template(stream)
        for i in chosen:
            packet = packets[i]
            packet.pts, packet.dts = _pts(packet) - offset, (packet.dts or 0) - offset
            packet.stream = target
            out.mux(packet)


def _reencode(container: av.container.InputContainer, stream: av.video.stream.VideoStream, codec: str,
              cuts: list[_Cut], fps: float, tol: float) -> None:
    """Decode the file once and encode the frames of each cut into its own file (frame i at i / fps)."""
    encoder = codec if encoder_for(codec) else "h264"
    container.seek(0)
    writers: dict[int, Any] = {}
    counts: dict[int, int] = defaultdict(int)
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * _time_base(stream))
            for n, cut in enumerate(cuts):
                if cut.start - tol <= t < cut.end - tol:
                    if n not in writers:
                        writers[n] = open_writer(cut.dest, fps=fps, codec=encoder, width=frame.width,
                                                 height=frame.height, crf=REENCODE_CRF, gop=REENCODE_GOP)
                    writers[n].write(frame.reformat(format="yuv420p"))
                    counts[n] += 1
                    break
    except av.FFmpegError as exc:
        raise _Bad(f"{cuts[0].dest.name}: decoding the source video failed ({exc})") from None
    finally:
        for writer in writers.values():
            writer.close()


def _convert_camera(root: Path, dest: Path, info: dict[str, Any], key: str, records: list[dict[str, Any]],
                    chunks: int, fps: float, codec: str, report: ConversionReport) -> None:
    pattern = _template(info, "video_path", V3_VIDEO_PATH)
    by_file: dict[tuple[int, int], list[_Cut]] = defaultdict(list)
    for r in records:
        index = int(r["episode_index"])
        start, end = r.get(f"videos/{key}/from_timestamp"), r.get(f"videos/{key}/to_timestamp")
        if start is None or end is None:
            raise _Bad(f"meta/episodes/: episode {index} has no videos/{key}/from_timestamp or to_timestamp; re-export the dataset")
        file_key = (int(r.get(f"videos/{key}/chunk_index") or 0), int(r.get(f"videos/{key}/file_index") or 0))
        out = dest / V21_VIDEO_PATH.format(episode_chunk=index // chunks, video_key=key, episode_index=index)
        by_file[file_key].append(_Cut(index, float(start), float(end), int(r["length"]), out))
    # from/to_timestamp are sums of float durations: half a frame period absorbs their drift and never reaches
    # a neighbouring frame (LeRobot itself matches frames to timestamps within 1e-4 s).
    tol = 0.5 / fps
    for (chunk, number), cuts in sorted(by_file.items()):
        rel = pattern.format(video_key=key, chunk_index=chunk, file_index=number)
        container, stream, packets = _packets(root / rel, rel)
        try:
            base = stream.start_time or 0
            times = [float((_pts(p) - base) * _time_base(stream)) for p in packets]
            again: list[_Cut] = []
            for cut in sorted(cuts, key=lambda c: c.start):
                chosen = [i for i, t in enumerate(times) if cut.start - tol <= t < cut.end - tol]
                if len(chosen) != cut.length:
                    report.warnings.append(
                        f"{rel}: episode {cut.episode_index} spans {len(chosen)} frame(s) from {cut.start:.3f} s to "
                        f"{cut.end:.3f} s but has {cut.length} rows; GR00T reads the frames at the rows' timestamps"
                    )
                if _copyable(packets, chosen):
                    _stream_copy(stream, packets, chosen, cut.dest)
                    report.copied_videos += 1
                else:
                    again.append(cut)
                report.video_seconds += cut.end - cut.start
            if again:
                _reencode(container, stream, codec, [
                    _Cut(c.episode_index, c.start + float(base * _time_base(stream)),
                         c.end + float(base * _time_base(stream)), c.length, c.dest) for c in again], fps, tol)
                report.reencoded_videos += len(again)
        except (av.FFmpegError, VideoReadError, ValueError) as exc:
            raise _Bad(f"{rel}: cannot be cut into episodes ({exc}); re-encode it to h264 or re-upload it") from None
        finally:
            container.close()


# --- metadata ---------------------------------------------------------------------------------------------------
def _v21_info(info: dict[str, Any], records: list[dict[str, Any]], cameras: list[str], chunks: int) -> dict[str, Any]:
    """info.json as v2.1 has it (what Isaac-GR00T's convert_info restores)."""
    out = json.loads(json.dumps(info))
    out["codebase_version"] = V21
    for key in _V3_ONLY_INFO:
        out.pop(key, None)
    for feature in out.get("features", {}).values():
        if isinstance(feature, dict) and feature.get("dtype") != "video":
            feature.pop("fps", None)  # LeRobot's v3 converter adds fps to every non-video feature
    out["data_path"] = V21_DATA_PATH
    out["video_path"] = V21_VIDEO_PATH if cameras else None
    out["total_episodes"] = len(records)
    out["total_frames"] = sum(int(r["length"]) for r in records)
    out["total_chunks"] = math.ceil(len(records) / chunks) if records else 0
    out["total_videos"] = len(records) * len(cameras)
    out["chunks_size"] = chunks
    out["splits"] = {"train": f"0:{len(records)}"}
    return out


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, default=_plain) + "\n" for r in rows)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def convert_and_prepare(source: Path, dest: Path, data_config: str, *, decode_check: bool = True) -> tuple[ConversionReport, Any]:
    """Check the v3.0 meta files for ``data_config``, convert ``source`` into ``dest`` and prepare the copy
    (:func:`gr00t_data.prepare.prepare_dataset`: modality.json, every check). Returns both reports; the
    prepare report's summary keeps the source's version and says what the conversion did."""
    from gr00t_data.meta import V3_NOTE, check_meta
    from gr00t_data.prepare import local_reader, prepare_dataset

    meta = check_meta(local_reader(Path(source)), data_config)
    if meta.errors:
        raise DatasetError(list(meta.errors), header=f"The dataset at {source} is not ready for training")
    conversion = convert_v3_to_v21(source, dest)
    report = prepare_dataset(dest, data_config, decode_check=decode_check)
    report.summary["version"] = meta.summary.get("version")
    report.summary["conversion"] = (
        f"converted to v2.1: {conversion.episodes} episodes, {conversion.copied_videos} episode videos cut by stream "
        f"copy, {conversion.reencoded_videos} re-encoded"
    )
    report.warnings[:0] = [V3_NOTE, *conversion.warnings]
    return conversion, report


def convert_v3_to_v21(source: Path, dest: Path) -> ConversionReport:
    """Write the v2.1 form of the v3.0 dataset at ``source`` into ``dest`` (created; must not exist or be empty).

    ``source`` is only read. Raises DatasetError naming the file and the fix when the dataset cannot be converted.
    """
    source, dest = Path(source), Path(dest)
    report = ConversionReport(source, dest)
    if dest.exists() and any(dest.iterdir()):
        raise DatasetError([f"{dest}: the conversion needs an empty folder"])
    try:
        try:
            info = parse_json((source / "meta/info.json").read_bytes(), name="meta/info.json")
        except FileNotFoundError:
            raise _Bad("meta/info.json not found; datasetPath must point at the folder holding meta/, data/ and videos/") from None
        except JsonTextError as exc:
            raise _Bad(str(exc)) from None
        if not isinstance(info, dict) or not isinstance(info.get("features"), dict):
            raise _Bad("meta/info.json: must be an object with a 'features' object; re-export the dataset")
        fps = info.get("fps")
        if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 0 < fps <= 1000:
            raise _Bad(f"meta/info.json: fps must be a number of frames per second above 0 and at most 1000, got {fps!r}")
        size = info.get("chunks_size", DEFAULT_CHUNKS_SIZE)
        chunks = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else DEFAULT_CHUNKS_SIZE
        records = _episode_records(source)
        tasks = _tasks(source)
        cameras = sorted(k for k, f in info["features"].items() if isinstance(f, dict) and f.get("dtype") == "video")
        dest.mkdir(parents=True, exist_ok=True)
        _convert_data(source, dest, info, records, chunks)
        for key in cameras if info.get("video_path") else []:
            details = info["features"][key].get("info") or {}
            codec = str(details.get("video.codec") or "h264")
            _convert_camera(source, dest, info, key, records, chunks, float(fps), codec, report)
        meta = dest / "meta"
        meta.mkdir(exist_ok=True)
        (meta / "info.json").write_text(json.dumps(_v21_info(info, records, cameras if info.get("video_path") else [], chunks), indent=4) + "\n")
        (meta / "tasks.jsonl").write_text(_jsonl(tasks))
        (meta / "episodes.jsonl").write_text(_jsonl(
            {"episode_index": int(r["episode_index"]), "tasks": list(r.get("tasks") or []), "length": int(r["length"])}
            for r in records
        ))
        stats = _episode_stats(source)
        if stats:
            (meta / "episodes_stats.jsonl").write_text(_jsonl(stats))
        if (source / "meta/modality.json").is_file():
            shutil.copyfile(source / "meta/modality.json", meta / "modality.json")  # the user's GR00T layout
        (meta / "stats.json").write_text(json.dumps(compute_stats(dest), indent=2) + "\n")
    except _Bad as exc:
        raise DatasetError([str(exc)], header=f"The LeRobot v3.0 dataset at {source} cannot be converted to v2.1") from None
    report.episodes = len(records)
    report.frames = sum(int(r["length"]) for r in records)
    return report


__all__ = ["ConversionReport", "convert_and_prepare", "convert_v3_to_v21", "is_v3"]
