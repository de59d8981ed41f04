"""Builtin engine: does it learn what it is shown? First-action open-loop MSE on a rotation, vs repeating the state.

Setting: a synthetic so100_dualcam dataset with ``dynamics="rotation"`` (``gr00t_data.synthetic``): every joint pair
turns by a fixed angle per frame, so the action (the next state) is one fixed linear map of the current state and
needs neither the images nor the task text. ``--episodes`` episodes of ``--frames`` frames; the last
``--eval-episodes`` are held out. The engine trains at its defaults (learning rate, warm-up, schedule, model size)
for ``--steps`` steps at batch ``--batch-size`` on CPU, one DataLoader worker, through
``sagemaker_entry.builtin.train.run`` (the same code a SageMaker job runs).

Measured in the same run:

* ``first_action_mse``: on every frame of the held-out episodes, ``load_policy(checkpoint).get_action(obs)``'s first
  action against the recorded action, in robot units;
* ``baseline_repeat_state_mse``: the same error for "the action is the current state";
* ``ratio``: the first over the second; ``ratio_noise_start``: the same with every chunk's flow started from
  N(0, I) noise (GR00T's sampling) instead of get_action's default deterministic start;
* ``seconds_per_step``: median time per training step between log lines (steady state, first interval dropped).

Target (issue 10, section 5): ``first_action_mse / baseline_repeat_state_mse <= 0.5`` within 500 steps at batch 16.
Per-step time is reported for comparing code versions (the same benchmark on the old and the new code).
Run: ``.venv/bin/python -m benchmarks bench_builtin_learning`` or
``.venv/bin/python -m benchmarks.bench_builtin_learning [--steps 500 --batch-size 16 --seed 42]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET_RATIO = 0.5


class _StepTimes(io.StringIO):
    """stdout that notes when each ``[gr00t-sm] step=N`` line arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[int, float]] = []

    def write(self, text: str) -> int:
        match = re.match(r"\[gr00t-sm\] step=(\d+) ", text)
        if match:
            self.steps.append((int(match.group(1)), time.perf_counter()))
        return super().write(text)

    def seconds_per_step(self) -> float:
        rates = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in itertools.pairwise(self.steps[1:]) if s1 > s0]
        return statistics.median(rates)


def make_dataset(root: Path, episodes: int, frames: int, seed: int) -> Path:
    from gr00t_data.synthetic import generate_dataset

    return generate_dataset(root, layout="so100_dualcam", episodes=episodes, frames_per_episode=frames, seed=seed,
                            write_modality=True, write_stats=True, dynamics="rotation")


def first_action_errors(checkpoint: Path, dataset: Path, eval_episodes: int, seed: int,
                        noise_scale: float | None = None) -> dict[str, float]:
    """MSE of the first predicted action and of the repeat-state baseline over every held-out frame
    (``noise_scale`` None: get_action's default start of the flow)."""
    from sagemaker_entry.builtin.lerobot import LeRobotDataset
    from sagemaker_entry.builtin.policy import load_policy
    from sagemaker_entry.builtin.train import _samples

    policy = load_policy(checkpoint, device="cpu", seed=seed, **({} if noise_scale is None else {"noise_scale": noise_scale}))
    source = LeRobotDataset(dataset, "so100_dualcam")
    _, held_out = source.split(eval_episodes)
    samples = _samples(source, held_out, policy.config, 64 * 2**20)
    layout = source.layout
    predicted, truth, state = [], [], []
    for position in range(len(samples.episode_lengths)):
        ep = samples.episode(position).episode
        frames = samples.frames(position)
        for t in range(ep.length):
            obs: dict[str, Any] = {f"video.{c.name}": f[t] for c, f in zip(layout.cameras, frames, strict=True)}
            start = 0
            for p in layout.state:
                obs[f"state.{p.name}"] = ep.state[t, start : start + p.dim]
                start += p.dim
            obs[layout.language_key] = source.task_text(int(ep.task[t]))
            predicted.append(np.concatenate([v[0] for v in policy.get_action(obs).values()]))
        truth.append(ep.action)
        state.append(ep.state)
    actions, states = np.concatenate(truth), np.concatenate(state)
    return {
        "frames": len(actions),
        "first_action_mse": float(((np.stack(predicted) - actions) ** 2).mean()),
        "baseline_repeat_state_mse": float(((states - actions) ** 2).mean()),
    }


def train_and_measure(dataset: Path, output: Path, *, steps: int, batch: int, eval_episodes: int, seed: int,
                      config: dict[str, Any] | None = None) -> dict[str, Any]:
    from sagemaker_entry.builtin.settings import ModelOptions, TrainRequest, typed_config
    from sagemaker_entry.builtin.train import run

    # Everything that decides learning stays at the engine's defaults; only the run's size and the loader are set.
    raw = {"maxSteps": steps, "batchSize": batch, "saveSteps": steps, "evalEpisodes": eval_episodes,
           "dataloaderNumWorkers": 1, "seed": seed, **(config or {})}
    request = TrainRequest(dataset, output, typed_config(raw), options=ModelOptions(logging_steps=25))
    stdout = _StepTimes()
    with contextlib.redirect_stdout(stdout):
        summary = run(request)
    assert summary is not None
    errors = first_action_errors(output / summary["checkpoint"], dataset, eval_episodes, seed)
    # The same checkpoint sampled from GR00T's N(0, I) start: how much of the error is the noise the flow starts from.
    noisy = first_action_errors(output / summary["checkpoint"], dataset, eval_episodes, seed, noise_scale=1.0)
    return {
        "steps": summary["global_step"],
        "seconds_per_step": round(stdout.seconds_per_step(), 4),
        "initial_loss": summary["initial_loss"],
        "final_loss": summary["final_loss"],
        **errors,
        "ratio": round(errors["first_action_mse"] / errors["baseline_repeat_state_mse"], 3),
        "ratio_noise_start": round(noisy["first_action_mse"] / errors["baseline_repeat_state_mse"], 3),
        # the engine's own evaluation (whole chunks, every horizon frames), for reference
        "chunk_normalized_mse": summary["eval"]["normalized_mse"],
        "chunk_normalized_baseline_mse": summary["eval"]["normalized_baseline_repeat_state_mse"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_builtin_learning", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--episodes", type=int, default=36)
    parser.add_argument("--frames", type=int, default=64, help="frames per episode")
    parser.add_argument("--eval-episodes", type=int, default=4)
    parser.add_argument("--seed", type=int, nargs="+", default=[42], help="one run per seed (training and dataset)")
    parser.add_argument("--config", type=json.loads, default={}, help="extra parameters as JSON, e.g. for ablations")
    args = parser.parse_args(argv)
    runs = []
    for seed in args.seed:
        with tempfile.TemporaryDirectory(prefix="bench_builtin_learning_") as tmp:
            dataset = make_dataset(Path(tmp) / "dataset", args.episodes, args.frames, seed)
            runs.append({"seed": seed, **train_and_measure(dataset, Path(tmp) / "out", steps=args.steps,
                                                         batch=args.batch_size, eval_episodes=args.eval_episodes,
                                                         seed=seed, config=args.config)})
    worst = max(r["ratio"] for r in runs)
    report = {
        "setting": {**vars(args), "layout": "so100_dualcam", "dynamics": "rotation", "device": "cpu"},
        "runs": runs,
        "worst_ratio": worst,
        "targets_met": {f"first_action_mse_at_most_{TARGET_RATIO}x_baseline": worst <= TARGET_RATIO},
    }
    print(json.dumps(report, indent=2))
    return 0 if all(report["targets_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
