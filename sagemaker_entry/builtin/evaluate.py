"""Open-loop evaluation on held-out episodes, as GR00T's ``scripts/eval_policy.py`` does it.

With several datasets (a mixture) the held-out episodes of each are evaluated together, each entry of
``per_episode`` naming its dataset. Every ``horizon`` frames the policy gets the recorded observation and predicts a chunk; the chunks laid end to
end are compared with the recorded actions (MSE in robot units, and in the normalised [-1, 1] space where every
joint weighs the same). The baseline repeats the current state as the action for the whole chunk; it exists
when state and action have the same parts (joint-position control, as on SO-100).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sagemaker_entry.builtin.data import ChunkDataset
from sagemaker_entry.builtin.normalize import normalize
from sagemaker_entry.builtin.plots import open_loop
from sagemaker_entry.builtin.policy import Policy

PLOT_FILE = "eval_open_loop.png"


def _has_state_baseline(dataset: ChunkDataset) -> bool:
    layout = dataset.layout
    return [(p.name, p.dim) for p in layout.state] == [(p.name, p.dim) for p in layout.action]


def _episode_predictions(policy: Policy, dataset: ChunkDataset, position: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ground truth, predicted, repeat-state baseline), each ``(T, action_dim)`` in robot units."""
    layout = dataset.layout
    ep = dataset.episode(position).episode
    frames = dataset.frames(position)
    horizon = layout.horizon
    predicted = np.empty_like(ep.action)
    baseline = np.empty((ep.length, ep.state.shape[1]), dtype=np.float32)
    for t in range(0, ep.length, horizon):
        obs: dict[str, Any] = {f"video.{c.name}": f[t] for c, f in zip(layout.cameras, frames, strict=True)}
        start = 0
        for p in layout.state:
            obs[f"state.{p.name}"] = ep.state[t, start : start + p.dim]
            start += p.dim
        if layout.language_key:
            obs[layout.language_key] = dataset.source_of(position).task_text(int(ep.task[t]))
        chunk = np.concatenate([v for v in policy.get_action(obs).values()], axis=1)
        end = min(t + horizon, ep.length)
        predicted[t:end] = chunk[: end - t]
        baseline[t:end] = ep.state[t]
    return ep.action, predicted, baseline


def evaluate(
    policy: Policy, dataset: ChunkDataset, output_dir: Path, *, should_stop: Callable[[], bool] = lambda: False
) -> dict[str, Any]:
    """MSE of the policy and of the baseline over every held-out episode, plus a plot of the first one."""
    bounds = dataset.source.bounds
    with_baseline = _has_state_baseline(dataset)
    per_episode = []
    squared: list[np.ndarray] = []
    squared_norm: list[np.ndarray] = []
    base_sq: list[np.ndarray] = []
    base_sq_norm: list[np.ndarray] = []
    plot = None
    for position in range(len(dataset.episode_lengths)):
        if should_stop():
            return {"skipped": "the run was asked to stop (SIGTERM) before the evaluation finished"}
        truth, predicted, baseline = _episode_predictions(policy, dataset, position)

        def norm(x: np.ndarray) -> np.ndarray:
            return normalize(x, bounds.action_min, bounds.action_max)

        squared.append((truth - predicted) ** 2)
        squared_norm.append((norm(truth) - norm(predicted)) ** 2)
        entry: dict[str, Any] = {"episode": dataset.episode(position).episode.index, "frames": len(truth),
                                 "mse": float(squared[-1].mean())}
        if len(dataset.sources) > 1:  # episode indexes repeat across the datasets of a mixture
            entry["dataset"] = str(dataset.source_of(position).root)
        if with_baseline:
            base_sq.append((truth - baseline) ** 2)
            base_sq_norm.append((norm(truth) - norm(baseline)) ** 2)
            entry["baseline_repeat_state_mse"] = float(base_sq[-1].mean())
        per_episode.append(entry)
        if plot is None:
            names = [f"{p.name}[{i}]" for p in dataset.layout.action for i in range(p.dim)]
            title = f"Open loop, held-out episode {entry['episode']}: MSE {entry['mse']:.4g}"
            plot = open_loop(truth, predicted, baseline if with_baseline else None, names, title, output_dir / PLOT_FILE)
    result: dict[str, Any] = {
        "episodes": [e["episode"] for e in per_episode],
        "frames": int(sum(e["frames"] for e in per_episode)),
        "mse": float(np.concatenate(squared).mean()),
        "normalized_mse": float(np.concatenate(squared_norm).mean()),
        "baseline_repeat_state_mse": None,
        "normalized_baseline_repeat_state_mse": None,
        "beats_baseline": None,
        "per_episode": per_episode,
        "plot": plot.name if plot else None,
    }
    if with_baseline:
        result["baseline_repeat_state_mse"] = float(np.concatenate(base_sq).mean())
        result["normalized_baseline_repeat_state_mse"] = float(np.concatenate(base_sq_norm).mean())
        result["beats_baseline"] = result["mse"] < result["baseline_repeat_state_mse"]
    return result


__all__ = ["PLOT_FILE", "evaluate"]
