"""Run reports: resolved_config.json, run_summary.json, the loss-curve PNG and VAMS's asset.metadata.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gr00t_core import metrics

RESOLVED_CONFIG = "resolved_config.json"
RUN_SUMMARY = "run_summary.json"
LOSS_CURVE = "loss_curve.png"
TRAIN_RESULT = "train_result.json"
ASSET_METADATA = "asset.metadata.json"


class TrainerLog:
    """What the trainer printed, as numbers: the loss history for the curve and the last value of each key."""

    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []  # (step or log index, loss)
        self.last: dict[str, float] = {}
        self.step = 0

    def feed(self, line: str, _stream: str = "stdout") -> None:
        values = metrics.parse_trainer_line(line)
        found = metrics.extract(line)
        if "train:step" in found:
            self.step = int(found["train:step"])
        if not values:
            return
        self.last.update(values)
        if "loss" in values:
            step = int(values.get("step", self.step or len(self.losses) + 1))
            self.losses.append((step, values["loss"]))


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def plot_loss(points: Sequence[tuple[int, float]], path: Path, *, title: str) -> Path | None:
    """A PNG of loss over steps; None when there is nothing to plot."""
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            camel = "".join(part[:1].upper() + part[1:] for part in str(k).split("_"))
            _flatten(f"{prefix}{camel}", v, out)
    elif isinstance(value, (int, float, str, bool)) and not isinstance(value, bool):
        out[prefix] = value


def asset_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """VAMS metadata format (``updateType: update``): summary keys as string values. Keys avoid the ``GROOT_``
    prefix, which VAMS users set as training parameters."""
    values: dict[str, Any] = {
        "gr00tOutputFolder": summary.get("output_folder"),
        "gr00tTrainingJob": summary.get("job_name"),
        "gr00tStatus": summary.get("status"),
        "gr00tEngine": summary.get("engine"),
        "gr00tBaseModel": summary.get("base_model"),
        "gr00tSteps": summary.get("global_step"),
        "gr00tFinalLoss": summary.get("final_loss"),
        "gr00tInstanceType": summary.get("instance", {}).get("type"),
        "gr00tTrainingSeconds": summary.get("phase_seconds", {}).get("training"),
        "gr00tModelCacheTier": summary.get("model_cache", {}).get("tier"),
    }
    _flatten("gr00tEval", summary.get("eval") or {}, values)
    return {
        "type": "metadata",
        "updateType": "update",
        "metadata": [
            {"metadataKey": k, "metadataValue": str(v), "metadataValueType": "string"}
            for k, v in values.items() if v is not None and v != ""
        ],
    }
