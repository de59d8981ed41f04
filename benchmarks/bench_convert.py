"""LeRobot v3.0 -> v2.1 conversion: the video part's speed as a multiple of real time, against decode + re-encode.

Setting: 480x640, 30 fps H.264 (LeRobot's recording settings: yuv420p, GOP 2, CRF 30), one camera, episodes of
5 s packed into one v3.0 video file the way LeRobot packs them (:mod:`gr00t_data.synthetic_v3`). Measured in
the same run, each median of ``--repeats``:

* ``ours``: :func:`gr00t_data.convert.convert_v3_to_v21` (every episode cut by stream copy here);
* ``baseline``: what a converter without the keyframe check does to be frame-exact: decode every frame of the
  file and encode each episode again with LeRobot's settings (:func:`gr00t_data.video.write_video`);
* ``reencode``: our converter on a file encoded as one stream with a 40-frame GOP, where episodes that do not
  start on a keyframe must be re-encoded (CRF 18): the slow path, for reference.

Figures: seconds of video converted per second of wall time ("x real time"), and baseline / ours.
Target (issue 11): ours >= 10x real time on a 2-core machine. Run: ``.venv/bin/python -m benchmarks.bench_convert``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from gr00t_data.convert import convert_v3_to_v21
from gr00t_data.synthetic_v3 import generate_v3_dataset
from gr00t_data.video import write_video

TARGET_X = 10.0
FPS = 30
SIZE = {"width": 640, "height": 480}


def _timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _baseline(v3: Path, out: Path, lengths: list[int]) -> None:
    """Decode the v3.0 file and encode each episode's frames on their own (frame-exact without stream copy)."""
    source = next((v3 / "videos").rglob("*.mp4"))
    with av.open(str(source)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    start = 0
    for ep, length in enumerate(lengths):
        write_video(out / f"episode_{ep:06d}.mp4", np.stack(frames[start : start + length]), fps=FPS)
        start += length


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_convert", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each episode")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    lengths = [round(args.seconds * FPS)] * args.episodes
    video_s = sum(lengths) / FPS
    work = Path(tempfile.mkdtemp(prefix="bench-convert-", dir="/tmp"))
    try:
        common = {"layout": "so100", "episode_lengths": lengths, "fps": FPS, "episodes_per_video_file": args.episodes, **SIZE}
        started = time.perf_counter()
        copyable = generate_v3_dataset(work / "v3", **common)
        continuous = generate_v3_dataset(work / "v3-gop40", video_mode="continuous", gop=40, **common)
        print(f"setup: 2 v3.0 datasets of {args.episodes} x {args.seconds:g} s, 480x640 {FPS} fps H.264 "
              f"({time.perf_counter() - started:.1f} s); {os.cpu_count()} CPU(s)")

        def ours() -> None:
            shutil.rmtree(work / "out", ignore_errors=True)
            report = convert_v3_to_v21(copyable, work / "out")
            assert report.copied_videos == args.episodes and report.reencoded_videos == 0, report

        def baseline() -> None:
            shutil.rmtree(work / "base", ignore_errors=True)
            _baseline(copyable, work / "base", lengths)

        def reencode() -> None:
            shutil.rmtree(work / "slow", ignore_errors=True)
            report = convert_v3_to_v21(continuous, work / "slow")
            assert report.reencoded_videos >= args.episodes - 1, report

        t_ours = _timed(ours, args.repeats)
        t_base = _timed(baseline, max(1, args.repeats - 2))
        t_slow = _timed(reencode, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    x_ours, x_base, x_slow = video_s / t_ours, video_s / t_base, video_s / t_slow
    print(f"video: {video_s:.0f} s in {args.episodes} episodes")
    print(f"ours (stream copy)          {t_ours:7.2f} s  {x_ours:8.1f}x real time")
    print(f"baseline (decode+re-encode) {t_base:7.2f} s  {x_base:8.1f}x real time")
    print(f"ours, GOP-40 source (re-encodes mid-GOP episodes) {t_slow:.2f} s  {x_slow:.1f}x real time")
    print(f"ours vs baseline: {t_base / t_ours:.1f}x faster; target >= {TARGET_X:g}x real time: "
          f"{'met' if x_ours >= TARGET_X else 'NOT met'}")
    return 0 if x_ours >= TARGET_X else 1


if __name__ == "__main__":
    sys.exit(main())
