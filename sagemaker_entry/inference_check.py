"""The inference check: before a run reports success, its final checkpoint is loaded the way a user loads it and
``get_action`` runs on a real frame of the dataset; the action's keys and shapes must match the modality config
and every value must be finite.

* builtin engine: ``sagemaker_entry.builtin.load_policy(checkpoint).get_action(obs)``, in the entry's process.
* Isaac-GR00T engines: GR00T's own ``Gr00tPolicy`` in GR00T's interpreter (its pins clash with ours), started as
  ``<gr00t python> -m sagemaker_entry.inference_check ...``; the observation and the raw action travel as pickle
  files between our two processes, and the action is checked here, in one place for every engine.

Observation formats, from Isaac-GR00T's sources:

* N1.5 ``gr00t/model/policy.py`` ``Gr00tPolicy.get_action``: flat keys, ``video.<name>`` ``(T, H, W, C)`` uint8 and
  ``state.<name>`` ``(T, D)`` (unbatched when every state has fewer than 3 dims), language as a list of one string
  (``scripts/inference_service.py`` client example); the result goes through ``squeeze_dict_values``
  (``np.squeeze``), so a 1-wide action part comes back as ``(horizon,)``, not ``(horizon, 1)``.
* N1.6/N1.7 ``gr00t/policy/gr00t_policy.py`` ``Gr00tPolicy.check_observation``: nested
  ``{"video": {name: (B, T, H, W, C) uint8}, "state": {name: (B, T, D) float32}, "language": {key: [[text]]}}``;
  ``get_action(obs, options)`` returns ``(action, info)`` (as ``Gr00tSimPolicyWrapper._get_action`` unpacks it)
  with ``action[name]`` of shape ``(B, horizon, D)`` (``check_action``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_core.data_configs import ACTION_HORIZON, get_data_config
from gr00t_core.errors import TrainingError
from gr00t_core.json_text import JsonTextError, parse_json_lines, parse_json_object

CALLS = 5  # get_action calls timed: the first apart (warm-up), the median of the rest
GR00T_TIMEOUT_SECONDS = 1800.0  # loading a 3B model from the instance volume and five calls take minutes at most


class InferenceCheckError(TrainingError):
    """The final checkpoint does not load or does not answer as its modality config says; the message says how."""


@dataclass(frozen=True)
class ExpectedAction:
    """What ``get_action`` must return: ``action.<part>`` -> ``(horizon, dim)``."""

    parts: dict[str, int]  # "action.single_arm" -> 5
    horizon: int = ACTION_HORIZON

    def shapes(self) -> dict[str, list[int]]:
        return {k: [self.horizon, d] for k, d in self.parts.items()}


@dataclass
class Observation:
    """One real frame of the dataset in GR00T's flat format (the builtin engine and N1.5 take it as it is)."""

    values: dict[str, Any]
    source: str  # "episode 0, frame 0"
    language_key: str | None = None

    def shapes(self) -> dict[str, Any]:
        return {k: (list(np.shape(v)) if isinstance(v, np.ndarray) else "text") for k, v in self.values.items()}

    def nested(self) -> dict[str, dict[str, Any]]:
        """N1.6/N1.7's nested, batched form: a batch of one, one time step."""
        out: dict[str, dict[str, Any]] = {"video": {}, "state": {}, "language": {}}
        for key, value in self.values.items():
            kind, _, name = key.partition(".")
            if kind in ("video", "state"):
                out[kind][name] = np.asarray(value)[None]
            else:
                out["language"][key] = [[str(value[0])]]
        return out


@dataclass
class CheckResult:
    ok: bool
    engine: str
    checkpoint: str
    observation_source: str = ""
    observation_shapes: dict[str, Any] = field(default_factory=dict)
    expected_shapes: dict[str, list[int]] = field(default_factory=dict)
    action_shapes: dict[str, list[int]] = field(default_factory=dict)
    calls: int = 0
    first_call_ms: float | None = None
    median_call_ms: float | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the dataset side ---------------------------------------------------------------------------------------
def _read_object(path: Path) -> dict[str, Any]:
    try:
        return parse_json_object(path.read_bytes(), name=str(path))
    except (OSError, JsonTextError) as exc:
        raise InferenceCheckError(f"cannot read {path}: {exc}") from None


def _section(modality: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One section of meta/modality.json ("state", "action", ...); empty when it is missing or not an object."""
    value = modality.get(name)
    return value if isinstance(value, dict) else {}


def expected_action(dataset_dir: Path, data_config: str) -> ExpectedAction:
    """The action parts the data config uses, with their widths from the prepared ``meta/modality.json``."""
    modality = _read_object(dataset_dir / "meta" / "modality.json")
    entries = _section(modality, "action")
    config = get_data_config(data_config)
    names = list(config.action_names) if config is not None else list(entries)  # module:Class: every entry
    parts: dict[str, int] = {}
    for name in names:
        entry = entries.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("start"), int) or not isinstance(entry.get("end"), int):
            raise InferenceCheckError(f"meta/modality.json has no action entry {name!r} with start/end (data config {data_config})")
        parts[f"action.{name}"] = entry["end"] - entry["start"]
    return ExpectedAction(parts)


def dataset_observation(dataset_dir: Path, data_config: str) -> Observation:
    """Frame 0 of the first episode: each camera's first decoded frame, the state parts, the task text."""
    import pyarrow.parquet as pq

    from gr00t_data.meta import data_file, video_file
    from gr00t_data.stats import column_matrix
    from gr00t_data.video import VideoReadError, decode_first_frame

    meta = dataset_dir / "meta"
    info = _read_object(meta / "info.json")
    modality = _read_object(meta / "modality.json")
    config = get_data_config(data_config)
    try:
        episodes, _, _ = parse_json_lines((meta / "episodes.jsonl").read_bytes(), name="meta/episodes.jsonl")
        tasks, _, _ = parse_json_lines((meta / "tasks.jsonl").read_bytes(), name="meta/tasks.jsonl")
    except (OSError, JsonTextError) as exc:
        raise InferenceCheckError(f"cannot read the dataset's episode/task lists: {exc}") from None
    episode = int(episodes[0]["episode_index"]) if episodes and isinstance(episodes[0], dict) else 0
    values: dict[str, Any] = {}

    def wanted(section: str, names: tuple[str, ...] | None) -> list[tuple[str, dict[str, Any]]]:
        entries = _section(modality, section)
        keep = names if names is not None else tuple(entries)
        return [(n, entries.get(n) or {}) for n in keep]

    for name, entry in wanted("video", config.video_names if config else None):
        column = entry.get("original_key", f"observation.images.{name}")
        try:
            frame = decode_first_frame(dataset_dir / video_file(info, column, episode))
        except VideoReadError as exc:
            raise InferenceCheckError(f"video.{name}: {exc}") from None
        values[f"video.{name}"] = frame[None]  # (T=1, H, W, 3)
    table = pq.read_table(dataset_dir / data_file(info, episode))
    for name, entry in wanted("state", config.state_names if config else None):
        column = entry.get("original_key", "observation.state")
        if column not in table.column_names:
            raise InferenceCheckError(f"state.{name}: column {column!r} is not in episode {episode}'s parquet file")
        row = column_matrix(table.column(column).slice(0, 1), name=column, where=f"episode {episode}")
        values[f"state.{name}"] = row[:, entry["start"]:entry["end"]].astype(np.float32)  # (T=1, D)
    language_key = None
    annotations = _section(modality, "annotation")
    names = (config.annotation_name,) if config else tuple(annotations)[:1]
    for name in names:
        language_key = f"annotation.{name}"
        column = (annotations.get(name) or {}).get("original_key", "task_index")
        index = int(table.column(column)[0].as_py()) if column in table.column_names else 0
        text = next((t.get("task", "") for t in tasks if isinstance(t, dict) and t.get("task_index") == index), "")
        values[language_key] = [str(text)]
    return Observation(values, f"episode {episode}, frame 0", language_key)


# --- the check ----------------------------------------------------------------------------------------------
def timed_calls(get_action: Callable[[], Any], calls: int = CALLS, *, clock: Callable[[], float] = time.perf_counter) -> tuple[Any, list[float]]:
    """The last result and each call's seconds."""
    seconds: list[float] = []
    result = None
    for _ in range(calls):
        started = clock()
        result = get_action()
        seconds.append(clock() - started)
    return result, seconds


def check_action(action: Any, expected: ExpectedAction) -> tuple[dict[str, list[int]], list[str]]:
    """Shapes of the action, and notes; raises :class:`InferenceCheckError` naming the key and shape that is wrong."""
    if not isinstance(action, Mapping):
        raise InferenceCheckError(f"get_action returned a {type(action).__name__}, expected a dict of action arrays")
    missing = [k for k in expected.parts if k not in action]
    if missing:
        raise InferenceCheckError(
            f"get_action's result lacks {', '.join(missing)} (it has {', '.join(sorted(map(str, action))) or 'nothing'}); "
            f"the modality config expects {', '.join(expected.parts)}"
        )
    shapes: dict[str, list[int]] = {}
    notes: list[str] = []
    for key, dim in expected.parts.items():
        value = np.asarray(action[key])
        want = (expected.horizon, dim)
        if dim == 1 and value.shape == (expected.horizon,):
            # N1.5's Gr00tPolicy squeezes every axis of size 1 (squeeze_dict_values): (16, 1) arrives as (16,).
            notes.append(f"{key} came back as ({expected.horizon},) (GR00T N1.5 squeezes 1-wide parts)")
            value = value.reshape(want)
        if value.shape != want:
            raise InferenceCheckError(
                f"{key} has shape {tuple(value.shape)}, expected {want} (action horizon {expected.horizon} x {dim} "
                "from meta/modality.json)"
            )
        if not np.issubdtype(value.dtype, np.number):
            raise InferenceCheckError(f"{key} holds {value.dtype} values, expected numbers")
        bad = int(np.size(value) - np.isfinite(value).sum())
        if bad:
            raise InferenceCheckError(f"{key} holds {bad} non-finite value(s) (NaN or infinity) of {value.size}")
        shapes[key] = list(value.shape)
    extra = sorted(set(map(str, action)) - set(expected.parts))
    if extra:
        notes.append(f"get_action also returned {', '.join(extra)} (not in the data config)")
    return shapes, notes


def _ms(seconds: list[float]) -> tuple[float | None, float | None]:
    first = seconds[0] * 1000 if seconds else None
    rest = seconds[1:]
    return first, (statistics.median(rest) * 1000 if rest else None)


def run_check(
    engine: str, checkpoint: Path, observation: Observation, expected: ExpectedAction,
    call: Callable[[Observation, int], tuple[Any, list[float]]], *, calls: int = CALLS,
) -> CheckResult:
    """``call(observation, calls)`` loads the policy and returns (flat action, seconds per call); never raises."""
    result = CheckResult(False, engine, checkpoint.name, observation.source, observation.shapes(), expected.shapes())
    try:
        action, seconds = call(observation, calls)
        result.calls = len(seconds)
        result.first_call_ms, result.median_call_ms = _ms(seconds)
        result.action_shapes, result.notes = check_action(action, expected)
        result.ok = True
    except InferenceCheckError as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a policy that does not load is the finding, not a crash of the entry
        result.error = f"{type(exc).__name__}: {exc}"
    return result


# --- the engines ------------------------------------------------------------------------------------------
def builtin_call(checkpoint: Path) -> Callable[[Observation, int], tuple[Any, list[float]]]:
    def call(observation: Observation, calls: int) -> tuple[Any, list[float]]:
        from sagemaker_entry.builtin import load_policy

        policy = load_policy(checkpoint)
        return timed_calls(lambda: policy.get_action(observation.values), calls)

    return call


def gr00t_call(
    checkpoint: Path, *, python: str, generation: str, data_config: str, embodiment_tag: str, work_dir: Path,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> Callable[[Observation, int], tuple[Any, list[float]]]:
    """Runs :func:`gr00t_main` under GR00T's interpreter; its stderr tail becomes the error when it fails."""

    def call(observation: Observation, calls: int) -> tuple[Any, list[float]]:
        work_dir.mkdir(parents=True, exist_ok=True)
        obs_file, out_file = work_dir / "inference_observation.pkl", work_dir / "inference_action.pkl"
        out_file.unlink(missing_ok=True)
        obs_file.write_bytes(pickle.dumps({"values": observation.values, "source": observation.source}))
        argv = [python, "-m", "sagemaker_entry.inference_check", "--generation", generation, "--model", str(checkpoint),
                "--data-config", data_config, "--embodiment-tag", embodiment_tag, "--observation", str(obs_file),
                "--output", str(out_file), "--calls", str(calls)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
        try:
            done = run(argv, env=env, capture_output=True, text=True, timeout=GR00T_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise InferenceCheckError(f"GR00T's policy did not answer within {GR00T_TIMEOUT_SECONDS:.0f} s") from None
        if done.returncode != 0 or not out_file.is_file():
            tail = " | ".join(line for line in (done.stderr or "").strip().splitlines()[-5:])
            raise InferenceCheckError(f"loading the checkpoint with GR00T's Gr00tPolicy failed (exit {done.returncode}): {tail}")
        answer = pickle.loads(out_file.read_bytes())  # noqa: S301 - written by our own child process just now
        return answer["action"], answer["seconds"]

    return call


def gr00t_policy(generation: str, model: str, data_config: str, embodiment_tag: str) -> tuple[Any, Callable[[Observation], Any]]:
    """GR00T's policy for the checkpoint and how to call it with our observation (imports GR00T: its venv only)."""
    if generation == "1.5":
        from gr00t.experiment.data_config import DATA_CONFIG_MAP
        from gr00t.model.policy import Gr00tPolicy

        config = DATA_CONFIG_MAP[data_config]
        # As scripts/inference_service.py builds it (N1.5).
        policy = Gr00tPolicy(model_path=model, modality_config=config.modality_config(),
                             modality_transform=config.transform(), embodiment_tag=embodiment_tag)
        return policy, lambda obs: policy.get_action(obs.values)
    from gr00t.data.embodiment_tags import EmbodimentTag
    from gr00t.policy.gr00t_policy import Gr00tPolicy

    try:
        tag = EmbodimentTag(embodiment_tag)
    except ValueError:
        tag = EmbodimentTag[embodiment_tag.upper()]
    policy = Gr00tPolicy(tag, model, device="cuda")

    def call(obs: Observation) -> Any:
        action, _info = policy.get_action(obs.nested())
        return {f"action.{k}": np.asarray(v)[0] for k, v in action.items()}  # batch of one

    return policy, call


def gr00t_main(argv: list[str] | None = None, *, make_policy: Callable[..., tuple[Any, Callable[[Observation], Any]]] = gr00t_policy) -> int:
    """The part that runs under GR00T's interpreter: load, call, write the raw action and the timings."""
    parser = argparse.ArgumentParser(prog="python -m sagemaker_entry.inference_check")
    for flag in ("--generation", "--model", "--data-config", "--embodiment-tag", "--observation", "--output"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--calls", type=int, default=CALLS)
    args = parser.parse_args(argv)
    sent = pickle.loads(Path(args.observation).read_bytes())  # noqa: S301 - written by the entry
    observation = Observation(sent["values"], sent["source"])
    _policy, call = make_policy(args.generation, args.model, args.data_config, args.embodiment_tag)
    action, seconds = timed_calls(lambda: call(observation), args.calls)
    plain = {str(k): np.asarray(v) for k, v in dict(action).items()}
    Path(args.output).write_bytes(pickle.dumps({"action": plain, "seconds": seconds}))
    return 0


def for_run(
    *, engine: str, generation: str | None, checkpoint: Path, dataset_dir: Path, config: Mapping[str, Any],
    gr00t_python: str, work_dir: Path,
) -> CheckResult:
    """The whole check for the entry: observation, expected action, the engine's policy."""
    try:
        observation = dataset_observation(dataset_dir, str(config["dataConfig"]))
        expected = expected_action(dataset_dir, str(config["dataConfig"]))
    except Exception as exc:  # noqa: BLE001 - reported as the check's failure, with what was being read
        return CheckResult(False, engine, checkpoint.name, error=f"building the observation from the dataset failed: {exc}")
    if engine == "builtin":
        call = builtin_call(checkpoint)
    else:
        call = gr00t_call(checkpoint, python=gr00t_python, generation=generation or "1.5",
                          data_config=str(config["dataConfig"]), embodiment_tag=str(config["embodimentTag"]), work_dir=work_dir)
    return run_check(engine, checkpoint, observation, expected, call)


def for_entry(env: Any, config: Mapping[str, Any], dataset_dir: Path) -> CheckResult:
    """The check on the run's latest checkpoint, with its metric line and log line (the entry's hook)."""
    import logging

    from gr00t_core.engines import spec_for
    from gr00t_core.metrics import inference_line
    from sagemaker_entry.checkpoints import list_checkpoints

    engine = str(config["engine"])
    found = list_checkpoints(env.checkpoint_dir)
    if not found:
        result = CheckResult(False, engine, "(none)", error=f"the trainer saved no checkpoint-N folder in {env.checkpoint_dir}")
    else:
        result = for_run(engine=engine, generation=spec_for(config).generation, checkpoint=found[-1][1],
                         dataset_dir=dataset_dir, config=config, gr00t_python=str(env.gr00t_python),
                         work_dir=env.work_dir / "inference_check")
    print(inference_line(result.ok, result.first_call_ms, result.median_call_ms), flush=True)
    logging.getLogger("gr00t_sm.inference").log(logging.INFO if result.ok else logging.ERROR, "%s", describe(result))
    return result


def describe(result: CheckResult) -> str:
    if not result.ok:
        return f"inference check on {result.checkpoint} failed: {result.error}"
    timing = "" if result.first_call_ms is None else f"; first call {result.first_call_ms:.1f} ms"
    if result.median_call_ms is not None:
        timing += f", median of the next {result.calls - 1} {result.median_call_ms:.1f} ms"
    shapes = ", ".join(f"{k} {tuple(v)}" for k, v in result.action_shapes.items())
    return f"inference check on {result.checkpoint} passed ({result.observation_source}): {shapes}{timing}"


if __name__ == "__main__":
    sys.exit(gr00t_main())
