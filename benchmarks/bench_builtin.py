"""Builtin engine throughput: the data loader alone vs training, and memory over three epochs.

Setting: a so100_dualcam synthetic dataset (two h264 cameras, ``--episodes`` x ``--frames``), the default small
policy (64 px frames, 16-px patches, hidden 128), batch 32, ``--workers`` DataLoader workers, a frame cache
smaller than the decoded dataset (``--cache-mb``) so that windows rotate and every epoch decodes every video
again: the regime of a real dataset much larger than the cache, where memory growth would show.

Measured in the same run:

* ``loader``: the training DataLoader alone (same dataset, sampler, collate, workers) for 3 epochs: samples/s per
  epoch and the peak memory of the process tree per epoch (RSS summed, and PSS, which counts shared pages once);
* ``naive_loader``: the baseline this loader replaces, decoding each sample's whole episode video per sample;
* ``training``: ``sagemaker_entry.builtin.train`` for 3 epochs: samples/s between log lines (median, steady
  state) and the peak memory of the process tree during each epoch (cut at the step log lines).

Targets: loader samples/s >= 2 x training samples/s (the loader is not the bottleneck); the peak memory (PSS) of
epoch 3 within 10 % (+32 MiB) of epoch 1, for the loader alone and for training.
Run: ``.venv/bin/python -m benchmarks.bench_builtin [--episodes 12 --frames 100 --workers 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

MIB = 2**20


class MemorySampler:
    """Samples the memory of this process and its children every ``period`` seconds in a thread."""

    def __init__(self, period: float = 0.1) -> None:
        self.period = period
        self.samples: list[tuple[float, int, int]] = []  # (time, rss sum, pss sum)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _measure(self) -> tuple[int, int]:
        rss = pss = 0
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                info = proc.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
        return rss, pss

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), *self._measure()))
            self._stop.wait(self.period)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> dict[str, float]:
        window = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return {"rss_mib": round(max(s[1] for s in window) / MIB, 1), "pss_mib": round(max(s[2] for s in window) / MIB, 1)}


def _flat(first: dict[str, float], last: dict[str, float]) -> bool:
    return last["pss_mib"] <= first["pss_mib"] * 1.10 + 32


def make_dataset(root: Path, episodes: int, frames: int, width: int, height: int) -> Path:
    from gr00t_data.synthetic import generate_dataset

    return generate_dataset(root, layout="so100_dualcam", episodes=episodes, frames_per_episode=frames,
                            width=width, height=height, write_modality=True, write_stats=True)


def _chunk_dataset(dataset: Path, cache_mb: int):
    from sagemaker_entry.builtin.data import ChunkDataset
    from sagemaker_entry.builtin.lerobot import LeRobotDataset
    from sagemaker_entry.builtin.settings import ModelOptions

    options = ModelOptions()
    source = LeRobotDataset(dataset, "so100_dualcam")
    return ChunkDataset(source, source.episode_indices, image_size=options.image_size, text_vocab=options.text_vocab,
                        text_tokens=options.text_tokens, frame_cache_bytes=cache_mb * MIB)


def measure_loader(dataset: Path, *, workers: int, batch: int, cache_mb: int, epochs: int = 3) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from sagemaker_entry.builtin.data import EpisodeWindowSampler, collate

    ds = _chunk_dataset(dataset, cache_mb)
    sampler = EpisodeWindowSampler(ds.episode_lengths, ds.frame_bytes, cache_mb * MIB // 2, seed=42)
    loader = DataLoader(ds, batch_size=batch, sampler=sampler, collate_fn=collate, num_workers=workers,
                        persistent_workers=workers > 0)
    per_epoch = []
    with MemorySampler() as memory:
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            began = time.perf_counter()
            seen = sum(len(b["state"]) for b in loader)
            ended = time.perf_counter()
            per_epoch.append({"epoch": epoch + 1, "samples_per_second": round(seen / (ended - began), 1),
                              **memory.peak(began, ended)})
    decoded_mib = len(ds) * ds.frame_bytes / MIB
    return {"epochs": per_epoch, "decoded_dataset_mib": round(decoded_mib, 1), "cache_mib": cache_mb,
            "windows_per_epoch": len(sampler.windows(__import__("numpy").random.default_rng([42, 0]))),
            "memory_flat": _flat(per_epoch[0], per_epoch[-1])}


def measure_naive(dataset: Path, samples: int = 12) -> float:
    """Samples/s when every sample decodes its episode's whole videos (what the frame cache avoids)."""
    from sagemaker_entry.builtin.frames import decode_episode

    ds = _chunk_dataset(dataset, 1)
    began = time.perf_counter()
    for i in range(samples):
        position, t = ds.locate((i * 7919) % len(ds))
        ep = ds.episode(position).episode
        for camera in ds.layout.cameras:
            decode_episode(ds.source.video_path(ep.index, camera), ds.image_size, ep.timestamp, episode=ep.index)[t]
    return samples / (time.perf_counter() - began)


class _TimedLines(io.StringIO):
    """stdout that remembers when each training step line was printed, to cut the run into epochs."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[int, float]] = []  # (step, time)

    def write(self, text: str) -> int:
        match = re.match(r"\[gr00t-sm\] step=(\d+) ", text)
        if match:
            self.steps.append((int(match.group(1)), time.perf_counter()))
        return super().write(text)


def measure_training(dataset: Path, output: Path, *, workers: int, batch: int, cache_mb: int, epochs: int = 3) -> dict[str, Any]:
    from sagemaker_entry.builtin.settings import ModelOptions, TrainRequest, typed_config
    from sagemaker_entry.builtin.train import run

    samples = len(_chunk_dataset(dataset, 1))
    per_epoch = -(-samples // batch)
    steps = epochs * per_epoch
    config = typed_config({"maxSteps": steps, "batchSize": batch, "saveSteps": steps, "dataloaderNumWorkers": workers,
                           "evalEpisodes": 0, "learningRate": 1e-3})
    options = ModelOptions(frame_cache_mb=cache_mb, logging_steps=5)
    request = TrainRequest(dataset, output, config, options=options)
    stdout = _TimedLines()
    with MemorySampler() as memory, contextlib.redirect_stdout(stdout):
        began = time.perf_counter()
        summary = run(request)
    assert summary is not None
    rates = [float(m) for m in re.findall(r"samples_per_second=([0-9.]+)", stdout.getvalue())]
    # epoch k ends at the first step line at or past k x steps-per-epoch (the final save and plots come after)
    ends = [next(t for step, t in stdout.steps if step >= min(k * per_epoch, steps)) for k in range(1, epochs + 1)]
    starts = [began, *ends[:-1]]
    by_epoch = [{"epoch": k + 1, **memory.peak(a, b)} for k, (a, b) in enumerate(zip(starts, ends, strict=True))]
    return {
        "steps": steps,
        "samples_per_second_steady": round(statistics.median(rates[1:]), 1),
        "samples_per_second_overall": summary["samples_per_second"],
        "initial_loss": summary["initial_loss"],
        "final_loss": summary["final_loss"],
        "memory_by_epoch": by_epoch,
        "memory_flat": _flat(by_epoch[0], by_epoch[-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_builtin", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--frames", type=int, default=100, help="frames per episode")
    parser.add_argument("--width", type=int, default=128, help="recorded video width")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (dataloaderNumWorkers)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache-mb", type=int, default=16, help="frame cache per worker (below the decoded dataset)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_builtin_") as tmp:
        dataset = make_dataset(Path(tmp) / "dataset", args.episodes, args.frames, args.width, args.height)
        loader = measure_loader(dataset, workers=args.workers, batch=args.batch_size, cache_mb=args.cache_mb)
        naive = measure_naive(dataset)
        training = measure_training(dataset, Path(tmp) / "out", workers=args.workers, batch=args.batch_size,
                                    cache_mb=args.cache_mb)
    cold = loader["epochs"][0]["samples_per_second"]
    report = {
        "setting": {**vars(args), "cpus": len(psutil.Process().cpu_affinity() or []), "default_model": True},
        "loader": loader,
        "naive_loader_samples_per_second": round(naive, 2),
        "training": training,
        "loader_over_training": round(cold / training["samples_per_second_steady"], 2),
        "loader_over_naive": round(cold / naive, 1),
    }
    report["targets_met"] = {
        "loader_at_least_2x_training": report["loader_over_training"] >= 2,
        "loader_memory_flat": loader["memory_flat"],
        "training_memory_flat": training["memory_flat"],
    }
    print(json.dumps(report, indent=2))
    return 0 if all(report["targets_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
