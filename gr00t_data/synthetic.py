"""Synthetic LeRobot v2.1 / v2.0 datasets with real mp4 videos and learnable dynamics, for tests and the demo.

The dynamics are simple enough to learn in a few CPU steps and rich enough that a policy must use its inputs:
each task has its own target pose; the action moves the current state a fixed fraction toward that target
(``action_t = state_t + gain * (target - state_t) + noise``) and the next state follows the action. Every camera
shows a bright square whose position encodes two joints of the current state and a dim marker at the task's
target, so state, language (task) and images all carry signal. ``dynamics="rotation"`` instead makes the action an
exact linear function of the state alone: each pair of joints turns by a fixed angle per frame about zero
(``action_t = R state_t``, the next state), the benchmark of whether a policy learns from its state. Everything derives from ``seed``: the same
arguments give byte-identical files.

    python -m gr00t_data.synthetic OUT --layout so100_dualcam --episodes 6 --frames 75
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gr00t_core.data_configs import DATA_CONFIGS
from gr00t_data.video import encoder_for, write_video

LAYOUTS = ("so100", "so100_dualcam", "fourier_gr1_arms_only")
VERSIONS = ("v2.0", "v2.1")
DYNAMICS = ("target", "rotation")
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

_TASKS = (
    "Pick up the red cube and place it in the bin.",
    "Push the blue block to the left edge of the table.",
    "Stack the green cube on the yellow cube.",
    "Open the drawer and put the marker inside.",
)
_GAIN = 0.08  # fraction of the remaining distance to the target covered per frame
_ACTION_NOISE = 0.003  # relative to the joint range
_STATE_NOISE = 0.001
_ROTATION = 0.25  # radians per frame turned by each joint pair under dynamics="rotation"


@dataclass(frozen=True)
class _Layout:
    robot_type: str
    state_names: list[str]  # one name per dimension (info.json "names")
    cameras: list[str]  # parquet/video keys, e.g. "observation.images.front"
    scale: float  # joints live in [-scale, scale] (degrees for SO-100, radians for GR1)
    # int64 annotation columns (modality entries without original_key), as in NVIDIA's GR1 demo data: the first
    # holds the episode's task index, the others the index of the "valid" entry appended to tasks.jsonl.
    annotations: list[str]


def _layout(name: str) -> _Layout:
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
    template = DATA_CONFIGS[name].modality_json()
    assert template is not None  # every generator layout has a known modality layout
    names: list[str] = []
    for part, rng in template["state"].items():
        width = rng["end"] - rng["start"]
        names += [part] if width == 1 else [f"{part}_{i}" for i in range(width)]
    cameras = [v["original_key"] for v in template["video"].values()]
    annotations = [f"annotation.{n}" for n, entry in template["annotation"].items() if "original_key" not in entry]
    if name.startswith("so100"):
        return _Layout("so100", names, cameras, 90.0, annotations)
    return _Layout("fourier_gr1", names, cameras, 1.5, annotations)


def _simulate(rng: np.random.Generator, length: int, target: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    dims = target.shape[0]
    states = np.empty((length, dims), dtype=np.float32)
    actions = np.empty((length, dims), dtype=np.float32)
    state = rng.uniform(-0.8, 0.8, dims) * scale
    for t in range(length):
        action = state + _GAIN * (target - state) + rng.normal(0.0, _ACTION_NOISE * scale, dims)
        states[t], actions[t] = state, action
        state = action + rng.normal(0.0, _STATE_NOISE * scale, dims)
    return states, actions


def _rotate(rng: np.random.Generator, length: int, scale: float, dims: int) -> tuple[np.ndarray, np.ndarray]:
    # An odd last joint stays put (a 1-D "rotation"); radii below the full range keep the circles inside it.
    pairs = dims // 2
    radius = rng.uniform(0.3, 0.9, pairs) * scale
    phase = rng.uniform(0.0, 2 * np.pi, pairs) + _ROTATION * np.arange(length + 1)[:, None]
    path = np.zeros((length + 1, dims), dtype=np.float32)
    path[:, 0 : 2 * pairs : 2] = radius * np.cos(phase)
    path[:, 1 : 2 * pairs : 2] = radius * np.sin(phase)
    if dims % 2:
        path[:, -1] = rng.uniform(-0.8, 0.8) * scale
    return path[:-1], path[1:]


def _render(states: np.ndarray, target: np.ndarray, camera: int, width: int, height: int, scale: float) -> np.ndarray:
    """Frames ``(T, H, W, 3)``: a square at the position of two state joints, a marker at the task's target."""
    dims = states.shape[1]
    jx, jy = (2 * camera) % dims, (2 * camera + 1) % dims  # each camera watches its own pair of joints
    side = max(4, height // 5)
    dot = max(2, side // 2)

    def pixel(values: np.ndarray, extent: int, size: int) -> np.ndarray:
        unit = np.clip((values / scale + 1.0) / 2.0, 0.0, 1.0)
        return np.round(unit * (extent - size)).astype(np.int64)

    frames = np.empty((len(states), height, width, 3), dtype=np.uint8)
    # A fixed gradient background per camera so the codec has real content and cameras differ.
    gx = np.linspace(30, 70, width, dtype=np.float32)[None, :]
    gy = np.linspace(20, 50, height, dtype=np.float32)[:, None]
    shade = gx + gy
    background = np.stack([shade, np.full_like(shade, 40.0 + 30 * camera), np.broadcast_to(gy * 2, shade.shape)], axis=-1)
    background = background.astype(np.uint8)
    frames[:] = background
    tx = pixel(target[jx : jx + 1], width, dot)[0]
    ty = pixel(target[jy : jy + 1], height, dot)[0]
    frames[:, ty : ty + dot, tx : tx + dot] = (40, 160, 220)
    xs, ys = pixel(states[:, jx], width, side), pixel(states[:, jy], height, side)
    color = np.array((250, 230, 60) if camera == 0 else (240, 90, 200), dtype=np.uint8)
    for t, (x, y) in enumerate(zip(xs, ys, strict=True)):
        frames[t, y : y + side, x : x + side] = color
    return frames


def _list_column(matrix: np.ndarray) -> pa.Array:
    # LeRobot stores state/action as list<float32> (one list per row); built from the flat buffer, no row objects.
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))


def _feature_stats(matrix: np.ndarray) -> dict[str, list[float]]:
    return {
        "min": matrix.min(axis=0).tolist(),
        "max": matrix.max(axis=0).tolist(),
        "mean": matrix.mean(axis=0, dtype=np.float64).tolist(),
        "std": matrix.std(axis=0, dtype=np.float64).tolist(),
        "count": [int(matrix.shape[0])],
    }


def _image_stats(frames: np.ndarray) -> dict[str, Any]:
    # LeRobot v2.1 keeps per-channel image stats of values in [0, 1], shaped (3, 1, 1).
    pixels = frames.reshape(-1, 3).astype(np.float32) / 255.0
    stats = _feature_stats(pixels)
    return {k: ([[[v]] for v in vals] if k != "count" else [int(frames.shape[0])]) for k, vals in stats.items()}


def _lengths(episodes: int, frames_per_episode: int, episode_lengths: Sequence[int] | None) -> list[int]:
    lengths = list(episode_lengths) if episode_lengths is not None else [frames_per_episode] * episodes
    if not lengths or any(n < 1 for n in lengths):
        raise ValueError(f"need at least one episode of at least one frame, got lengths {lengths[:5]}")
    return lengths


def _features(layout: _Layout, version: str, fps: int, width: int, height: int, codec: str) -> dict[str, Any]:
    dims = len(layout.state_names)
    features: dict[str, Any] = {
        "action": {"dtype": "float32", "shape": [dims], "names": list(layout.state_names)},
        "observation.state": {"dtype": "float32", "shape": [dims], "names": list(layout.state_names)},
    }
    info_key = "info" if version == "v2.1" else "video_info"
    for camera in layout.cameras:
        features[camera] = {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channels"],
            info_key: {
                "video.fps": float(fps),
                "video.height": height,
                "video.width": width,
                "video.channels": 3,
                "video.codec": codec,
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "has_audio": False,
            },
        }
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                        ("index", "int64"), ("task_index", "int64")):
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    for name in layout.annotations:
        features[name] = {"dtype": "int64", "shape": [1]}
    return features


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4) + "\n")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def generate_dataset(
    root: Path,
    *,
    layout: str = "so100_dualcam",
    episodes: int = 4,
    frames_per_episode: int = 60,
    fps: int = 30,
    width: int = 64,
    height: int = 48,
    codec: str = "h264",
    seed: int = 0,
    version: str = "v2.1",
    write_modality: bool = False,
    write_stats: bool = False,
    write_videos: bool = True,
    episode_lengths: Sequence[int] | None = None,
    robot_type: str | None = None,
    dynamics: str = "target",
) -> Path:
    """Write a LeRobot dataset under ``root`` (created; must not hold a dataset yet) and return ``root``.

    ``episode_lengths`` overrides ``episodes`` x ``frames_per_episode`` with explicit lengths. ``write_videos``
    False leaves the videos out (info.json still lists the cameras), for parquet-only benchmarks.
    ``write_modality`` / ``write_stats`` add what preparation would add (meta/modality.json, meta/stats.json).
    ``robot_type`` overrides info.json's robot_type (e.g. "so101" for an SO-101 arm, same layout as SO-100).
    ``dynamics`` "rotation" replaces the move-to-target dynamics with the fixed rotation (see the module doc).
    """
    spec = _layout(layout)
    if version not in VERSIONS:
        raise ValueError(f"unsupported version {version!r}; choose one of {', '.join(VERSIONS)}")
    if dynamics not in DYNAMICS:
        raise ValueError(f"unknown dynamics {dynamics!r}; choose one of {', '.join(DYNAMICS)}")
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"width and height must be even and at least 16 (yuv420p video), got {width}x{height}")
    if write_videos and encoder_for(codec) is None:
        raise ValueError(f"no {codec} encoder available in this PyAV build")
    lengths = _lengths(episodes, frames_per_episode, episode_lengths)
    root = Path(root)
    if (root / "meta" / "info.json").exists():
        raise FileExistsError(f"{root} already holds a dataset (meta/info.json); choose an empty folder")

    rng = np.random.default_rng(seed)
    dims = len(spec.state_names)
    n_tasks = min(len(_TASKS), len(lengths))
    targets = rng.uniform(-0.6, 0.6, (n_tasks, dims)) * spec.scale
    episode_rows: list[dict[str, Any]] = []
    stats_rows: list[dict[str, Any]] = []
    index = 0
    for ep, length in enumerate(lengths):
        task = ep % n_tasks
        if dynamics == "rotation":
            states, actions = _rotate(rng, length, spec.scale, dims)
        else:
            states, actions = _simulate(rng, length, targets[task], spec.scale)
        chunk = ep // CHUNKS_SIZE
        frame_index = np.arange(length, dtype=np.int64)
        columns = {
            "action": _list_column(actions),
            "observation.state": _list_column(states),
            "timestamp": pa.array((frame_index / fps).astype(np.float32)),
            "frame_index": pa.array(frame_index),
            "episode_index": pa.array(np.full(length, ep, dtype=np.int64)),
            "index": pa.array(frame_index + index),
            "task_index": pa.array(np.full(length, task, dtype=np.int64)),
        }
        for number, column in enumerate(spec.annotations):
            columns[column] = pa.array(np.full(length, task if number == 0 else n_tasks, dtype=np.int64))
        data_file = root / DATA_PATH.format(episode_chunk=chunk, episode_index=ep)
        data_file.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), data_file)

        ep_stats: dict[str, Any] = {"action": _feature_stats(actions), "observation.state": _feature_stats(states)}
        for name in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
            ep_stats[name] = _feature_stats(columns[name].to_numpy().reshape(-1, 1))
        for cam_no, camera in enumerate(spec.cameras):
            frames = _render(states, targets[task], cam_no, width, height, spec.scale)
            ep_stats[camera] = _image_stats(frames)
            if write_videos:
                path = root / VIDEO_PATH.format(episode_chunk=chunk, video_key=camera, episode_index=ep)
                write_video(path, frames, fps=fps, codec=codec)
        episode_rows.append({"episode_index": ep, "tasks": [_TASKS[task]], "length": length})
        stats_rows.append({"episode_index": ep, "stats": ep_stats})
        index += length

    info = {
        "codebase_version": version,
        "robot_type": robot_type or spec.robot_type,
        "total_episodes": len(lengths),
        "total_frames": index,
        "total_tasks": n_tasks + (len(spec.annotations) > 1),
        "total_videos": len(lengths) * len(spec.cameras),
        "total_chunks": (len(lengths) - 1) // CHUNKS_SIZE + 1,
        "chunks_size": CHUNKS_SIZE,
        "fps": fps,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": _features(spec, version, fps, width, height, codec),
    }
    _write_json(root / "meta" / "info.json", info)
    _write_jsonl(root / "meta" / "episodes.jsonl", episode_rows)
    tasks = [{"task_index": i, "task": _TASKS[i]} for i in range(n_tasks)]
    if len(spec.annotations) > 1:
        tasks.append({"task_index": n_tasks, "task": "valid"})
    _write_jsonl(root / "meta" / "tasks.jsonl", tasks)
    if version == "v2.1":
        _write_jsonl(root / "meta" / "episodes_stats.jsonl", stats_rows)
    if write_modality:
        _write_json(root / "meta" / "modality.json", DATA_CONFIGS[layout].modality_json())
    if write_stats:
        from gr00t_data.stats import compute_stats  # imported here: the generator itself needs no stats code

        _write_json(root / "meta" / "stats.json", compute_stats(root))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gr00t_data.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create the dataset in")
    parser.add_argument("--layout", choices=LAYOUTS, default="so100_dualcam")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60, help="frames per episode")
    parser.add_argument("--frames-max", type=int, help="vary episode lengths between --frames and this (seeded)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--height", type=int, default=48)
    parser.add_argument("--codec", default="h264", help="h264 or av1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", choices=VERSIONS, default="v2.1")
    parser.add_argument("--modality", action="store_true", help="also write meta/modality.json")
    parser.add_argument("--stats", action="store_true", help="also write meta/stats.json")
    parser.add_argument("--robot-type", help="info.json robot_type (default: from the layout)")
    parser.add_argument("--dynamics", choices=DYNAMICS, default="target", help="move to the task's target, or rotate")
    args = parser.parse_args(argv)
    lengths = None
    if args.frames_max is not None:
        if args.frames_max < args.frames:
            parser.error("--frames-max must be at least --frames")
        lengths = np.random.default_rng(args.seed).integers(args.frames, args.frames_max + 1, args.episodes).tolist()
    try:
        root = generate_dataset(
            args.out, layout=args.layout, episodes=args.episodes, frames_per_episode=args.frames, fps=args.fps,
            width=args.width, height=args.height, codec=args.codec, seed=args.seed, version=args.version,
            write_modality=args.modality, write_stats=args.stats, episode_lengths=lengths, robot_type=args.robot_type,
            dynamics=args.dynamics,
        )
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(root)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["DYNAMICS", "LAYOUTS", "VERSIONS", "generate_dataset"]
