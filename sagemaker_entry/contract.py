"""The SageMaker training-container contract, in one place: /opt/ml paths, config files, SM_* variables.

Every value is read the same way: the ``SM_*`` variable when it is set (SageMaker's framework drivers, the
training toolkit and the Python SDK's local mode set them), else the /opt/ml file a plain "bring your own
container" job gets, else a documented default. So the entry behaves the same under a real job, under local
mode and in a plain process whose ``SM_*`` variables point at temporary folders (the tests).

Nothing happens at import. :func:`read_training_env` takes the environment mapping and an optional base folder
and returns a frozen :class:`TrainingEnv`; docs/container.md has the table of every variable read here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_core.errors import ConfigError
from gr00t_core.json_text import JsonTextError, parse_json
from gr00t_core.run import TENSORBOARD_LOCAL_PATH

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"  # the training toolkit's name for the /opt/ml root
DEFAULT_MASTER_PORT = 7777
DEFAULT_NETWORK_INTERFACE = "eth0"
DEFAULT_HOST = "algo-1"
WARMPOOL_CACHE_ENV = "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"
# This project's own knobs (the image's ENV, the job's Environment, local mode); not SageMaker's.
CHECKPOINT_DIR_ENV = "GR00T_SM_CHECKPOINT_DIR"
WORK_DIR_ENV = "GR00T_SM_WORK_DIR"
GR00T_REPO_ENV = "GR00T_SM_GR00T_REPO"  # set by container/Dockerfile
DEFAULT_GR00T_REPO = "/opt/gr00t/Isaac-GR00T"
GR00T_PYTHON_ENV = "GR00T_SM_GR00T_PYTHON"  # Isaac-GR00T has its own venv (its pins clash with ours)
DEFAULT_GR00T_PYTHON = "/opt/gr00t/venv/bin/python"
NPROC_ENV = "GR00T_SM_NPROC_PER_NODE"

DATASET_CHANNEL = "dataset"
MODEL_CACHE_CHANNEL = "model_cache"

HYPERPARAMETERS_FILE = "hyperparameters.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"


@dataclass(frozen=True)
class TrainingEnv:
    """What the container knows about its job. Paths are absolute; hyperparameter values are strings."""

    base_dir: Path
    hyperparameters: dict[str, str]
    channels: dict[str, Path]  # channel name -> mounted folder
    input_data_config: dict[str, Any]  # channel name -> inputdataconfig.json entry
    hosts: tuple[str, ...]  # sorted, as SageMaker lists them
    current_host: str
    instance_type: str  # resourceconfig current_instance_type ("" when unknown, e.g. a plain process)
    network_interface: str
    master_addr: str
    master_port: int
    num_gpus: int  # GPUs visible on this instance (0 on CPU)
    num_cpus: int
    job_name: str
    job_arn: str
    model_dir: Path  # /opt/ml/model -> model.tar.gz (we leave it empty: the asset copy is what users want)
    output_dir: Path  # /opt/ml/output: the failure file lives here
    output_data_dir: Path
    checkpoint_dir: Path  # /opt/ml/checkpoints: synced to S3 by CheckpointConfig, restored on restarts
    tensorboard_dir: Path  # /opt/ml/output/tensorboard: copied to S3 by TensorBoardOutputConfig (never restored)
    work_dir: Path  # scratch: dataset working copy, model scratch cache, trainer request files
    warmpool_cache_dir: Path | None  # SageMaker warm-pool persistent cache (None when the job has no warm pool)
    gr00t_repo_dir: Path  # where the image installed Isaac-GR00T
    gr00t_python: Path  # the interpreter of Isaac-GR00T's venv
    nproc_override: int | None = None  # GR00T_SM_NPROC_PER_NODE: processes per node, overriding numGpus
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def host_rank(self) -> int:
        return self.hosts.index(self.current_host) if self.current_host in self.hosts else 0

    @property
    def is_master(self) -> bool:
        """The first host: the one that uploads outputs (the trainers save on global rank 0, which lives there)."""
        return self.host_rank == 0

    def channel(self, name: str) -> Path | None:
        return self.channels.get(name)


def _json_env(environ: Mapping[str, str], name: str) -> Any:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_json(raw, name=f"environment variable {name}")
    except JsonTextError as exc:
        raise ConfigError([f"{exc}: {raw[:200]!r}"]) from None


def _json_file(path: Path, *, required: bool = False) -> Any:
    if not path.is_file():
        if required:
            raise ConfigError([f"{path} is missing: the container was not started as a SageMaker training job"])
        return None
    try:
        return parse_json(path.read_bytes(), name=str(path))
    except OSError as exc:
        raise ConfigError([f"{path} cannot be read ({exc}); the training job's input configuration is broken"]) from None
    except JsonTextError as exc:
        raise ConfigError([str(exc)]) from None


def hyperparameter_string(value: Any) -> str:
    """One hyperparameter as the string SageMaker stores.

    ``SM_HPS`` holds JSON-decoded values and SDK-built jobs may JSON-quote strings (``"\\"so100\\""``): both are
    turned back into the plain string the launcher wrote, so parameters and the run identity parse the same.
    """
    if isinstance(value, str):
        text = value.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                inner = json.loads(text)
            except json.JSONDecodeError:
                return value
            return inner if isinstance(inner, str) else value
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_hyperparameters(environ: Mapping[str, str], config_dir: Path) -> dict[str, str]:
    data = _json_env(environ, "SM_HPS")
    where = "SM_HPS"
    if data is None:
        data = _json_file(config_dir / HYPERPARAMETERS_FILE)
        where = str(config_dir / HYPERPARAMETERS_FILE)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where} must hold a JSON object of hyperparameters, found {type(data).__name__}"])
    return {str(k): hyperparameter_string(v) for k, v in data.items()}


def _channels(environ: Mapping[str, str], input_dir: Path, input_data_config: Mapping[str, Any]) -> dict[str, Path]:
    names: list[str] = list(input_data_config)
    listed = _json_env(environ, "SM_CHANNELS")
    if isinstance(listed, list):
        names += [str(n) for n in listed]
    data_dir = input_dir / "data"
    if data_dir.is_dir():
        names += sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.endswith("-manifest"))
    channels: dict[str, Path] = {}
    for name in dict.fromkeys(names):
        channels[name] = Path(environ.get(f"SM_CHANNEL_{name.upper()}") or data_dir / name)
    # A channel known only through its variable (local runs) still counts.
    for key, value in environ.items():
        if key.startswith("SM_CHANNEL_") and key != "SM_CHANNELS" and value:
            channels.setdefault(key[len("SM_CHANNEL_"):].lower(), Path(value))
    return channels


def count_gpus(environ: Mapping[str, str], proc_root: Path = Path("/proc")) -> int:
    """SM_NUM_GPUS, else the NVIDIA driver's per-GPU folders (cheap: no torch, no nvidia-smi)."""
    raw = environ.get("SM_NUM_GPUS")
    if raw not in (None, ""):
        try:
            return max(0, int(raw))
        except ValueError:
            raise ConfigError([f"SM_NUM_GPUS must be an integer, got {raw!r}"]) from None
    gpus = proc_root / "driver" / "nvidia" / "gpus"
    try:
        return len([p for p in gpus.iterdir() if p.is_dir()])
    except OSError:
        return 0


def _int_env(environ: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError([f"environment variable {name} must be an integer, got {raw!r}"]) from None


def _shown(value: Any, limit: int = 80) -> str:
    """A value in a message, cut short: the failure line keeps the field's name within its 1024 characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def read_training_env(environ: Mapping[str, str] | None = None, base_dir: str | Path | None = None) -> TrainingEnv:
    """Read the job's contract. ``environ`` defaults to ``os.environ``; an explicit ``base_dir`` wins over it."""
    env = dict(os.environ if environ is None else environ)
    base = Path(base_dir or env.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
    input_dir = Path(env.get("SM_INPUT_DIR") or base / "input")
    config_dir = Path(env.get("SM_INPUT_CONFIG_DIR") or input_dir / "config")

    input_data_config = _json_env(env, "SM_INPUT_DATA_CONFIG")
    if input_data_config is None:
        input_data_config = _json_file(config_dir / INPUT_DATA_CONFIG_FILE) or {}
    if not isinstance(input_data_config, dict):
        raise ConfigError([f"{INPUT_DATA_CONFIG_FILE} must hold a JSON object of channel -> settings"])

    resource = _json_env(env, "SM_RESOURCE_CONFIG")
    if resource is None:
        resource = _json_file(config_dir / RESOURCE_CONFIG_FILE) or {}
    if not isinstance(resource, dict):
        raise ConfigError([f"{RESOURCE_CONFIG_FILE} must hold a JSON object"])

    # Every refusal names where the value came from: the variable, else resourceconfig.json's member.
    current_from = "SM_CURRENT_HOST" if env.get("SM_CURRENT_HOST") else f"{RESOURCE_CONFIG_FILE} current_host"
    current = env.get("SM_CURRENT_HOST") or resource.get("current_host") or DEFAULT_HOST
    hosts_from = "SM_HOSTS" if env.get("SM_HOSTS") else f"{RESOURCE_CONFIG_FILE} hosts"
    hosts = _json_env(env, "SM_HOSTS") or resource.get("hosts") or [current]
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ConfigError([f"{hosts_from} must be a JSON list of host names, got {_shown(hosts)}"])
    hosts = sorted(hosts)
    if current not in hosts:
        raise ConfigError([f"{current_from} {_shown(current)} is not in the job's host list ({hosts_from}) {_shown(hosts)}"])

    output_dir = Path(env.get("SM_OUTPUT_DIR") or base / "output")
    work_default = base / "work"
    warmpool = env.get(WARMPOOL_CACHE_ENV)
    nproc = _int_env(env, NPROC_ENV, None)
    return TrainingEnv(
        base_dir=base,
        hyperparameters=read_hyperparameters(env, config_dir),
        channels=_channels(env, input_dir, input_data_config),
        input_data_config=input_data_config,
        hosts=tuple(hosts),
        current_host=current,
        instance_type=env.get("SM_CURRENT_INSTANCE_TYPE") or str(resource.get("current_instance_type") or ""),
        network_interface=env.get("SM_NETWORK_INTERFACE_NAME") or resource.get("network_interface_name") or DEFAULT_NETWORK_INTERFACE,
        master_addr=env.get("SM_MASTER_ADDR") or hosts[0],
        master_port=_int_env(env, "SM_MASTER_PORT", DEFAULT_MASTER_PORT) or DEFAULT_MASTER_PORT,
        num_gpus=count_gpus(env),
        num_cpus=_int_env(env, "SM_NUM_CPUS", None) or os.cpu_count() or 1,
        job_name=env.get("TRAINING_JOB_NAME") or "local-training-job",
        job_arn=env.get("TRAINING_JOB_ARN", ""),
        model_dir=Path(env.get("SM_MODEL_DIR") or base / "model"),
        output_dir=output_dir,
        output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR") or output_dir / "data"),
        checkpoint_dir=Path(env.get(CHECKPOINT_DIR_ENV) or base / "checkpoints"),
        # The launcher's LocalPath, under this container's /opt/ml root (a temporary folder in tests).
        tensorboard_dir=base / Path(TENSORBOARD_LOCAL_PATH).relative_to(DEFAULT_BASE_DIR),
        work_dir=Path(env.get(WORK_DIR_ENV) or work_default),
        warmpool_cache_dir=Path(warmpool) if warmpool else None,
        gr00t_repo_dir=Path(env.get(GR00T_REPO_ENV) or DEFAULT_GR00T_REPO),
        gr00t_python=Path(env.get(GR00T_PYTHON_ENV) or DEFAULT_GR00T_PYTHON),
        nproc_override=nproc if nproc and nproc > 0 else None,
        environ=env,
    )


__all__ = [
    "DATASET_CHANNEL",
    "MODEL_CACHE_CHANNEL",
    "TrainingEnv",
    "count_gpus",
    "hyperparameter_string",
    "read_hyperparameters",
    "read_training_env",
]
