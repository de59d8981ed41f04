"""JSON-level checks of a LeRobot v2.0/v2.1 dataset's ``meta/`` folder, against a GR00T data config.

Pure Python (json only): the launch Lambda runs these on files read from S3 before any GPU is paid for, and
:mod:`gr00t_data.prepare` runs them first on local folders. ``read(relpath)`` returns a file's bytes, or None
when the file does not exist. Real errors (GR00T would crash or train on the wrong columns) go to ``errors``;
quirks that real datasets ship with and GR00T tolerates (NVIDIA's own demo: ``total_chunks: 0``, a split wider
than the episodes, a listed camera without files) go to ``warnings``. Facts: LeRobot's dataset format (https://github.com/huggingface/lerobot, lerobot/common/datasets/lerobot_dataset.py, codebase v2.0/v2.1); docs/datasets.md.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from gr00t_core.data_configs import (
    MAX_ACTION_DIM,
    MAX_STATE_DIM,
    DataConfig,
    example_modality,
    get_data_config,
    is_custom_config,
)
from gr00t_core.json_text import JsonTextError, parse_json, parse_json_lines

Reader = Callable[[str], "bytes | None"]

INFO = "meta/info.json"
EPISODES = "meta/episodes.jsonl"
TASKS = "meta/tasks.jsonl"
MODALITY = "meta/modality.json"
STATS = "meta/stats.json"
SUPPORTED_VERSIONS = ("v2.0", "v2.1")
DEFAULT_CHUNKS_SIZE = 1000
MAX_FPS = 1000  # above any camera a robot dataset records with; larger values are corruption
MAX_COUNT = 10**9  # episodes, frames, chunk size: far beyond real datasets, small enough for any arithmetic
MAX_NAME_BYTES = 255  # NAME_MAX of Linux file systems (ext4, xfs): a longer file or folder name cannot exist
STATE_KEY = "observation.state"  # modality.json default original_key of state entries (GR00T)
ACTION_KEY = "action"
V3_TASKS = "meta/tasks.parquet"
# GR00T N1.5 reads v2.x only; a v3.0 dataset is converted (gr00t_data.convert) on a copy before training.
V3_NOTE = "LeRobot v3.0 dataset: converted to v2.1 in the job (per-episode files on a copy; the asset is not changed)"


@dataclass
class MetaReport:
    """What the meta files say, and what is wrong with them.

    ``summary``: version, robot_type, episodes, frames, fps, tasks, cameras (video feature -> codec),
    state_dim, action_dim, modality ("present" or "will be created from <config>").
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    # Parsed content, for the parquet/video checks of gr00t_data.prepare (empty when unreadable).
    info: dict[str, Any] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    modality: dict[str, Any] | None = None  # the user's modality.json, or the template that would be written
    modality_is_template: bool = False
    blank_lines: dict[str, list[int]] = field(default_factory=dict)  # jsonl file -> 1-based blank line numbers

    @property
    def ok(self) -> bool:
        return not self.errors


class _Stop(Exception):
    """Nothing further can be checked (e.g. info.json unreadable); the report already holds the reason."""


def _load_json(read: Reader, name: str, report: MetaReport, *, required: bool) -> Any:
    raw = read(name)
    if raw is None:
        if required:
            report.errors.append(f"{name} not found; datasetPath must point at the folder holding meta/, data/ and videos/")
            raise _Stop
        return None
    try:
        return parse_json(raw, name=name)
    except JsonTextError as exc:
        report.errors.append(str(exc))
        raise _Stop from None


def parse_jsonl(text: str | bytes, name: str) -> tuple[list[Any], list[int], list[str]]:
    """Rows, 1-based blank line numbers, and one error per malformed line (naming file and line)."""
    return parse_json_lines(text, name=name)


def _load_jsonl(raw: bytes | None, name: str, report: MetaReport) -> list[Any] | None:
    if raw is None:
        return None
    try:
        rows, blanks, errors = parse_jsonl(raw, name)
    except JsonTextError as exc:
        report.errors.append(str(exc))
        raise _Stop from None
    report.errors.extend(errors)
    if blanks:
        report.blank_lines[name] = blanks
        shown = ", ".join(map(str, blanks[:5])) + (" ..." if len(blanks) > 5 else "")
        report.warnings.append(
            f"{name} has blank line(s) ({shown}); Isaac-GR00T N1.5 fails on them, so preparation writes a copy "
            f"without them and keeps the original as {name.rsplit('/', 1)[-1]}.orig"
        )
    return rows


def parse_version(value: Any) -> tuple[int, int] | None:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", str(value).strip()) if isinstance(value, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_version(info: dict[str, Any], read: Reader, has_episodes: bool, report: MetaReport) -> str:
    version = info.get("codebase_version")
    parsed = parse_version(version)
    if parsed is None:
        report.errors.append(
            f"{INFO}: codebase_version is {version!r}, expected 'v2.0' or 'v2.1'; re-export the dataset with LeRobot v2.x"
        )
        raise _Stop
    if parsed[0] >= 3:
        if has_episodes or read(V3_TASKS) is None:
            report.errors.append(
                f"{INFO} says {version} but the folder has the LeRobot v2 layout ({EPISODES}, no {V3_TASKS}); "
                "set codebase_version to the version the files were written with ('v2.1')"
            )
            raise _Stop
        report.warnings.append(V3_NOTE)
        return f"v{parsed[0]}.{parsed[1]}"
    if parsed[0] < 2:
        report.errors.append(f"{INFO}: LeRobot {version} is too old for GR00T; convert it to v2.1 with LeRobot's conversion scripts")
        raise _Stop
    if not has_episodes and read("meta/tasks.parquet") is not None:
        report.errors.append(
            f"{INFO} says {version} but the folder has the LeRobot v3.0 layout ({V3_TASKS}, no {EPISODES}); "
            "set codebase_version to 'v3.0' (it is then converted to v2.1 in the job)"
        )
        raise _Stop
    text = f"v{parsed[0]}.{parsed[1]}"
    if text not in SUPPORTED_VERSIONS:
        report.warnings.append(f"{INFO}: codebase_version {version!r} is newer than v2.1; checked as v2.1")
    return text


def _check_info_fields(info: dict[str, Any], report: MetaReport, *, v3: bool = False) -> None:
    err = report.errors.append
    fps = info.get("fps")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 0 < fps <= MAX_FPS:
        err(f"{INFO}: fps must be a number of frames per second above 0 and at most {MAX_FPS}, got {fps!r}")
    if not isinstance(info.get("features"), dict):
        err(f"{INFO}: features must be an object of column name -> {{dtype, shape}}, got {type(info.get('features')).__name__}")
        raise _Stop
    for name in ("total_episodes", "total_frames"):
        if name in info and (not _is_int(info[name]) or not 0 <= info[name] <= MAX_COUNT):
            err(f"{INFO}: {name} must be an integer from 0 to {MAX_COUNT}, got {info[name]!r}")
    chunks = info.get("chunks_size", DEFAULT_CHUNKS_SIZE)
    if not _is_int(chunks) or not 1 <= chunks <= MAX_COUNT:
        err(f"{INFO}: chunks_size must be a positive integer, got {chunks!r}")
    data_path = info.get("data_path")
    # v3.0 (LeRobot >= 0.4) addresses files, not episodes: data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet
    episode = ("chunk_index", "file_index") if v3 else ("episode_chunk", "episode_index")
    data_problem = _template_problem(data_path, episode)
    if data_problem:
        example = ("data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet" if v3
                   else "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet")
        err(f"{INFO}: data_path must be a pattern such as {example!r} ({data_problem}), got {data_path!r}")
    video_path = info.get("video_path")
    problem = None if video_path is None else _template_problem(video_path, (*episode, "video_key"))
    if problem:
        err(f"{INFO}: video_path must be null or a pattern using " + ", ".join(f"{{{n}}}" for n in (*episode, "video_key"))
            + f" ({problem}), got {video_path!r}")
    paths_broken = bool(data_problem or problem)
    for key, feature in info["features"].items():
        if not isinstance(feature, dict) or "dtype" not in feature or not isinstance(feature.get("shape"), list):
            err(f"{INFO}: feature {key!r} must be an object with 'dtype' and a 'shape' list, got {feature!r}")
            paths_broken = True  # every later check reads features[column] as an object
    if info.get("total_chunks") == 0:
        report.warnings.append(f"{INFO}: total_chunks is 0 (a known LeRobot export quirk); ignored")
    if paths_broken:
        raise _Stop  # no file of the dataset can be located or read through a broken declaration


def _template_problem(pattern: Any, allowed: tuple[str, ...]) -> str | None:
    """Why an info.json path template cannot be used (None when it can): only the bare placeholders LeRobot
    writes, integer format specs, and a relative path that stays inside the dataset."""
    if not isinstance(pattern, str) or not pattern:
        return "not a string"
    try:
        fields = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return f"broken braces: {exc}"
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed:
            return f"unknown placeholder {{{name}}}; allowed: " + ", ".join(f"{{{a}}}" for a in allowed)
        if conversion or (spec and not re.fullmatch(r"0?\d{1,2}d?", spec)):
            return f"placeholder {{{name}}} has an unsupported format {spec or conversion!r}"
    try:
        sample = pattern.format(episode_chunk=0, episode_index=0, video_key="k", chunk_index=0, file_index=0)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        return f"cannot be filled in ({exc})"
    parts = re.split(r"[/\\]", sample)
    if sample.startswith(("/", "\\")) or ".." in parts:
        return "it must stay inside the dataset folder (relative, no '..')"
    # Without the index placeholder every episode (v3: every file) would be the same file, and a name the file
    # system cannot hold would fail later as an OSError that names neither info.json nor the template.
    used = {name for _, name, _, _ in fields}
    for needed in (allowed[1], *({"video_key"} & set(allowed))):
        if needed not in used:
            return f"it must use {{{needed}}} so that each {needed.split('_')[0]} has its own file"
    if ("\x00" in sample or len(sample.encode("utf-8", "surrogatepass")) > 4 * MAX_NAME_BYTES
            or any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts)):
        return f"it must be a file path (no NUL, each name at most {MAX_NAME_BYTES} bytes, {4 * MAX_NAME_BYTES} in all)"
    return None


def episode_chunk(info: dict[str, Any], episode_index: int) -> int:
    size = info.get("chunks_size", DEFAULT_CHUNKS_SIZE)
    return episode_index // (size if _is_int(size) and size > 0 else DEFAULT_CHUNKS_SIZE)


def data_file(info: dict[str, Any], episode_index: int) -> str:
    """Relative path of an episode's parquet file (info.json data_path)."""
    return str(info["data_path"]).format(episode_chunk=episode_chunk(info, episode_index), episode_index=episode_index)


def video_file(info: dict[str, Any], video_key: str, episode_index: int) -> str:
    """Relative path of an episode's video for one camera (info.json video_path)."""
    return str(info["video_path"]).format(
        episode_chunk=episode_chunk(info, episode_index), video_key=video_key, episode_index=episode_index
    )


def _check_episodes(info: dict[str, Any], rows: list[Any] | None, report: MetaReport) -> list[dict[str, Any]]:
    if rows is None:
        report.errors.append(f"{EPISODES} not found; a LeRobot v2.x dataset lists its episodes there")
        return []
    episodes: list[dict[str, Any]] = []
    seen: set[int] = set()
    for number, row in enumerate(rows, start=1):
        where = f"{EPISODES} entry {number}"
        if not isinstance(row, dict):
            report.errors.append(f"{where} must be an object, got {row!r}")
            continue
        index, length = row.get("episode_index"), row.get("length")
        if not _is_int(index) or index < 0:
            report.errors.append(f"{where}: episode_index must be a non-negative integer, got {index!r}")
            continue
        if not _is_int(length) or length < 1:
            report.errors.append(f"{where}: length must be a positive integer, got {length!r}")
            continue
        if index in seen:
            report.errors.append(f"{where}: episode_index {index} is listed twice")
            continue
        seen.add(index)
        episodes.append(row)
    if rows is not None and not rows:
        report.errors.append(f"{EPISODES} lists no episode; record at least one")
    total = info.get("total_episodes")
    if _is_int(total) and episodes and total != len(episodes):
        report.warnings.append(f"{INFO}: total_episodes is {total} but {EPISODES} lists {len(episodes)}; the list is used")
    frames = sum(e["length"] for e in episodes)
    if _is_int(info.get("total_frames")) and episodes and info["total_frames"] != frames:
        report.warnings.append(f"{INFO}: total_frames is {info['total_frames']} but the episode lengths add up to {frames}")
    split = (info.get("splits") or {}).get("train") if isinstance(info.get("splits"), dict) else None
    if isinstance(split, str) and re.fullmatch(r"\d+:\d+", split) and int(split.split(":")[1]) > len(episodes) and episodes:
        report.warnings.append(f"{INFO}: split train {split!r} reaches past the {len(episodes)} episodes (ignored; all are used)")
    return episodes


def _check_tasks(rows: list[Any] | None, episodes: list[dict[str, Any]], report: MetaReport) -> int:
    if rows is None:
        report.errors.append(f"{TASKS} not found; it maps task_index to the task description GR00T uses as language input")
        return 0
    tasks: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not _is_int(row.get("task_index")) or not isinstance(row.get("task"), str):
            report.errors.append(f"{TASKS} entry {number} must be {{\"task_index\": int, \"task\": str}}, got {row!r}")
            continue
        tasks.add(row["task"])
    unknown = sorted({t for e in episodes for t in e.get("tasks") or [] if isinstance(t, str)} - tasks)
    if unknown and tasks:
        report.warnings.append(f"{EPISODES} names task(s) missing from {TASKS}: {', '.join(map(repr, unknown[:3]))}")
    return len(rows)


def _width(feature: Any) -> int | None:
    shape = feature.get("shape") if isinstance(feature, dict) else None
    if isinstance(shape, list) and len(shape) == 1 and _is_int(shape[0]):
        return shape[0]
    return None


def _codec(feature: dict[str, Any]) -> str | None:
    details = feature.get("info") or feature.get("video_info") or {}
    codec = details.get("video.codec") if isinstance(details, dict) else None
    return codec if isinstance(codec, str) else None


def _check_modality(
    read: Reader, data_config: str, config: DataConfig | None, info: dict[str, Any], report: MetaReport
) -> None:
    modality = _load_json(read, MODALITY, report, required=False)
    if modality is None:
        template = config.modality_json() if config else None
        if template is None:
            example = json.dumps(example_modality(config)) if config else ""
            report.errors.append(
                f"{MODALITY} not found and data config {data_config!r} has no published layout to create it from; "
                "add meta/modality.json mapping each key the config reads to your columns"
                + (f", e.g. (set each start/end to where the part lies in the column): {example}" if example else "")
            )
            return
        modality, report.modality_is_template = template, True
    if not isinstance(modality, dict):
        report.errors.append(f"{MODALITY} must be a JSON object with state, action, video and annotation sections")
        return
    report.modality = modality
    source = f"the {data_config} layout that would be written to {MODALITY}" if report.modality_is_template else MODALITY
    features = info.get("features") or {}
    for section, default_key, limit in (("state", STATE_KEY, MAX_STATE_DIM), ("action", ACTION_KEY, MAX_ACTION_DIM)):
        selected = None if config is None else (config.state_names if section == "state" else config.action_names)
        _check_ranges(
            modality.get(section), section, default_key, limit, features, source, report,
            selected=selected, exact=report.modality_is_template,
        )
    for name, entry in (modality.get("video") or {}).items() if isinstance(modality.get("video"), dict) else ():
        key = entry.get("original_key") if isinstance(entry, dict) else None
        if not isinstance(key, str):
            report.errors.append(f"{source}: video.{name} needs an 'original_key' naming the camera column")
        elif not isinstance(features.get(key), dict) or features[key].get("dtype") != "video":
            cams = [k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "video"]
            report.errors.append(
                f"{source}: video.{name} reads {key!r}, which {INFO} does not list as a video feature "
                f"(cameras: {', '.join(cams) or 'none'}); fix original_key or record that camera"
            )
    for name, entry in (modality.get("annotation") or {}).items() if isinstance(modality.get("annotation"), dict) else ():
        key = entry.get("original_key", f"annotation.{name}") if isinstance(entry, dict) else None
        if key not in features:
            report.errors.append(f"{source}: annotation.{name} reads column {key!r}, which {INFO} does not list")
    if config is not None:
        missing = [
            key
            for key in (*config.video_keys, *config.state_keys, *config.action_keys, config.language_key)
            if not isinstance(modality.get(key.split(".", 1)[0]), dict) or key.split(".", 1)[1] not in modality[key.split(".", 1)[0]]
        ]
        if missing:
            report.errors.append(
                f"{source} lacks key(s) {', '.join(missing)} that data config {data_config!r} reads; "
                "add them or choose the data config matching your robot"
            )


def _check_ranges(
    section: Any, name: str, default_key: str, limit: int, features: dict[str, Any], source: str, report: MetaReport,
    *, selected: tuple[str, ...] | None, exact: bool,
) -> None:
    """``selected``: the parts the data config concatenates (None for a custom config: every part);
    ``exact``: the ranges come from a template, so they must cover the column exactly."""
    if not isinstance(section, dict) or not section:
        report.errors.append(f"{source}: the {name!r} section must map each {name} part to {{start, end}}")
        return
    total: dict[str, int] = {}
    for part, entry in section.items():
        if not isinstance(entry, dict) or not _is_int(entry.get("start")) or not _is_int(entry.get("end")):
            report.errors.append(f"{source}: {name}.{part} needs integer 'start' and 'end', got {entry!r}")
            continue
        start, end = entry["start"], entry["end"]
        column = entry.get("original_key", default_key)
        width = _width(features.get(column))
        if not 0 <= start < end:
            report.errors.append(f"{source}: {name}.{part} has start {start} and end {end}; need 0 <= start < end")
        elif column not in features:
            report.errors.append(f"{source}: {name}.{part} reads column {column!r}, which {INFO} does not list")
        elif width is None:
            report.errors.append(f"{INFO}: feature {column!r} must have a one-dimensional shape like [6], got {features[column].get('shape')!r}")
        elif end > width:
            report.errors.append(
                f"{source}: {name}.{part} spans [{start}, {end}) but {column!r} has {width} values per frame; "
                "fix the ranges or choose the data config matching your robot"
            )
        else:
            total[column] = max(total.get(column, 0), end)
    # GR00T's max_state_dim/max_action_dim bound the concatenation of the parts the data config selects
    # (ConcatTransform over its state/action keys), not every part modality.json describes.
    chosen = [part for part in section if selected is None or part in selected]
    used = sum(
        e["end"] - e["start"] for p in chosen if isinstance(e := section[p], dict) and _is_int(e.get("start")) and _is_int(e.get("end"))
    )
    if used > limit and selected is not None:
        report.errors.append(
            f"{source}: the {len(chosen)} {name} parts the data config reads add up to {used} values; "
            f"GR00T N1.5 handles at most {limit}: choose a data config that reads fewer parts"
        )
    elif used > limit:  # a custom config may read only some of them: GR00T itself fails if it reads too many
        report.warnings.append(
            f"{source}: the {name} parts add up to {used} values; your data config must read at most {limit} of them"
        )
    for column, end in total.items():
        width = _width(features.get(column))
        if width is None or end >= width:
            continue
        if exact:
            report.errors.append(
                f"{source}: the layout covers {end} values of {column!r} but {INFO} says it has {width}; the data "
                "is not laid out as this data config's template: add your own meta/modality.json"
            )
        else:
            report.warnings.append(f"{source}: {name} uses the first {end} of the {width} values of {column!r}; the rest are ignored")


def _summary(version: str, info: dict[str, Any], episodes: list[dict[str, Any]], tasks: int, report: MetaReport, data_config: str) -> None:
    features = info.get("features") or {}
    modality = report.modality or {}
    state_key = STATE_KEY
    action_key = ACTION_KEY
    for section, default in (("state", STATE_KEY), ("action", ACTION_KEY)):
        found = modality.get(section)
        entries = found if isinstance(found, dict) else {}
        keys = {e.get("original_key", default) for e in entries.values() if isinstance(e, dict)}
        if len(keys) == 1:
            if section == "state":
                state_key = keys.pop()
            else:
                action_key = keys.pop()
    report.summary = {
        "version": version,
        "robot_type": info.get("robot_type"),
        "episodes": len(episodes) if episodes else info.get("total_episodes"),
        "frames": sum(e["length"] for e in episodes) if episodes else info.get("total_frames"),
        "fps": info.get("fps"),
        "tasks": tasks,
        "cameras": {k: _codec(f) for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "video"},
        "state_dim": _width(features.get(state_key)),
        "action_dim": _width(features.get(action_key)),
        "modality": f"will be created from {data_config}" if report.modality_is_template else "present",
    }
    if version.startswith("v3"):
        report.summary["conversion"] = "converted to v2.1 in the job"


def check_meta(read: Reader, data_config: str) -> MetaReport:
    """Check the meta files of a LeRobot dataset for ``data_config``; never raises for bad content.

    ``read("meta/info.json")`` returns the file's bytes or None when it does not exist.
    """
    report = MetaReport()
    config = get_data_config(data_config)
    if config is None and not is_custom_config(data_config):
        report.errors.append(f"unknown data config {data_config!r}; use a GR00T N1.5 data config name or 'module:Class'")
        return report
    try:
        info = _load_json(read, INFO, report, required=True)
        if not isinstance(info, dict):
            report.errors.append(f"{INFO} must hold a JSON object, found {type(info).__name__}")
            raise _Stop
        episodes_raw = read(EPISODES)
        version = _check_version(info, read, episodes_raw is not None, report)
        v3 = version.startswith("v3")
        _check_info_fields(info, report, v3=v3)
        report.info = info
        if v3:  # episodes and tasks are parquet (the Lambda reads JSON only): the conversion checks them
            total_tasks = info.get("total_tasks")
            episodes, tasks = [], total_tasks if _is_int(total_tasks) else 0
        else:
            episodes = _check_episodes(info, _load_jsonl(episodes_raw, EPISODES, report), report)
            tasks = _check_tasks(_load_jsonl(read(TASKS), TASKS, report), episodes, report)
        report.episodes = episodes
        if info.get("video_path") is None and config is not None and config.video_keys:
            report.errors.append(
                f"{INFO}: video_path is null but data config {data_config!r} needs cameras {', '.join(config.video_names)}; "
                "record the videos or choose a data config without cameras"
            )
        _check_modality(read, data_config, config, info, report)
        _summary(version, info, episodes, tasks, report, data_config)
    except _Stop:
        pass
    return report


__all__ = [
    "EPISODES",
    "INFO",
    "MODALITY",
    "MetaReport",
    "STATS",
    "TASKS",
    "V3_NOTE",
    "check_meta",
    "data_file",
    "parse_jsonl",
    "parse_version",
    "video_file",
]
