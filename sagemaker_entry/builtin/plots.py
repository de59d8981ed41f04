"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curve(log_history: Sequence[dict], path: Path) -> Path | None:
    """Training loss against step from the Trainer's log history; None when nothing was logged."""
    points = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry and "step" in entry]
    if not points:
        return None
    plt = _pyplot()
    steps, losses = zip(*points, strict=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, losses, marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_yscale("log")
    ax.set_title("Training loss (builtin engine)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def open_loop(
    truth: np.ndarray, predicted: np.ndarray, baseline: np.ndarray | None, names: Sequence[str], title: str, path: Path
) -> Path:
    """One panel per action dimension: ground truth, predicted chunks and the repeat-state baseline over time."""
    plt = _pyplot()
    dims = truth.shape[1]
    fig, axes = plt.subplots(dims, 1, figsize=(8, 1.8 * dims), sharex=True, squeeze=False)
    for d in range(dims):
        ax = axes[d, 0]
        ax.plot(truth[:, d], label="ground truth", color="black")
        ax.plot(predicted[:, d], label="predicted", color="tab:blue")
        if baseline is not None:
            ax.plot(baseline[:, d], label="repeat state", color="tab:gray", linestyle="--")
        ax.set_ylabel(names[d], fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("frame")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["loss_curve", "open_loop"]
