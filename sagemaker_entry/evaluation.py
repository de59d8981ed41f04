"""Open-loop evaluation after an Isaac-GR00T fine-tune, with Isaac-GR00T's own scripts, on the same instance.

The results take the builtin engine's shape (``eval`` in run_summary.json: ``mse``, ``episodes``, ``plot``) and
its metric line (``eval open_loop_mse=...``, gr00t_core.metrics ``eval:open_loop_mse``), so every engine's run
reports the same way. Commands and output formats, from NVIDIA/Isaac-GR00T:

* N1.5 ``scripts/eval_policy.py`` (tyro ArgsConfig, stored version 15743376d3d21cd9b02684c089706060ce5f27d8):
  ``--model-path --data-config --dataset-path --embodiment-tag --video-backend --trajs N --modality-keys K...``;
  it evaluates trajectories 0..N-1 and prints ``Running trajectory: <id>``, ``MSE: <mse>`` for each and
  ``Average MSE across all trajs: <mse>`` at the end (``print`` calls in ``main``).
* N1.6/N1.7 ``gr00t/eval/open_loop_eval.py`` (stored version 5ca98cd1fbf564a41ace6a9c731c0c370d871223):
  ``--model-path --dataset-path --embodiment-tag --traj-ids ID... --action-horizon --save-plot-path``; it logs
  ``MSE for trajectory <id>: <mse>, MAE: <mae>`` per trajectory and ``Average MSE across all trajs: <mse>``
  (``logging.info`` after ``logging.basicConfig(level=INFO)``, so lines start with ``INFO:root:``).

Held out: GR00T's trainers train on every episode meta/episodes.jsonl lists, so the dataset phase moves the
evaluation episodes out of the training working copy into a second copy the evaluation reads
(:func:`held_out_positions`, ``sagemaker_entry.dataset.hold_out``). Which ones follows from how each script names
trajectories: N1.5's ``eval_policy.py`` evaluates ``range(args.trajs)`` and reads each as an ``episode_index``
(``gr00t/utils/eval.py`` ``calc_mse_for_single_trajectory``, stored version 16d302e317777c3cd100b7dc37814dfefac7fdd7
-> ``gr00t/data/dataset.py`` ``LeRobotSingleDataset.get_step_data``, stored version
16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702, whose ``get_trajectory_index`` fails for an index meta/episodes.jsonl
does not list), so N1.5 holds out episodes 0..N-1; ``open_loop_eval.py``'s ``--traj-ids`` are positions in the
loader's list (``loader[traj_id]`` -> ``episodes_metadata[idx]["episode_index"]``, ``gr00t/data/dataset/
lerobot_episode_loader.py`` at 0c8fb7d52a89f9bcb4369053813315df647533c2), so N1.6/N1.7 hold out the last N, as the
builtin engine does. A
dataset with too few episodes is evaluated on trained episodes, with a warning (``held_out: false``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gr00t_core.data_configs import get_data_config
from gr00t_core.engines import EngineSpec

N15_EVAL_SCRIPT = "scripts/eval_policy.py"
LAUNCH_FINETUNE_EVAL_SCRIPT = "gr00t/eval/open_loop_eval.py"
PLOT_FILE = "eval_open_loop.png"  # the builtin engine's name (sagemaker_entry.builtin.evaluate.PLOT_FILE)
RESULT_FILE = "train_result.json"  # the entry's summary reads ``eval`` from it (sagemaker_entry.reports.TRAIN_RESULT)
EVAL_TIMEOUT_SECONDS = 1800.0
ACTION_HORIZON = 16

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)"
_N15_TRAJ = re.compile(r"^Running trajectory:\s*(\d+)\s*$")
_N15_MSE = re.compile(rf"^MSE:\s*{_NUMBER}\s*$")
_PER_TRAJ = re.compile(rf"MSE for trajectory (\d+): {_NUMBER}, MAE: {_NUMBER}")
_AVERAGE_MSE = re.compile(rf"Average MSE across all trajs: {_NUMBER}")
_AVERAGE_MAE = re.compile(rf"Average MAE across all trajs: {_NUMBER}")


def episode_ids(total_episodes: int, eval_episodes: int, spec: EngineSpec) -> list[int]:
    """Trajectories to evaluate: N1.5's script can only take the first N; the later scripts take the last N."""
    count = min(eval_episodes, total_episodes)
    if spec.key == "n1.5":
        return list(range(count))
    return list(range(total_episodes - count, total_episodes))


def held_out_positions(episode_indices: Sequence[int], eval_episodes: int, spec: EngineSpec) -> tuple[list[int], str | None]:
    """Positions in meta/episodes.jsonl (listing ``episode_indices``) to hold out of training for the evaluation,
    or ``([], why not)``: at least one episode must remain to train on, and N1.5's script can only reach
    episodes 0..N-1 (module doc)."""
    total = len(episode_indices)
    if total < eval_episodes + 1:
        return [], (f"evalEpisodes = {eval_episodes} but the dataset has {total} episode(s) and at least one must be "
                    "trained on; the evaluation runs on episodes the model trained on (held_out: false)")
    positions = episode_ids(total, eval_episodes, spec)
    if spec.key == "n1.5" and [episode_indices[p] for p in positions] != list(range(eval_episodes)):
        return [], (f"N1.5's eval_policy.py evaluates episodes 0..{eval_episodes - 1}, which meta/episodes.jsonl does "
                    "not list first; the evaluation runs on episodes the model trained on (held_out: false)")
    return positions, None


def trajectory_ids(spec: EngineSpec, episode_indices: Sequence[int], eval_episodes: int, *, held_out: bool) -> dict[int, int]:
    """The evaluation script's trajectory ids -> the episode_index each one evaluates, for a dataset listing
    ``episode_indices``; a held-out copy lists only the episodes to evaluate."""
    count = len(episode_indices) if held_out else min(eval_episodes, len(episode_indices))
    if spec.key == "n1.5":
        return {i: i for i in range(count)}  # eval_policy.py reads trajectory id i as episode_index i
    return {p: episode_indices[p] for p in episode_ids(len(episode_indices), count, spec)}


def eval_argv(
    spec: EngineSpec, config: Mapping[str, Any], *, python: str, gr00t_repo: Path, model_dir: Path, dataset_dir: Path,
    episodes: Sequence[int], plot_path: Path,
) -> list[str]:
    """The evaluation command for ``spec`` (an Isaac-GR00T generation)."""
    if spec.key == "n1.5":
        data_config = get_data_config(str(config["dataConfig"]))
        keys = list(data_config.action_names) if data_config else []
        argv = [
            python, str(gr00t_repo / N15_EVAL_SCRIPT),
            "--model-path", str(model_dir),
            "--data-config", str(config["dataConfig"]),
            "--dataset-path", str(dataset_dir),
            "--embodiment-tag", str(config["embodimentTag"]),
            "--video-backend", str(config["videoBackend"]),
            "--trajs", str(len(episodes)),
        ]
        # Without it the script evaluates its default keys (right_arm, left_arm), which most embodiments lack.
        return argv + (["--modality-keys", *keys] if keys else [])
    return [
        python, str(gr00t_repo / LAUNCH_FINETUNE_EVAL_SCRIPT),
        "--model-path", str(model_dir),
        "--dataset-path", str(dataset_dir),
        "--embodiment-tag", str(config["embodimentTag"]).upper(),
        "--traj-ids", *[str(i) for i in episodes],
        "--action-horizon", str(ACTION_HORIZON),
        "--save-plot-path", str(plot_path),
    ]


def parse_output(text: str) -> dict[str, Any]:
    """Per-trajectory and average MSE (and MAE where printed) from either script's output."""
    per: dict[int, dict[str, float]] = {}
    current: int | None = None
    for line in text.splitlines():
        line = line.strip()
        if m := _N15_TRAJ.match(line):
            current = int(m.group(1))
        elif (m := _N15_MSE.match(line)) and current is not None:
            per[current] = {"mse": float(m.group(1))}
        elif m := _PER_TRAJ.search(line):
            per[int(m.group(1))] = {"mse": float(m.group(2)), "mae": float(m.group(3))}
    result: dict[str, Any] = {"per_episode": {str(k): v for k, v in sorted(per.items())}}
    averages = _AVERAGE_MSE.findall(text)
    if averages:
        result["mse"] = float(averages[-1])
    elif per:
        result["mse"] = sum(v["mse"] for v in per.values()) / len(per)
    mae = _AVERAGE_MAE.findall(text)
    if mae:
        result["mae"] = float(mae[-1])
    return result


def plot_per_episode(result: Mapping[str, Any], path: Path, *, title: str) -> Path | None:
    """A bar chart of MSE per evaluated episode (N1.5's script saves no plot when run headless)."""
    per = result.get("per_episode") or {}
    if not per:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(per), [v["mse"] for v in per.values()])
    ax.set_xlabel("episode")
    ax.set_ylabel("open-loop action MSE")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def metric_line(mse: float) -> str:
    """The same line the builtin engine logs, so one MetricDefinition serves both."""
    return f"[gr00t-sm] eval open_loop_mse={mse:.6g}"


def evaluate(
    spec: EngineSpec, config: Mapping[str, Any], *, python: str, gr00t_repo: Path, model_dir: Path, dataset_dir: Path,
    episode_indices: Sequence[int], output_dir: Path, held_out: bool = False, run: Callable[..., Any] = subprocess.run,
    timeout: float = EVAL_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Run the evaluation on ``dataset_dir`` (listing ``episode_indices``; ``held_out``: the held-out copy);
    returns what run_summary.json's ``eval`` holds. Never raises for a failed evaluation: the fine-tune is done
    and copied either way, the summary says what went wrong."""
    wanted = int(config["evalEpisodes"])
    if wanted == 0:
        return {"skipped": "evalEpisodes is 0"}
    if spec.generation is None:
        return {"skipped": "the builtin engine evaluates inside its own trainer"}
    trajectories = trajectory_ids(spec, episode_indices, wanted, held_out=held_out)
    if not trajectories:
        return {"skipped": "the dataset has no episodes to evaluate"}
    plot = output_dir / PLOT_FILE
    argv = eval_argv(spec, config, python=python, gr00t_repo=gr00t_repo, model_dir=model_dir, dataset_dir=dataset_dir,
                     episodes=list(trajectories), plot_path=plot)
    try:
        done = run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(gr00t_repo))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"failed": f"{type(exc).__name__}: {exc}", "argv": argv}
    output = f"{done.stdout or ''}\n{done.stderr or ''}"
    result = parse_output(output)
    # The scripts print their trajectory ids; the summary names the dataset's episodes.
    result["per_episode"] = {str(trajectories.get(int(k), k)): v for k, v in result["per_episode"].items()}
    result.update({"episodes": list(trajectories.values()), "held_out": held_out, "script": argv[1],
                   "returncode": done.returncode})
    if "mse" not in result:
        tail = " | ".join(output.strip().splitlines()[-3:])
        result["failed"] = f"the evaluation printed no MSE (exit code {done.returncode}): {tail}"
        return result
    if not plot.is_file():
        plot_per_episode(result, plot, title=f"{spec.label} open-loop evaluation")
    if plot.is_file():
        result["plot"] = PLOT_FILE
    print(metric_line(result["mse"]), flush=True)
    return result


def write_result(output_dir: Path, result: Mapping[str, Any]) -> Path:
    """Merge ``eval`` into the output folder's train_result.json (the summary's source, also for GR00T runs)."""
    path = output_dir / RESULT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        data = {}
    data["eval"] = dict(result)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


__all__ = ["PLOT_FILE", "episode_ids", "eval_argv", "evaluate", "held_out_positions", "metric_line", "parse_output",
           "trajectory_ids", "write_result"]
