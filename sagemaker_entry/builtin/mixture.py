"""Several prepared datasets of one layout trained on as one, the way Isaac-GR00T N1.5 mixes its dataset paths.

What GR00T does (NVIDIA/Isaac-GR00T, gr00t/data/dataset.py, ``LeRobotMixtureDataset``; ``scripts/gr00t_finetune.py``
passes every ``--dataset-path`` with weight 1.0 and ``balance_dataset_weights`` / ``balance_trajectory_weights``
true by default):

* weighting: each dataset's weight 1.0 is multiplied by its number of frames and renormalised, a trajectory is drawn
  in proportion to its length and a frame uniformly inside it. Every frame of every dataset is therefore equally
  likely: "equal weights" means equal per frame, so a dataset twice as long is drawn twice as often. Here the
  episodes of all datasets go into one pool for the episode-window sampler, which draws exactly that distribution
  (every frame once per epoch) while keeping its decoded-video windows.
* normalisation: ``merge_metadata`` / ``compute_overall_statistics`` pool the per-dataset statistics into one set
  per embodiment tag (min of the minima, max of the maxima, frame-weighted mean, pooled standard deviation,
  frame-weighted q01/q99 under ``percentile_mixing_method="weighted_average"``), every dataset is normalised with
  it and it is what the checkpoint's ``experiment_cfg/metadata.json`` holds. One set of statistics keeps the
  checkpoint format and ``get_action`` unchanged. (Some versions of that file keep per-dataset statistics for
  training instead; they then save only the first dataset's, which would be wrong at inference for the others.)

Only datasets of one layout mix: the same camera keys and the same state/action keys with the same widths (GR00T
asserts that the merged modality metadata agree); anything else is refused naming the dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_core.errors import DatasetError
from sagemaker_entry.builtin.lerobot import STAT_KEYS, Layout, LeRobotDataset

Statistics = dict[str, dict[str, dict[str, list[float]]]]  # kind -> part -> stat -> one value per dimension


def _signature(layout: Layout) -> dict[str, list[str]]:
    return {
        "cameras": [f"video.{c.name}" for c in layout.cameras],
        "state": [f"state.{p.name} ({p.dim} values)" for p in layout.state],
        "action": [f"action.{p.name} ({p.dim} values)" for p in layout.action],
    }


def layout_problems(first: Path, first_layout: Layout, other: Path, other_layout: Layout) -> list[str]:
    """One line per kind (cameras, state, action) in which ``other`` differs from the first dataset."""
    want, got = _signature(first_layout), _signature(other_layout)
    return [
        f"dataset {other}: {kind} {', '.join(got[kind]) or 'none'} differ from the first dataset {first}'s "
        f"{', '.join(want[kind]) or 'none'}; only datasets of one layout train together"
        for kind in want
        if want[kind] != got[kind]
    ]


def merge_statistics(statistics: Sequence[Statistics], frames: Sequence[int]) -> Statistics:
    """GR00T's ``compute_overall_statistics`` over datasets weighted by their frame counts (equal if unknown)."""
    weights = np.asarray(frames, dtype=np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(statistics), 1.0 / len(statistics))
    merged: Statistics = {}
    for kind, parts in statistics[0].items():
        merged[kind] = {}
        for part in parts:
            each = [s[kind][part] for s in statistics]
            keys = [k for k in STAT_KEYS if all(k in e for e in each)]
            stack = {k: np.asarray([e[k] for e in each], dtype=np.float64) for k in keys}
            out: dict[str, np.ndarray] = {}
            if "min" in stack:
                out["min"], out["max"] = stack["min"].min(axis=0), stack["max"].max(axis=0)
            if "mean" in stack:
                out["mean"] = weights @ stack["mean"]
                if "std" in stack:
                    second_moment = weights @ (stack["std"] ** 2 + stack["mean"] ** 2)
                    out["std"] = np.sqrt(np.maximum(second_moment - out["mean"] ** 2, 0.0))
            for k in ("q01", "q99"):
                if k in stack:
                    out[k] = weights @ stack[k]
            merged[kind][part] = {k: [float(v) for v in out[k]] for k in STAT_KEYS if k in out}
    return merged


def open_datasets(dirs: Sequence[Path], data_config: str, *, warn: Callable[[str], None]) -> list[LeRobotDataset]:
    """Every dataset of the run, checked to share the first one's layout and normalised with the merged statistics
    when there are several; raises DatasetError naming the dataset that does not fit."""
    sources = [LeRobotDataset(d, data_config, warn=warn) for d in dirs]
    if len(sources) == 1:
        return sources
    first = sources[0]
    problems = [line for s in sources[1:] for line in layout_problems(first.root, first.layout, s.root, s.layout)]
    if problems:
        raise DatasetError(problems, header="The datasets of datasetPath do not share one layout")
    different_fps = [f"{s.root} ({s.fps:g})" for s in sources[1:] if s.fps != first.fps]
    if different_fps:
        warn(f"datasets recorded at another frame rate than {first.root} ({first.fps:g} fps): "
             f"{', '.join(different_fps)}; the action chunks then span different durations")
    merged = merge_statistics([s.statistics for s in sources], [s.total_frames for s in sources])
    for source in sources:
        source.use_statistics(merged)
    return sources


def describe(sources: Sequence[LeRobotDataset]) -> list[dict[str, Any]]:
    """The datasets of a run as the run summary lists them."""
    return [{"path": str(s.root), "episodes": len(s.episode_indices), "frames": s.total_frames} for s in sources]


__all__ = ["describe", "layout_problems", "merge_statistics", "open_datasets"]
