"""Check a local LeRobot v2.0/v2.1 dataset end to end and add what GR00T needs to train on it.

Checks: the meta files (:mod:`gr00t_data.meta`), every episode's parquet file (readable, columns, widths,
lengths), every camera's video files (present, readable header; one frame decoded per camera). Every blocking
problem is collected and raised at once as :class:`DatasetError`; nothing is written then.

When the dataset is ready, preparation only ADDS files: ``meta/modality.json`` from the data config's layout when
missing (a user's file is never replaced), ``meta/stats.json`` when missing or incomplete for GR00T. A file that
must be replaced (a stats.json lacking GR00T's fields, an episodes.jsonl with the blank lines GR00T chokes on)
is first kept as ``<name>.orig``; new files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gr00t_core.errors import DatasetError
from gr00t_data.meta import MODALITY, STATS, MetaReport, Reader, check_meta, data_file, video_file
from gr00t_data.stats import NumericData, load_numeric, missing_stats, stats_of
from gr00t_data.video import VideoReadError, decode_first_frame, probe_video

_SHOWN = 3  # example files named per problem; the count says how many more


@dataclass
class PrepareReport:
    dataset_dir: Path
    data_config: str
    summary: dict[str, Any]  # MetaReport.summary, cameras with the probed codec, plus "prepared"
    warnings: list[str] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)  # files written, relative to dataset_dir
    originals: dict[str, str] = field(default_factory=dict)  # replaced file -> where its original was kept


def local_reader(root: Path) -> Reader:
    """``read(relpath)`` over a local folder, as :func:`gr00t_data.meta.check_meta` takes it."""

    def read(relative: str) -> bytes | None:
        try:
            return (root / relative).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    return read


def _examples(items: list[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


# --- checks ----------------------------------------------------------------------------------------------------
def _modality_columns(meta: MetaReport, section: str, default: str) -> set[str]:
    entries = (meta.modality or {}).get(section) or {}
    return {e.get("original_key", default) for e in entries.values() if isinstance(e, dict)}


def _annotation_columns(meta: MetaReport) -> set[str]:
    """Columns the annotation entries read: ``original_key``, else GR00T's default ``annotation.<name>``
    (NVIDIA's GR1 demo stores these as int64 task indexes and gives no original_key)."""
    entries = (meta.modality or {}).get("annotation") or {}
    return {
        e.get("original_key") or f"annotation.{name}" for name, e in entries.items() if isinstance(e, dict)
    } if isinstance(entries, dict) else set()


def _check_annotations(path: Path, rel: str, columns: set[str], problems: list[str]) -> None:
    """Annotation columns hold integer task indexes (resolved through meta/tasks.jsonl) or text."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return  # load_numeric has reported the file already
    for column in sorted(columns):
        if column not in schema.names:
            problems.append(f"{rel}: column {column!r} is missing (GR00T reads it as the language annotation)")
            continue
        kind = schema.field(column).type
        if not (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            problems.append(
                f"{rel}: annotation column {column!r} is {kind}; it must hold task indexes (int64) into meta/tasks.jsonl"
            )


def _check_parquet(root: Path, meta: MetaReport, problems: list[str], warnings: list[str]) -> NumericData | None:
    paths = [root / data_file(meta.info, e["episode_index"]) for e in meta.episodes]
    try:
        data = load_numeric(paths, base=root)
    except DatasetError as exc:
        problems.extend(exc.problems)
        return None
    features = meta.info.get("features", {})
    needed = _modality_columns(meta, "state", "observation.state") | _modality_columns(meta, "action", "action")
    annotation = _annotation_columns(meta)
    first = data_file(meta.info, meta.episodes[0]["episode_index"])
    for column in sorted(needed | {"timestamp"}):
        if column not in data.columns:
            problems.append(f"{first}: column {column!r} is missing (GR00T reads it)")
    _check_annotations(root / first, first, annotation, problems)
    for column in sorted(set(features) - set(data.columns) - needed - annotation - {"timestamp"}):
        if features[column].get("dtype") in ("video", "image", "string"):
            continue
        warnings.append(f"meta/info.json lists {column!r} but the parquet files have no such numeric column (ignored)")
    for column, matrix in data.columns.items():
        shape = features.get(column, {}).get("shape")
        if column in needed and isinstance(shape, list) and len(shape) == 1 and shape[0] != matrix.shape[1]:
            problems.append(f"{column!r} has {matrix.shape[1]} values per frame but meta/info.json says {shape[0]}; fix info.json or re-export")
        if column in needed and not np.isfinite(matrix).all():
            problems.append(f"{column!r} holds NaN or infinite values; GR00T cannot normalise them - re-export the affected episodes")
    short = [
        f"{data_file(meta.info, e['episode_index'])} ({n} rows, {e['length']} listed)"
        for e, n in zip(meta.episodes, data.rows, strict=True)
        if n < e["length"]
    ]
    if short:
        problems.append(f"episode files shorter than meta/episodes.jsonl says: {_examples(short)}")
    longer = [e["episode_index"] for e, n in zip(meta.episodes, data.rows, strict=True) if n > e["length"]]
    if longer:
        warnings.append(f"{len(longer)} episode file(s) hold more rows than meta/episodes.jsonl lists; GR00T uses the listed length")
    return data


def _check_videos(root: Path, meta: MetaReport, decode: bool, problems: list[str], warnings: list[str]) -> dict[str, str]:
    """Cameras the data config reads -> probed codec; unused cameras only get a warning when their files are absent."""
    info = meta.info
    if not info.get("video_path"):
        return {}
    features = info.get("features", {})
    needed = _modality_columns(meta, "video", "")
    codecs: dict[str, str] = {}
    first = meta.episodes[0]["episode_index"]
    for camera in sorted(k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "video"):
        if camera not in needed:
            if not (root / video_file(info, camera, first)).is_file():
                warnings.append(f"meta/info.json lists camera {camera!r} but it has no video files; the data config does not use it")
            continue
        files = [video_file(info, camera, e["episode_index"]) for e in meta.episodes]
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            problems.append(f"{camera}: {len(missing)} of {len(files)} video file(s) missing: {_examples(missing)}; upload them")
        unreadable: list[str] = []
        for rel in files:
            if rel in missing:
                continue
            try:
                probe = probe_video(root / rel)
            except VideoReadError as exc:
                unreadable.append(f"{rel} ({str(exc).split(': ', 1)[-1]})")
                continue
            codecs.setdefault(camera, probe.codec)
        if unreadable:
            problems.append(f"{camera}: {len(unreadable)} unreadable video file(s): {_examples(unreadable)}; re-encode or restore them")
        declared = meta.summary.get("cameras", {}).get(camera)
        if camera in codecs and declared and declared != codecs[camera]:
            warnings.append(f"{camera}: meta/info.json says codec {declared!r} but the files are {codecs[camera]!r}")
        if decode and camera in codecs and files[0] not in missing:
            try:
                decode_first_frame(root / files[0])
            except VideoReadError as exc:
                problems.append(f"{camera}: {exc}; this machine's FFmpeg cannot decode {codecs[camera]} - re-encode to h264")
    return codecs


# --- writes ----------------------------------------------------------------------------------------------------
def _write_atomic(path: Path, text: str, *, replace: bool) -> None:
    """Write through a temporary file in the same folder; ``replace=False`` never replaces an existing file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError instead of replacing a file that appeared meanwhile
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _keep_original(path: Path) -> Path:
    """Copy ``path`` to ``<name>.orig`` (``.orig.1``, ... when taken by different content) before it is replaced."""
    content = path.read_bytes()
    for n in range(1000):
        backup = path.with_name(f"{path.name}.orig" + (f".{n}" if n else ""))
        if backup.exists():
            if backup.read_bytes() == content:
                return backup
            continue
        with open(backup, "xb") as handle:
            handle.write(content)
        return backup
    raise DatasetError([f"{path}: too many .orig copies next to it; tidy them up"])


def _replace_keeping_original(root: Path, rel: str, text: str, report: PrepareReport) -> None:
    path = root / rel
    backup = _keep_original(path)
    _write_atomic(path, text, replace=True)
    report.prepared.append(rel)
    report.originals[rel] = str(backup.relative_to(root))


def _stats_problems(path: Path, data: NumericData, needed: set[str]) -> list[str]:
    """Why an existing stats.json is not usable by GR00T ([] when it is)."""
    try:
        stats = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"not valid JSON ({exc})"]
    problems = missing_stats(stats, sorted(needed))
    for column in sorted(needed & set(data.columns)):
        entry = stats.get(column) if isinstance(stats, dict) else None
        width = data.columns[column].shape[1]
        if isinstance(entry, dict) and any(not isinstance(entry.get(f), list) or len(entry[f]) != width for f in ("min", "max", "mean", "std", "q01", "q99") if f in entry):
            problems.append(f"{column!r} statistics do not have {width} values per field")
    return problems


def _write_files(root: Path, meta: MetaReport, data: NumericData, report: PrepareReport) -> None:
    for rel, blanks in meta.blank_lines.items():
        lines = (root / rel).read_text(encoding="utf-8-sig").splitlines()
        kept = [line for number, line in enumerate(lines, start=1) if number not in set(blanks)]
        _replace_keeping_original(root, rel, "".join(line + "\n" for line in kept), report)

    if meta.modality_is_template and meta.modality is not None:
        try:
            _write_atomic(root / MODALITY, json.dumps(meta.modality, indent=4) + "\n", replace=False)
            report.prepared.append(MODALITY)
            report.summary["modality"] = f"created from {report.data_config}"
        except FileExistsError:
            report.warnings.append(f"{MODALITY} appeared while preparing; kept as it is")

    needed = _modality_columns(meta, "state", "observation.state") | _modality_columns(meta, "action", "action")
    stats_path = root / STATS
    if not stats_path.exists():
        text = json.dumps(stats_of(data, where=str(root / "data")), indent=2) + "\n"
        _write_atomic(stats_path, text, replace=False)
        report.prepared.append(STATS)
        return
    lacking = _stats_problems(stats_path, data, needed)
    if lacking:
        text = json.dumps(stats_of(data, where=str(root / "data")), indent=2) + "\n"
        _replace_keeping_original(root, STATS, text, report)
        report.warnings.append(
            f"{STATS} was incomplete for GR00T ({_examples(lacking)}); recomputed, original kept as {report.originals[STATS]}"
        )


def prepare_dataset(dataset_dir: Path, data_config: str, *, decode_check: bool = True, write: bool = True) -> PrepareReport:
    """Check the dataset at ``dataset_dir`` for ``data_config`` and add modality.json / stats.json when needed.

    ``decode_check`` decodes one frame per camera; ``write=False`` checks only and writes nothing.
    Raises DatasetError listing every blocking problem.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(
            [f"{root}: dataset folder not found; datasetPath must name the folder holding meta/, data/ and videos/"]
        )
    meta = check_meta(local_reader(root), data_config)
    if str(meta.summary.get("version", "")).startswith("v3"):
        raise DatasetError([f"{root}: a LeRobot v3.0 dataset is prepared through its v2.1 conversion "
                            "(gr00t_data.convert.convert_and_prepare into another folder)"])
    problems, warnings = list(meta.errors), list(meta.warnings)
    data = None
    codecs: dict[str, str] = {}
    if meta.info and meta.episodes and isinstance(meta.info.get("data_path"), str):
        data = _check_parquet(root, meta, problems, warnings)
        if meta.modality is not None:
            codecs = _check_videos(root, meta, decode_check, problems, warnings)
    if problems:
        raise DatasetError(problems, header=f"The dataset at {root} is not ready for training")
    assert data is not None  # no problem reported means the meta files and the parquet files were readable

    summary = dict(meta.summary)
    summary["cameras"] = {**summary.get("cameras", {}), **codecs}
    report = PrepareReport(root, data_config, summary, warnings)
    try:
        if write:
            _write_files(root, meta, data, report)
    except PermissionError as exc:
        raise DatasetError(
            [f"{exc.filename or root}: cannot write ({exc.strerror}); make the dataset folder writable or prepare a copy"]
        ) from None
    summary["prepared"] = list(report.prepared)
    return report


__all__ = ["PrepareReport", "local_reader", "prepare_dataset"]
