"""Inference on a builtin checkpoint with GR00T's observation and action dictionaries.

    from sagemaker_entry.builtin import load_policy
    policy = load_policy("/opt/ml/checkpoints/checkpoint-6000")
    action = policy.get_action({
        "video.front": frame_uint8_hw3, "video.wrist": frame_uint8_hw3,
        "state.single_arm": np.array([...5 values]), "state.gripper": np.array([...1 value]),
        "annotation.human.task_description": "pick up the cube",
    })
    action["action.single_arm"].shape  # (16, 5), robot units

Frames may be ``(H, W, 3)`` or ``(1, H, W, 3)`` (GR00T adds a time axis) at any size: they are scaled to the
training resolution the way training frames were (FFmpeg's area filter). States may be ``(dim,)`` or ``(1, dim)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter
from safetensors.torch import load_file

from gr00t_core.errors import UserError
from sagemaker_entry.builtin.checkpoint import METADATA_FILE, POLICY_FILE, WEIGHTS_FILE, read_policy_file
from sagemaker_entry.builtin.lerobot import Layout, bounds_from_statistics
from sagemaker_entry.builtin.model import FlowMatchingPolicy, PolicyConfig, build_policy
from sagemaker_entry.builtin.normalize import normalize, unnormalize
from sagemaker_entry.builtin.text import text_ids

# Where the flow starts at inference, as a multiple of GR00T's N(0, I) noise. 0 (the noise's mean) by default: on
# the learning benchmark (benchmarks/bench_builtin_learning.py, 500 steps) the network's output still depends on the
# noise it starts from, and that spread, not a wrong mean, made most of the first-action error (seed 42: 0.48x the
# repeat-state baseline from noise, 0.14x from the mean, 0.22x averaging 8 noise draws; docs/container.md).
DEFAULT_NOISE_SCALE = 0.0


class ObservationError(UserError, ValueError):
    """An observation dict lacks a key the policy needs or has the wrong shape."""


class Policy:
    """A loaded checkpoint: ``get_action(obs) -> {"action.<part>": (horizon, dim) array}`` in robot units."""

    def __init__(
        self,
        model: FlowMatchingPolicy,
        layout: Layout,
        statistics: dict[str, Any],
        embodiment_tag: str,
        *,
        seed: int = 0,
        noise_scale: float = DEFAULT_NOISE_SCALE,
    ) -> None:
        self.model = model.eval()
        self.layout = layout
        self.statistics = statistics
        self.bounds = bounds_from_statistics(statistics, layout)
        self.embodiment_tag = embodiment_tag
        self.device = next(model.parameters()).device
        self._generator = torch.Generator(device="cpu").manual_seed(seed)
        self.noise_scale = noise_scale
        self._reformatter = VideoReformatter()

    @property
    def config(self) -> PolicyConfig:
        return self.model.cfg

    @property
    def modality_keys(self) -> dict[str, list[str]]:
        return {
            "video": [f"video.{c.name}" for c in self.layout.cameras],
            "state": [f"state.{p.name}" for p in self.layout.state],
            "action": [f"action.{p.name}" for p in self.layout.action],
            "language": [self.layout.language_key] if self.layout.language_key else [],
        }

    def _frame(self, key: str, value: Any) -> np.ndarray:
        frame = np.asarray(value)
        if frame.ndim == 4:
            frame = frame[-1]  # (T, H, W, 3): the latest frame is the observation
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise ObservationError(f"{key}: expected an RGB frame (H, W, 3) or (1, H, W, 3), got shape {frame.shape}")
        if frame.dtype != np.uint8:
            raise ObservationError(f"{key}: expected uint8 pixels, got {frame.dtype}")
        size = self.config.image_size
        if frame.shape[:2] == (size, size):
            return frame
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        return self._reformatter.reformat(video_frame, width=size, height=size, format="rgb24", interpolation="AREA").to_ndarray()

    def _state(self, obs: Mapping[str, Any]) -> np.ndarray:
        parts = []
        for p in self.layout.state:
            key = f"state.{p.name}"
            if key not in obs:
                raise ObservationError(f"observation lacks {key!r}; the policy needs {', '.join(self.modality_keys['state'])}")
            value = np.asarray(obs[key], dtype=np.float64).reshape(-1)
            if value.shape[0] != p.dim:
                raise ObservationError(f"{key}: expected {p.dim} value(s), got {value.shape[0]}")
            parts.append(value)
        return np.concatenate(parts)

    def _text(self, obs: Mapping[str, Any]) -> str:
        value = obs.get(self.layout.language_key, "") if self.layout.language_key else ""
        if isinstance(value, (list, tuple, np.ndarray)):
            value = value[0] if len(value) else ""
        return str(value)

    def get_action(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [k for k in self.modality_keys["video"] if k not in obs]
        if missing:
            raise ObservationError(f"observation lacks {', '.join(missing)}")
        size = self.config.image_size
        frames = [self._frame(k, obs[k]) for k in self.modality_keys["video"]]
        images = np.stack(frames) if frames else np.zeros((0, size, size, 3), dtype=np.uint8)
        state = normalize(self._state(obs), self.bounds.state_min, self.bounds.state_max)
        text = text_ids(self._text(obs), vocab=self.config.text_vocab, length=self.config.text_tokens)
        with torch.inference_mode():
            chunk = self.model.sample(
                torch.from_numpy(images)[None].to(self.device),
                torch.from_numpy(state)[None].to(self.device),
                torch.from_numpy(text)[None].to(self.device),
                generator=self._generator,
                noise_scale=self.noise_scale,
            )
        actions = unnormalize(chunk[0].float().cpu().numpy(), self.bounds.action_min, self.bounds.action_max)
        out, start = {}, 0
        for p in self.layout.action:
            out[f"action.{p.name}"] = actions[:, start : start + p.dim]
            start += p.dim
        return out


def load_policy(
    checkpoint_dir: str | Path, *, device: str | torch.device | None = None, seed: int = 0,
    noise_scale: float = DEFAULT_NOISE_SCALE,
) -> Policy:
    """Load ``checkpoint-N/`` (or any folder holding builtin_policy.json, metadata and model.safetensors).

    ``noise_scale``: where each chunk's flow starts, as a multiple of N(0, I) (1.0: GR00T's random start, drawn
    from a generator seeded with ``seed``; 0.0, the default: deterministic)."""
    folder = Path(checkpoint_dir)
    missing = [name for name in (POLICY_FILE, str(METADATA_FILE), WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{folder} is not a builtin-engine checkpoint: {', '.join(missing)} missing")
    info = read_policy_file(folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    tag = info["embodiment_tag"]
    model = build_policy(PolicyConfig.from_json(info["policy"]))
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
    target = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return Policy(model.to(target), Layout.from_json(info["layout"]), metadata[tag]["statistics"], tag, seed=seed,
                  noise_scale=noise_scale)


__all__ = ["DEFAULT_NOISE_SCALE", "ObservationError", "Policy", "load_policy"]
