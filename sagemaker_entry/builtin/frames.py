"""Video frames for training: each episode video decoded once, resized while decoding, kept in a bounded LRU.

Random access into an mp4 costs a seek plus the decode of a whole GOP; re-decoding per sample is what makes
GR00T's loaders slow and their memory grow (Isaac-GR00T #303, #154). Here a DataLoader worker decodes a whole
episode once with PyAV, scaling every frame to the training resolution inside FFmpeg (swscale, area filter, one
reusable context), and keeps the uint8 frames in an LRU bounded in bytes. The sampler (:mod:`.data`) visits
episodes in windows that fit that budget, so a worker decodes each episode about once per epoch and its memory
stays flat across epochs.

Frames are matched to parquet rows by timestamp (nearest decoded frame within half a frame period), so a video
with dropped or missing frames is reported instead of silently shifted.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from gr00t_core.errors import DatasetError


class FrameDecodeError(DatasetError):
    """A video cannot be decoded; the message names the episode and the file.

    Built from one message. A DataLoader worker's exception comes back to the main process rebuilt from its
    formatted traceback; the constructor then recovers the original problem lines so the user sees them alone.
    """

    def __init__(self, message: str) -> None:
        if "Traceback" in message and "FrameDecodeError: " in message:
            tail = message.rsplit("FrameDecodeError: ", 1)[1]
            lines = [line[4:] for line in tail.splitlines() if line.startswith("  - ")]
            problems = lines or [message]
        else:
            problems = [message]
        super().__init__(problems, header="A video of the dataset cannot be decoded")


def decode_episode(path: Path, size: int, timestamps: np.ndarray, *, episode: int) -> np.ndarray:
    """Frames ``(len(timestamps), size, size, 3) uint8`` of the video at ``path``, one per parquet row."""
    reformatter = VideoReformatter()
    images: list[np.ndarray] = []
    times: list[float] = []
    where = f"episode {episode}: {path}"
    try:
        with av.open(str(path), "r") as container:
            if not container.streams.video:
                raise FrameDecodeError(f"{where} holds no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 30)
            for frame in container.decode(stream):
                small = reformatter.reformat(frame, width=size, height=size, format="rgb24", interpolation="AREA")
                images.append(small.to_ndarray())
                times.append(frame.time if frame.time is not None else len(times) / rate)
    except FileNotFoundError:
        raise FrameDecodeError(f"{where} is missing") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        if isinstance(exc, FrameDecodeError):
            raise
        raise FrameDecodeError(f"{where} cannot be decoded after {len(images)} frame(s) ({exc})") from None
    if not images:
        raise FrameDecodeError(f"{where} holds no decodable frame")
    frame_times = np.asarray(times, dtype=np.float64)
    order = np.argsort(frame_times, kind="stable")  # B-frames come out in presentation order already; be safe
    frame_times = frame_times[order]
    nearest = np.clip(np.searchsorted(frame_times, timestamps), 1, len(frame_times) - 1) if len(frame_times) > 1 else None
    if nearest is None:
        picks = np.zeros(len(timestamps), dtype=np.int64)
    else:
        left = frame_times[nearest - 1]
        right = frame_times[nearest]
        picks = np.where(np.abs(timestamps - left) <= np.abs(right - timestamps), nearest - 1, nearest)
    error = np.abs(frame_times[picks] - timestamps)
    bad = np.flatnonzero(error > 0.5 / rate + 1e-4)  # half a frame period: jitter passes, a missing frame does not
    if bad.size:
        row = int(bad[0])
        raise FrameDecodeError(
            f"{where} has no frame at t={timestamps[row]:.3f} s (parquet row {row}); the video holds "
            f"{len(frame_times)} frame(s) from {frame_times[0]:.3f} to {frame_times[-1]:.3f} s"
        )
    stacked = np.stack(images)[order]
    return np.ascontiguousarray(stacked[picks])


class FrameCache:
    """Decoded episodes (uint8) keyed by (dataset, episode, camera), least recently used dropped beyond ``max_bytes``.

    The entry just inserted is always kept, so one episode larger than the budget still works.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        self.bytes = 0
        self.decodes = 0  # how many videos this cache decoded (the benchmark and tests read it)

    def get(self, key: tuple[object, ...], load) -> np.ndarray:  # load: () -> np.ndarray
        frames = self._entries.get(key)
        if frames is not None:
            self._entries.move_to_end(key)
            return frames
        frames = load()
        self.decodes += 1
        self._entries[key] = frames
        self.bytes += frames.nbytes
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= dropped.nbytes
        return frames


__all__ = ["FrameCache", "FrameDecodeError", "decode_episode"]
