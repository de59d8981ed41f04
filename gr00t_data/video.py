"""Video files of LeRobot datasets through PyAV: encode (synthetic data), probe the codec, decode frames.

The preflight decodes one frame per camera because codec trouble (AV1 recordings that decord cannot read,
FFmpeg builds without the decoder) is the most common way a paid GPU job dies in its first minute; the builtin
training engine decodes whole episodes with :func:`read_frames`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Encoder libraries tried in order for each codec name used in LeRobot's info.json ("video.codec").
_ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "libopenh264", "h264"),
    "av1": ("libsvtav1", "libaom-av1", "librav1e"),
    "hevc": ("libx265", "hevc"),
}


class VideoReadError(ValueError):
    """A video file cannot be opened or decoded; the message names the file and the cause."""


@dataclass(frozen=True)
class VideoProbe:
    codec: str  # codec of the first video stream as info.json names it, e.g. "h264", "av1"
    decoder: str  # the FFmpeg decoder this machine would use, e.g. "h264", "libdav1d"
    width: int
    height: int
    fps: float | None
    frames: int | None  # from the container header; None when the container does not say
    pix_fmt: str | None


def encoder_for(codec: str) -> str | None:
    """The first available PyAV encoder for a LeRobot codec name ("h264", "av1"), or None if none is built in."""
    for name in _ENCODERS.get(codec, (codec,)):
        try:
            av.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            continue
        return name
    return None


@contextmanager
def _quiet_svt() -> Iterator[None]:
    # SVT-AV1 prints its whole configuration to stderr on every open unless SVT_LOG says otherwise; the setting is
    # read when the encoder starts, so it is set around the encode only and the caller's environment is restored.
    before = os.environ.get("SVT_LOG")
    os.environ["SVT_LOG"] = before or "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SVT_LOG", None)


class VideoWriter:
    """An mp4 being encoded frame by frame (frame i at i / fps); :func:`open_writer` makes one."""

    def __init__(self, path: Path, *, fps: float, encoder: str, width: int, height: int, crf: int, gop: int,
                 options: dict[str, str] | None = None) -> None:
        settings: dict[str, object] = {"g": str(gop), "crf": str(crf), **(options or {})}
        if encoder == "libsvtav1":
            settings["preset"] = "10"
        path.parent.mkdir(parents=True, exist_ok=True)
        with _quiet_svt():
            self._container = av.open(str(path), "w", format="mp4")
            rate = Fraction(fps).limit_denominator(1001)
            stream = self._container.add_stream(encoder, rate=rate)
            if not isinstance(stream, av.video.stream.VideoStream):
                raise ValueError(f"{encoder} is not a video encoder")
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.thread_count = 1
            stream.options = settings
            self._stream = stream
        self._count = 0

    def write(self, frame: av.VideoFrame) -> None:
        frame.pts = self._count
        self._count += 1
        with _quiet_svt():
            self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        with _quiet_svt():
            self._container.mux(self._stream.encode())
        self._container.close()


def open_writer(path: Path, *, fps: float, codec: str = "h264", width: int, height: int, crf: int = 30, gop: int = 2,
                options: dict[str, str] | None = None) -> VideoWriter:
    """Start an mp4 the way LeRobot records (yuv420p, short GOP, CRF); ``codec`` is a LeRobot name or an encoder;
    ``options`` are further FFmpeg encoder options.

    Raises ValueError when no encoder for ``codec`` is available in this PyAV build.
    """
    encoder = encoder_for(codec)
    if encoder is None:
        raise ValueError(f"no {codec} encoder in this PyAV build (available codecs: h264, av1 when built in)")
    return VideoWriter(path, fps=fps, encoder=encoder, width=width, height=height, crf=crf, gop=gop, options=options)


def write_video(path: Path, frames: np.ndarray, *, fps: int, codec: str = "h264", crf: int = 30, gop: int = 2) -> None:
    """Encode RGB frames ``(T, H, W, 3) uint8`` to an mp4 the way LeRobot records (yuv420p, short GOP, CRF).

    Raises ValueError when no encoder for ``codec`` is available in this PyAV build.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    height, width = frames.shape[1:3]
    writer = open_writer(path, fps=fps, codec=codec, width=width, height=height, crf=crf, gop=gop)
    try:
        for image in frames:
            writer.write(yuv420p_frame(image))
    finally:
        writer.close()


def yuv420p_frame(image: np.ndarray) -> av.VideoFrame:
    """An RGB image as a yuv420p frame whose row padding is zeroed.

    FFmpeg leaves the padding at the end of each row uninitialised and x264 reads it, so the same images could
    encode to different bytes from run to run (a seed must give the same dataset).
    """
    converted = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    frame = av.VideoFrame(converted.width, converted.height, "yuv420p")
    for source, target in zip(converted.planes, frame.planes, strict=True):
        rows = np.frombuffer(memoryview(source), np.uint8).reshape(-1, source.line_size)[: target.height, : target.width]
        padded = np.zeros((target.height, target.line_size), np.uint8)
        padded[:, : target.width] = rows
        target.update(padded.tobytes())
    return frame


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except FileNotFoundError:
        raise VideoReadError(f"{path}: file not found") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoReadError(f"{path}: not a readable video ({exc})") from None


def probe_video(path: Path) -> VideoProbe:
    """Codec, size and frame rate of the first video stream, from the container header (no decoding)."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path}: holds no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return VideoProbe(
            codec=ctx.codec.canonical_name,
            decoder=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=float(rate) if rate else None,
            frames=stream.frames or None,
            pix_fmt=ctx.pix_fmt,
        )


def decode_first_frame(path: Path) -> np.ndarray:
    """Decode the first frame as RGB ``(H, W, 3) uint8``; proves this machine's FFmpeg can read the codec."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path}: holds no video stream")
        try:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgb24")
        except av.FFmpegError as exc:
            raise VideoReadError(f"{path}: cannot decode the first frame ({exc})") from None
    raise VideoReadError(f"{path}: the video stream holds no frame")


def read_frames(path: Path) -> np.ndarray:
    """Decode every frame as RGB ``(T, H, W, 3) uint8`` (small training videos; one episode at a time)."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path}: holds no video stream")
        container.streams.video[0].thread_type = "AUTO"
        try:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        except av.FFmpegError as exc:
            raise VideoReadError(f"{path}: decoding failed ({exc})") from None
    if not frames:
        raise VideoReadError(f"{path}: the video stream holds no frame")
    return np.stack(frames)


__all__ = [
    "VideoProbe",
    "VideoWriter",
    "VideoReadError",
    "decode_first_frame",
    "encoder_for",
    "open_writer",
    "probe_video",
    "read_frames",
    "write_video",
    "yuv420p_frame",
]
