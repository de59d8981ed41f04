"""A prepared LeRobot v2.0/v2.1 dataset seen through a GR00T data config, as the builtin engine trains on it.

GR00T's loader semantics (https://github.com/NVIDIA/Isaac-GR00T, gr00t/data/dataset.py): the data config names ``video.*``, ``state.*`` and
``action.*`` keys; ``meta/modality.json`` maps each to a slice of a parquet column (or a video column) and the
language key to the column holding the task index; ``meta/stats.json`` gives per-dimension min/max for the
[-1, 1] normalisation. Episode data (state, action, task per frame) is small and read into memory once; video
frames are decoded lazily (see :mod:`.frames`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gr00t_core.data_configs import ACTION_HORIZON, get_data_config
from gr00t_core.errors import DatasetError
from gr00t_data.meta import data_file, parse_jsonl, video_file
from gr00t_data.stats import column_matrix, compute_stats

SUPPORTED_VERSIONS = ("v2.0", "v2.1")
STATE_COLUMN = "observation.state"  # modality.json default original_key of state entries
ACTION_COLUMN = "action"
STAT_KEYS = ("mean", "std", "min", "max", "q01", "q99")


@dataclass(frozen=True)
class Part:
    """One ``state.<name>`` / ``action.<name>`` key: a slice of a parquet column."""

    name: str
    column: str
    start: int
    end: int

    @property
    def dim(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Camera:
    name: str  # "front" (the data config's video.<name>)
    column: str  # "observation.images.front" (the video_key of info.json's video_path)


@dataclass(frozen=True)
class Episode:
    index: int  # episode_index
    state: np.ndarray  # (T, state_dim) float32, robot units, parts concatenated in data-config order
    action: np.ndarray  # (T, action_dim) float32
    task: np.ndarray  # (T,) int64 task index per frame
    timestamp: np.ndarray  # (T,) float64 seconds from the episode start

    @property
    def length(self) -> int:
        return int(self.state.shape[0])


@dataclass(frozen=True)
class Layout:
    """The keys the policy consumes and produces, in order; saved with every checkpoint."""

    cameras: tuple[Camera, ...]
    state: tuple[Part, ...]
    action: tuple[Part, ...]
    language_key: str  # "annotation.human.task_description"
    horizon: int = ACTION_HORIZON

    @property
    def state_dim(self) -> int:
        return sum(p.dim for p in self.state)

    @property
    def action_dim(self) -> int:
        return sum(p.dim for p in self.action)

    def to_json(self) -> dict[str, Any]:
        return {
            "cameras": [{"name": c.name, "column": c.column} for c in self.cameras],
            "state": [vars(p) for p in self.state],
            "action": [vars(p) for p in self.action],
            "language_key": self.language_key,
            "horizon": self.horizon,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layout:
        return cls(
            cameras=tuple(Camera(**c) for c in data["cameras"]),
            state=tuple(Part(**p) for p in data["state"]),
            action=tuple(Part(**p) for p in data["action"]),
            language_key=data["language_key"],
            horizon=int(data["horizon"]),
        )


@dataclass(frozen=True)
class Bounds:
    """Per-dimension min/max of state and action (concatenated like the layout) for min-max normalisation."""

    state_min: np.ndarray
    state_max: np.ndarray
    action_min: np.ndarray
    action_max: np.ndarray


def bounds_from_statistics(statistics: dict[str, Any], layout: Layout) -> Bounds:
    """The min/max vectors of a GR00T-style statistics dict (as in metadata.json), in layout order."""

    def vector(kind: str, parts: tuple[Part, ...], key: str) -> np.ndarray:
        return np.concatenate([np.asarray(statistics[kind][p.name][key], dtype=np.float64) for p in parts])

    return Bounds(
        vector("state", layout.state, "min"),
        vector("state", layout.state, "max"),
        vector("action", layout.action, "min"),
        vector("action", layout.action, "max"),
    )


def _ignore(message: str) -> None:
    pass


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError([f"{path}: missing; a LeRobot v2.0/v2.1 dataset needs it"]) from None
    except json.JSONDecodeError as exc:
        raise DatasetError([f"{path}: not valid JSON ({exc})"]) from None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a jsonl meta file; blank lines are tolerated (Isaac-GR00T #288), malformed ones are errors."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DatasetError([f"{path}: missing; a LeRobot v2.0/v2.1 dataset needs it"]) from None
    rows, _blanks, errors = parse_jsonl(text, str(path))
    if errors:
        raise DatasetError(errors)
    return rows


def _layout(modality: dict[str, Any], data_config: str, where: Path) -> Layout:
    config = get_data_config(data_config)
    if config is not None:
        cameras, states, actions = config.video_names, config.state_names, config.action_names
        language = config.language_key
    else:  # a custom module:Class config: every key of modality.json (warned about by the caller)
        cameras = tuple(modality.get("video", {}))
        states, actions = tuple(modality.get("state", {})), tuple(modality.get("action", {}))
        annotations = tuple(modality.get("annotation", {}))
        language = f"annotation.{annotations[0]}" if annotations else ""
    problems = []

    def parts(kind: str, names: tuple[str, ...], default_column: str) -> tuple[Part, ...]:
        out = []
        for name in names:
            entry = modality.get(kind, {}).get(name)
            if not isinstance(entry, dict) or "start" not in entry or "end" not in entry:
                problems.append(f"{where}: {kind}.{name} (needed by data config {data_config!r}) has no start/end entry")
                continue
            out.append(Part(name, entry.get("original_key", default_column), int(entry["start"]), int(entry["end"])))
        return tuple(out)

    state, action = parts("state", states, STATE_COLUMN), parts("action", actions, ACTION_COLUMN)
    camera_list = []
    for name in cameras:
        entry = modality.get("video", {}).get(name)
        if not isinstance(entry, dict):
            problems.append(f"{where}: video.{name} (needed by data config {data_config!r}) is missing")
            continue
        camera_list.append(Camera(name, entry.get("original_key", f"observation.images.{name}")))
    if language and language.split(".", 1)[1] not in modality.get("annotation", {}):
        problems.append(f"{where}: {language} (needed by data config {data_config!r}) is missing under 'annotation'")
    if not state or not action:
        problems.append(f"{where}: no state or action keys to train on")
    if problems:
        raise DatasetError(problems, header="meta/modality.json does not match the data config")
    return Layout(tuple(camera_list), state, action, language)


def _concat(matrices: dict[str, np.ndarray], parts: tuple[Part, ...], where: str) -> np.ndarray:
    pieces = []
    for p in parts:
        matrix = matrices[p.column]
        if p.end > matrix.shape[1]:
            raise DatasetError([f"{where}: {p.name} takes values {p.start}:{p.end} of {p.column!r}, which has {matrix.shape[1]}"])
        pieces.append(matrix[:, p.start : p.end])
    return np.concatenate(pieces, axis=1).astype(np.float32)


class LeRobotDataset:
    """Metadata, episode arrays and normalisation bounds of one dataset for one data config."""

    def __init__(self, root: Path, data_config: str, *, warn: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        meta = self.root / "meta"
        self.info = _read_json(meta / "info.json")
        version = str(self.info.get("codebase_version", ""))
        if version not in SUPPORTED_VERSIONS:
            hint = " (LeRobot v3 datasets must be converted to v2.1 first)" if version.startswith("v3") else ""
            raise DatasetError([f"{meta / 'info.json'}: codebase_version {version!r} is not v2.0 or v2.1{hint}"])
        self.fps = float(self.info.get("fps") or 30)
        self._modality = _read_json(meta / "modality.json")
        self.layout = _layout(self._modality, data_config, meta / "modality.json")
        self.tasks = {int(r["task_index"]): str(r["task"]) for r in _read_jsonl(meta / "tasks.jsonl")}
        episodes = _read_jsonl(meta / "episodes.jsonl")
        self.episode_indices = sorted(int(r["episode_index"]) for r in episodes)
        self.total_frames = sum(int(r.get("length") or 0) for r in episodes)  # a mixture's statistics weight
        if not self.episode_indices:
            raise DatasetError([f"{meta / 'episodes.jsonl'}: lists no episode"])
        if self.layout.cameras and not self.info.get("video_path"):
            raise DatasetError([f"{meta / 'info.json'}: video_path is null but data config {data_config!r} needs cameras"])
        # GR00T's experiment_cfg/metadata.json "statistics": kind -> part -> stat -> one value per dimension
        self.statistics = self._statistics(meta / "stats.json", warn or _ignore)
        self.bounds = bounds_from_statistics(self.statistics, self.layout)

    def use_statistics(self, statistics: dict[str, Any]) -> None:
        """Normalise with ``statistics`` instead of this dataset's own (a mixture's merged ones)."""
        self.statistics = statistics
        self.bounds = bounds_from_statistics(statistics, self.layout)

    # --- paths -------------------------------------------------------------------------------------------
    def data_path(self, episode: int) -> Path:
        return self.root / data_file(self.info, episode)

    def video_path(self, episode: int, camera: Camera) -> Path:
        return self.root / video_file(self.info, camera.column, episode)

    # --- data --------------------------------------------------------------------------------------------
    def _language_column(self) -> str | None:
        if not self.layout.language_key:
            return None
        name = self.layout.language_key.split(".", 1)[1]
        entry = self._modality["annotation"][name]
        # GR00T's default when an entry has no original_key (NVIDIA's GR1 demo data): the column annotation.<name>.
        return (entry.get("original_key") if isinstance(entry, dict) else None) or f"annotation.{name}"

    def load_episode(self, episode: int) -> Episode:
        path = self.data_path(episode)
        numeric = sorted({p.column for p in self.layout.state + self.layout.action})
        language = self._language_column()
        try:
            schema = pq.read_schema(path)
            wanted = numeric + [c for c in ("timestamp", language) if c and c in schema.names]
            missing = [c for c in numeric + ([language] if language else []) if c not in schema.names]
            if missing:
                raise DatasetError([f"{path}: column(s) {', '.join(missing)} named by meta/modality.json are missing"])
            table = pq.read_table(path, columns=wanted)
        except FileNotFoundError:
            raise DatasetError([f"{path}: episode {episode} is listed in meta/episodes.jsonl but its file is missing"]) from None
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError([f"{path}: not a readable parquet file ({exc})"]) from None
        matrices = {c: column_matrix(table.column(c), name=c, where=str(path)) for c in numeric}
        rows = table.num_rows
        if "timestamp" in table.column_names:
            timestamp = table.column("timestamp").to_numpy().astype(np.float64).reshape(-1)
        else:  # NVIDIA's own v2.0 demo has quirks like this; frames are then taken as evenly spaced
            timestamp = np.arange(rows, dtype=np.float64) / self.fps
        task = (
            table.column(language).to_numpy().astype(np.int64).reshape(-1)
            if language
            else np.zeros(rows, dtype=np.int64)
        )
        return Episode(
            index=episode,
            state=_concat(matrices, self.layout.state, str(path)),
            action=_concat(matrices, self.layout.action, str(path)),
            task=task,
            timestamp=timestamp,
        )

    def task_text(self, task_index: int) -> str:
        return self.tasks.get(int(task_index), "")

    # --- statistics --------------------------------------------------------------------------------------
    def _statistics(self, stats_path: Path, warn: Callable[[str], None]) -> dict[str, dict[str, dict[str, list[float]]]]:
        columns = sorted({p.column for p in self.layout.state + self.layout.action})
        if stats_path.exists():
            stats = _read_json(stats_path)
            lacking = [c for c in columns if not all(k in stats.get(c, {}) for k in ("min", "max"))]
            if lacking:
                raise DatasetError([f"{stats_path}: no min/max for {', '.join(lacking)}; prepare the dataset again"])
        else:
            # GR00T recomputes a missing stats.json and writes it into the dataset; this engine never writes
            # into the user's dataset, so it computes the same numbers in memory and says so.
            warn(f"{stats_path} is missing: statistics computed in memory; prepare the dataset to keep them")
            stats = compute_stats(self.root)

        def per_part(parts: tuple[Part, ...]) -> dict[str, dict[str, list[float]]]:
            return {
                p.name: {k: [float(v) for v in values[p.start : p.end]] for k, values in stats[p.column].items() if k in STAT_KEYS}
                for p in parts
            }

        return {"state": per_part(self.layout.state), "action": per_part(self.layout.action)}

    def split(self, eval_episodes: int) -> tuple[list[int], list[int]]:
        """(train, held-out) episode indices: the last ``eval_episodes`` are held out, at least one is trained on."""
        held = min(eval_episodes, len(self.episode_indices) - 1)
        if held <= 0:
            return list(self.episode_indices), []
        return self.episode_indices[:-held], self.episode_indices[-held:]


__all__ = ["Bounds", "bounds_from_statistics", "Camera", "Episode", "LeRobotDataset", "Layout", "Part", "SUPPORTED_VERSIONS"]
