"""Restrict a prepared dataset copy to some of its episodes: how the GR00T engines hold evaluation episodes out.

Isaac-GR00T's loaders take their trajectories from ``meta/episodes.jsonl``, not from the files present
(NVIDIA/Isaac-GR00T, N1.5 ``gr00t/data/dataset.py`` ``LeRobotSingleDataset._get_trajectories``, stored version
16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702, the pinned 4af2b622 not being stored; N1.6
``gr00t/data/dataset/lerobot_episode_loader.py`` ``LeRobotEpisodeLoader._load_metadata`` at
0c8fb7d52a89f9bcb4369053813315df647533c2), so a copy that lists fewer episodes trains or evaluates on those only;
its data and video files stay as they are. Only ``meta/`` is rewritten, so this runs on working copies, never on
the user's dataset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gr00t_core.errors import DatasetError
from gr00t_data.meta import EPISODES, INFO, STATS, parse_jsonl
from gr00t_data.stats import compute_stats

EPISODES_STATS = "meta/episodes_stats.jsonl"  # LeRobot v2.1's per-episode statistics (GR00T does not read them)


def _read_jsonl(path: Path) -> list[Any]:
    rows, _, errors = parse_jsonl(path.read_text(encoding="utf-8-sig"), str(path))
    if errors:
        raise DatasetError(errors)
    return rows


def _write_jsonl(path: Path, rows: Sequence[Any]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def listed_episodes(root: Path) -> list[dict[str, Any]]:
    """The entries of ``root``'s meta/episodes.jsonl, in order (a prepared copy: entries checked, no blank lines)."""
    return _read_jsonl(root / EPISODES)


def restrict_episodes(root: Path, positions: Sequence[int]) -> list[int]:
    """Make ``root``'s meta files list only the entries at ``positions`` of its meta/episodes.jsonl; returns their
    episode_index values.

    info.json follows: ``total_episodes``, ``total_frames`` (the kept lengths), ``total_videos`` (kept episodes x
    cameras, where present) and ``splits`` (LeRobot's ``"start:end"`` episode-index range, first to last kept).
    """
    episodes = listed_episodes(root)
    kept = [episodes[p] for p in positions]
    if not kept:
        raise DatasetError([f"{root}: no episode left to list"])
    indices = [int(e["episode_index"]) for e in kept]
    _write_jsonl(root / EPISODES, kept)
    per_episode = root / EPISODES_STATS
    if per_episode.is_file():
        wanted = set(indices)
        _write_jsonl(per_episode, [r for r in _read_jsonl(per_episode) if isinstance(r, dict) and r.get("episode_index") in wanted])
    info = json.loads((root / INFO).read_text(encoding="utf-8-sig"))
    info["total_episodes"] = len(kept)
    info["total_frames"] = sum(int(e["length"]) for e in kept)
    if "total_videos" in info:
        cameras = sum(1 for f in info.get("features", {}).values() if isinstance(f, dict) and f.get("dtype") == "video")
        info["total_videos"] = len(kept) * cameras
    info["splits"] = {"train": f"{min(indices)}:{max(indices) + 1}"}
    (root / INFO).write_text(json.dumps(info, indent=4) + "\n", encoding="utf-8")
    return indices


def write_stats(root: Path, *also: Path) -> None:
    """meta/stats.json of ``root`` over the episodes it lists (gr00t_data.stats, as preparation computes it),
    written to ``root`` and to each of ``also``."""
    text = json.dumps(compute_stats(root), indent=2) + "\n"
    for folder in (root, *also):
        (folder / STATS).write_text(text, encoding="utf-8")


__all__ = ["EPISODES_STATS", "listed_episodes", "restrict_episodes", "write_stats"]
