"""Training samples in GR00T's layout and the episode-window sampler that keeps video decoding cheap.

A sample at frame ``t`` of an episode holds the observation at ``t`` (one frame per camera, the state, the
task text) and the action chunk ``t .. t+horizon-1``, the last action repeated past the episode end (GR00T's
padding of absolute actions). State and actions are min-max normalised to [-1, 1]. Episodes of several datasets
of one layout (a mixture, see :mod:`.mixture`) form one pool of samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sagemaker_entry.builtin.frames import FrameCache, decode_episode
from sagemaker_entry.builtin.lerobot import Episode, LeRobotDataset
from sagemaker_entry.builtin.normalize import normalize
from sagemaker_entry.builtin.text import text_ids


@dataclass(frozen=True)
class _Prepared:
    episode: Episode
    state: np.ndarray  # (T, state_dim) normalised
    action: np.ndarray  # (T, action_dim) normalised
    dataset: int = 0  # position of its dataset among ChunkDataset.sources


class ChunkDataset(Dataset):
    """Every frame of the given episodes as one sample (a dict of numpy arrays; see :func:`collate`).

    ``more``: (dataset, episodes) of further datasets of the same layout, whose samples follow the first one's.
    """

    def __init__(
        self,
        source: LeRobotDataset,
        episodes: Sequence[int],
        *,
        image_size: int,
        text_vocab: int,
        text_tokens: int,
        frame_cache_bytes: int,
        more: Sequence[tuple[LeRobotDataset, Sequence[int]]] = (),
    ) -> None:
        self.source = source
        self.sources = (source, *(other for other, _ in more))
        self.layout = source.layout
        self.image_size = image_size
        self.frame_cache_bytes = frame_cache_bytes
        self._episodes: list[_Prepared] = []
        for position, (dataset, indices) in enumerate(((source, episodes), *more)):
            b = dataset.bounds
            for index in indices:
                ep = dataset.load_episode(index)
                state, action = normalize(ep.state, b.state_min, b.state_max), normalize(ep.action, b.action_min, b.action_max)
                self._episodes.append(_Prepared(ep, state, action, position))
        lengths = np.array([p.episode.length for p in self._episodes], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        # Task indexes are per dataset: each dataset's tasks.jsonl maps its own.
        self.text = [{i: text_ids(t, vocab=text_vocab, length=text_tokens) for i, t in d.tasks.items()} for d in self.sources]
        self._blank_text = np.zeros(text_tokens, dtype=np.int64)
        self._cache: FrameCache | None = None
        self._cache_pid = -1

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def episode_lengths(self) -> list[int]:
        return [p.episode.length for p in self._episodes]

    @property
    def frame_bytes(self) -> int:
        """Bytes of decoded video per sample (all cameras at the training resolution)."""
        return len(self.layout.cameras) * self.image_size * self.image_size * 3

    @property
    def cache(self) -> FrameCache:
        # One cache per process: each DataLoader worker decodes into its own, nothing is shared or pickled back.
        if self._cache is None or self._cache_pid != os.getpid():
            self._cache = FrameCache(self.frame_cache_bytes)
            self._cache_pid = os.getpid()
        return self._cache

    def locate(self, index: int) -> tuple[int, int]:
        """(position of the episode in this dataset, frame) of a sample index."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range 0..{len(self) - 1}")
        position = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return position, int(index - self.offsets[position])

    def frames(self, position: int) -> list[np.ndarray]:
        """Every camera's frames ``(T, S, S, 3) uint8`` for the episode at ``position`` (decoded once, cached)."""
        prepared = self._episodes[position]
        ep = prepared.episode
        out = []
        for camera in self.layout.cameras:
            path = self.sources[prepared.dataset].video_path(ep.index, camera)
            out.append(
                self.cache.get(
                    (prepared.dataset, ep.index, camera.name),
                    lambda path=path: decode_episode(path, self.image_size, ep.timestamp, episode=ep.index),
                )
            )
        return out

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        position, t = self.locate(index)
        prepared = self._episodes[position]
        ep = prepared.episode
        chunk = np.minimum(np.arange(t, t + self.layout.horizon), ep.length - 1)
        if self.layout.cameras:
            images = np.stack([frames[t] for frames in self.frames(position)])
        else:
            images = np.zeros((0, self.image_size, self.image_size, 3), dtype=np.uint8)
        return {
            "images": images,
            "state": prepared.state[t],
            "actions": prepared.action[chunk],
            "text": self.text[prepared.dataset].get(int(ep.task[t]), self._blank_text),
        }

    def episode(self, position: int) -> _Prepared:
        return self._episodes[position]

    def source_of(self, position: int) -> LeRobotDataset:
        """The dataset the episode at ``position`` comes from."""
        return self.sources[self._episodes[position].dataset]


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack samples into the policy's forward arguments (uint8 images are converted on the model's device)."""
    return {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in samples[0]}


class EpisodeWindowSampler(Sampler[int]):
    """A shuffled order that visits episodes in windows small enough to stay decoded in a worker's cache.

    Each epoch shuffles the episodes, groups them into consecutive windows of at most ``window_bytes`` of
    decoded frames (at least one episode each) and shuffles the frames within each window. Deterministic in
    (seed, epoch), so every DDP rank draws the same order and a resumed run replays it.
    """

    def __init__(self, episode_lengths: Sequence[int], frame_bytes: int, window_bytes: int, seed: int) -> None:
        self.lengths = list(episode_lengths)
        self.frame_bytes = max(1, frame_bytes)
        self.window_bytes = window_bytes
        self.seed = seed
        self.epoch = 0
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def windows(self, rng: np.random.Generator) -> list[list[int]]:
        windows: list[list[int]] = []
        current: list[int] = []
        size = 0
        for position in rng.permutation(len(self.lengths)):
            need = self.lengths[position] * self.frame_bytes
            if current and size + need > self.window_bytes:
                windows.append(current)
                current, size = [], 0
            current.append(int(position))
            size += need
        if current:
            windows.append(current)
        return windows

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for window in self.windows(rng):
            indices = np.concatenate([np.arange(self.offsets[p], self.offsets[p + 1]) for p in window])
            yield from rng.permutation(indices).tolist()


__all__ = ["ChunkDataset", "EpisodeWindowSampler", "collate"]
