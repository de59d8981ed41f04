"""What makes a ``checkpoint-N/`` folder loadable on its own, and the marker that says it is complete.

Beside the Trainer's files (``model.safetensors``, ``trainer_state.json``, optimizer, scheduler, RNG states) each
checkpoint gets, as GR00T's do, ``experiment_cfg/metadata.json`` (statistics and modalities per embodiment
tag), plus ``builtin_policy.json`` (the network's shape and the key layout), and finally ``.complete``: written
last, after every rank has finished writing, so an uploader can tell a finished checkpoint from one in progress.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_entry.builtin.lerobot import Layout

POLICY_FILE = "builtin_policy.json"
METADATA_FILE = Path("experiment_cfg") / "metadata.json"
COMPLETE_MARKER = ".complete"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "gr00t-sm-builtin/1"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class CheckpointInfo:
    """The run-wide facts every checkpoint of a run carries (only the weights differ between them)."""

    policy: dict[str, Any]  # PolicyConfig.to_json()
    layout: Layout
    statistics: dict[str, Any]  # kind -> part -> stat -> values
    embodiment_tag: str
    data_config: str
    fps: float

    def metadata(self) -> dict[str, Any]:
        """GR00T's experiment_cfg/metadata.json shape: {tag: {statistics, modalities, embodiment_tag}}."""
        layout = self.layout
        size = self.policy["image_size"]
        modalities = {
            "video": {c.name: {"resolution": [size, size], "channels": 3, "fps": self.fps} for c in layout.cameras},
            "state": {p.name: {"absolute": True, "rotation_type": None, "shape": [p.dim], "continuous": True} for p in layout.state},
            "action": {p.name: {"absolute": True, "rotation_type": None, "shape": [p.dim], "continuous": True} for p in layout.action},
        }
        return {self.embodiment_tag: {"statistics": self.statistics, "modalities": modalities, "embodiment_tag": self.embodiment_tag}}

    def policy_file(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "policy": self.policy,
            "layout": self.layout.to_json(),
            "embodiment_tag": self.embodiment_tag,
            "data_config": self.data_config,
        }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def write_extras(checkpoint_dir: Path, info: CheckpointInfo) -> None:
    _write_json(checkpoint_dir / METADATA_FILE, info.metadata())
    _write_json(checkpoint_dir / POLICY_FILE, info.policy_file())


def mark_complete(checkpoint_dir: Path) -> None:
    (checkpoint_dir / COMPLETE_MARKER).write_text("")


def is_complete(checkpoint_dir: Path) -> bool:
    return (checkpoint_dir / COMPLETE_MARKER).is_file()


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT.match(Path(path).name)
    return int(match.group(1)) if match else None


def latest_checkpoint(output_dir: Path, *, complete_only: bool = True) -> Path | None:
    """The ``checkpoint-N`` folder with the highest N (only complete ones unless told otherwise)."""
    if not Path(output_dir).is_dir():
        return None
    found = [
        (step, p)
        for p in Path(output_dir).iterdir()
        if p.is_dir() and (step := checkpoint_step(p)) is not None and (is_complete(p) or not complete_only)
    ]
    return max(found)[1] if found else None


def read_policy_file(checkpoint_dir: Path) -> dict[str, Any]:
    data = json.loads((Path(checkpoint_dir) / POLICY_FILE).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{checkpoint_dir / POLICY_FILE}: format {data.get('format')!r} is not {FORMAT!r}")
    return data


__all__ = [
    "COMPLETE_MARKER",
    "CheckpointInfo",
    "METADATA_FILE",
    "POLICY_FILE",
    "WEIGHTS_FILE",
    "checkpoint_step",
    "is_complete",
    "latest_checkpoint",
    "mark_complete",
    "read_policy_file",
    "write_extras",
]
