"""Command lines of the training process, built by pure functions (unit-tested table by table).

Every engine runs under our own ``torchrun`` with the node layout SageMaker gives us:

* ``isaac-gr00t`` N1.5: ``scripts/gr00t_finetune.py`` with its tyro flags (booleans ``--x``/``--no-x``),
  ``--num-gpus`` = GPUs on this node and ``IS_TORCHRUN=1`` so the script does not re-launch itself under a
  second, single-node torchrun (the seeded pipeline's multi-GPU defect).
* ``isaac-gr00t`` N1.6/N1.7: ``gr00t/experiment/launch_finetune.py`` (no self re-launch; global batch size;
  ``--modality-config-path`` registers the embodiment's modality config).
* ``builtin``: ``-m sagemaker_entry.builtin.train --request FILE`` (gloo on CPU).

Which builder runs is the engine table's choice (:func:`gr00t_core.engines.spec_for`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_core.engines import ENGINES_BY_KEY, EngineSpec, spec_for
from gr00t_core.parameters import Engine

N15_SCRIPT = ENGINES_BY_KEY["n1.5"].script
N16_SCRIPT = ENGINES_BY_KEY["n1.6"].script
# A modality config the user ships at the asset root (a Python file calling register_modality_config); without it
# the entry generates one from the dataset's meta/modality.json (modality_config_source).
MODALITY_CONFIG_FILE = "gr00t_modality_config.py"
ACTION_HORIZON = 16  # N1.5 data configs and the N1.6+ examples: action delta indices 0..15
BUILTIN_MODULE = "sagemaker_entry.builtin.train"
# A builtin checkpoint holds this file (sagemaker_entry.builtin.checkpoint.POLICY_FILE, not imported here: that
# module pulls numpy and pyarrow). Only such folders can be the builtin engine's base model.
BUILTIN_POLICY_FILE = "builtin_policy.json"
# Variable names that hold secrets: a whole word of the name (TOKENIZERS_PARALLELISM is not one).
SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|API_KEY|ACCESS_KEY|PRIVATE_KEY)(_|$)", re.IGNORECASE)


@dataclass(frozen=True)
class NodeLayout:
    nproc_per_node: int
    nnodes: int
    node_rank: int
    master_addr: str
    master_port: int
    network_interface: str = "eth0"

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes


def node_layout(
    *, engine: str, num_gpus_param: int, gpus_visible: int, hosts: list[str] | tuple[str, ...], current_host: str,
    master_addr: str, master_port: int, network_interface: str, nproc_override: int | None = None,
) -> NodeLayout:
    """Processes per node: ``numGpus`` on GPUs; the builtin engine on CPU runs one per node unless overridden."""
    if nproc_override:
        nproc = nproc_override
    elif engine == Engine.BUILTIN.value and gpus_visible == 0:
        nproc = 1
    else:
        nproc = num_gpus_param
    hosts = list(hosts)
    single = len(hosts) == 1
    return NodeLayout(
        nproc_per_node=nproc,
        nnodes=len(hosts),
        node_rank=hosts.index(current_host) if current_host in hosts else 0,
        # One node: loopback, so the rendezvous needs no DNS and binds no external interface.
        master_addr="127.0.0.1" if single else master_addr,
        master_port=master_port,
        network_interface=network_interface,
    )


def torchrun_argv(python: str, layout: NodeLayout, program: list[str]) -> list[str]:
    """``python -m torch.distributed.run`` with a static rendezvous at the master; ``program`` is a script
    path or ``-m module`` followed by its arguments."""
    return [
        python, "-m", "torch.distributed.run",
        f"--nproc_per_node={layout.nproc_per_node}",
        f"--nnodes={layout.nnodes}",
        f"--node_rank={layout.node_rank}",
        f"--master_addr={layout.master_addr}",
        f"--master_port={layout.master_port}",
        *program,
    ]


def _flag(name: str, value: bool) -> str:
    return f"--{name}" if value else f"--no-{name}"


def gr00t_n15_args(
    config: Mapping[str, Any], *, dataset_dir: Path, output_dir: Path, base_model_dir: Path, num_gpus: int, resume: bool,
    more_dataset_dirs: Sequence[Path] = (),
) -> list[str]:
    """Arguments of N1.5 ``scripts/gr00t_finetune.py`` (flags: https://github.com/NVIDIA/Isaac-GR00T scripts/gr00t_finetune.py at the pinned commit).

    Several datasets all follow ``--dataset-path`` (a tyro ``list[str]``, space separated): N1.5 then trains on a
    LeRobotMixtureDataset of them, equal weights (its README, "several datasets" / gr00t_finetune.py)."""
    c = config
    return [
        "--dataset-path", str(dataset_dir), *map(str, more_dataset_dirs),
        "--output-dir", str(output_dir),
        "--data-config", str(c["dataConfig"]),
        "--batch-size", str(c["batchSize"]),
        "--max-steps", str(c["maxSteps"]),
        "--num-gpus", str(num_gpus),
        "--save-steps", str(c["saveSteps"]),
        "--base-model-path", str(base_model_dir),
        _flag("tune-llm", c["tuneLlm"]),
        _flag("tune-visual", c["tuneVisual"]),
        _flag("tune-projector", c["tuneProjector"]),
        _flag("tune-diffusion-model", c["tuneDiffusionModel"]),
        _flag("resume", resume),
        "--learning-rate", repr(float(c["learningRate"])),
        "--weight-decay", repr(float(c["weightDecay"])),
        "--warmup-ratio", repr(float(c["warmupRatio"])),
        "--lora-rank", str(c["loraRank"]),
        "--lora-alpha", str(c["loraAlpha"]),
        "--lora-dropout", repr(float(c["loraDropout"])),
        "--dataloader-num-workers", str(c["dataloaderNumWorkers"]),
        "--gradient-accumulation-steps", str(c["gradientAccumulationSteps"]),
        # wandb (the script's default) needs a login; tensorboard writes runs/ beside the checkpoints.
        "--report-to", "tensorboard",
        "--embodiment-tag", str(c["embodimentTag"]),
        "--video-backend", str(c["videoBackend"]),
    ]


def gr00t_launch_finetune_args(
    spec: EngineSpec, config: Mapping[str, Any], *, dataset_dir: Path, output_dir: Path, base_model_dir: Path,
    layout: NodeLayout, modality_config: Path | None,
) -> list[str]:
    """Arguments of N1.6/N1.7 ``launch_finetune.py`` (FinetuneConfig fields at ``spec.source_commit``).

    ``--global-batch-size`` is batchSize x ``--num-gpus``: experiment.py sets the per-device batch to
    ``global_batch_size // num_gpus`` where num_gpus is this flag (GPUs of this node), so each process gets
    batchSize samples on any number of nodes. No resume flag: experiment.py resumes from --output-dir itself."""
    c = config
    args = [
        "--base-model-path", str(base_model_dir),
        "--dataset-path", str(dataset_dir),
        "--embodiment-tag", str(c["embodimentTag"]).upper(),
    ]
    if modality_config is not None:
        args += ["--modality-config-path", str(modality_config)]
    args += [
        _flag("tune-llm", c["tuneLlm"]),
        _flag("tune-visual", c["tuneVisual"]),
        _flag("tune-projector", c["tuneProjector"]),
        _flag("tune-diffusion-model", c["tuneDiffusionModel"]),
        "--global-batch-size", str(int(c["batchSize"]) * layout.nproc_per_node),
        "--dataloader-num-workers", str(c["dataloaderNumWorkers"]),
        "--learning-rate", repr(float(c["learningRate"])),
        "--gradient-accumulation-steps", str(c["gradientAccumulationSteps"]),
        "--output-dir", str(output_dir),
        "--save-steps", str(c["saveSteps"]),
        "--save-total-limit", str(c["saveTotalLimit"]),
        "--num-gpus", str(layout.nproc_per_node),
        "--no-use-wandb",
        "--max-steps", str(c["maxSteps"]),
        "--weight-decay", repr(float(c["weightDecay"])),
        "--warmup-ratio", repr(float(c["warmupRatio"])),
    ]
    if "videoBackend" in spec.flags and c["videoBackend"] in spec.video_backends:
        args += ["--video-backend", str(c["videoBackend"])]
    return args


def modality_config_source(modality: Mapping[str, Any], embodiment_tag: str) -> str:
    """A modality-config module for ``--modality-config-path``, from the dataset's meta/modality.json.

    Same shape as Isaac-GR00T's examples/SO100/so100_config.py (commit ade260e6d08b629dad7cea33910113efc2e6752a):
    video/state at delta 0, action at deltas 0..15, language from the annotation keys, then
    ``register_modality_config(config, embodiment_tag=EmbodimentTag.<TAG>)``. Actions are ABSOLUTE joint values
    (NON_EEF, DEFAULT format): what the recorded action columns are, without assuming a relative representation.
    """
    def keys(part: str) -> list[str]:
        return list((modality.get(part) or {}).keys())

    actions = keys("action")
    language = [f"annotation.{k}" for k in keys("annotation")]
    missing = [part for part, found in (("state", keys("state")), ("action", actions), ("video", keys("video"))) if not found]
    if missing:
        raise ValueError(f"meta/modality.json has no {', '.join(missing)} entries; a modality config needs them")
    action_config = "ActionConfig(rep=ActionRepresentation.ABSOLUTE, type=ActionType.NON_EEF, format=ActionFormat.DEFAULT)"
    return "\n".join([
        '"""Generated by gr00t-sm from meta/modality.json: the embodiment\'s modality config for launch_finetune.py."""',
        "from gr00t.configs.data.embodiment_configs import register_modality_config",
        "from gr00t.data.embodiment_tags import EmbodimentTag",
        "from gr00t.data.types import ActionConfig, ActionFormat, ActionRepresentation, ActionType, ModalityConfig",
        "",
        "config = {",
        f'    "video": ModalityConfig(delta_indices=[0], modality_keys={keys("video")!r}),',
        f'    "state": ModalityConfig(delta_indices=[0], modality_keys={keys("state")!r}),',
        f'    "action": ModalityConfig(delta_indices={list(range(ACTION_HORIZON))!r}, modality_keys={actions!r},',
        f"                             action_configs=[{', '.join([action_config] * len(actions))}]),",
        f'    "language": ModalityConfig(delta_indices=[0], modality_keys={language!r}),',
        "}",
        "",
        f"register_modality_config(config, embodiment_tag=EmbodimentTag.{embodiment_tag.upper()})",
        "",
    ])


def trainer_tensorboard_dir(engine: str, generation: str, output_dir: Path) -> Path | None:
    """Where the engine writes TensorBoard events that the entry must copy into the TensorBoard folder.

    * N1.5: ``--report-to tensorboard`` and no ``logging_dir``, so transformers 4.x writes
      ``<output_dir>/runs/<date>_<host>/`` (scripts/gr00t_finetune.py, gr00t/experiment/runner.py).
    * builtin: None, it writes into the TensorBoard folder itself (its request's ``tensorboard_dir``).
    * N1.6/N1.7: None, no events at all: gr00t/experiment/experiment.py builds TrainingArguments with
      ``report_to="wandb" if use_wandb else "none"`` and launch_finetune.py has no other reporting option.
    """
    if engine == Engine.ISAAC_GR00T.value and generation == "1.5":
        return output_dir / "runs"
    return None


def builtin_args(request_file: Path, more_dataset_dirs: Sequence[Path] = ()) -> list[str]:
    return ["-m", BUILTIN_MODULE, "--request", str(request_file), *(a for d in more_dataset_dirs for a in ("--dataset", str(d)))]


def engine_env(engine: str, generation: str, layout: NodeLayout) -> dict[str, str]:
    """Variables added to the trainer's environment (on top of the container's)."""
    env = {
        # The base model is a local folder: the trainer must never reach for the Hub (offline, no token).
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if layout.nnodes > 1:
        env["NCCL_SOCKET_IFNAME"] = layout.network_interface
        env["GLOO_SOCKET_IFNAME"] = layout.network_interface
    if engine == Engine.ISAAC_GR00T.value and generation == "1.5":
        env["IS_TORCHRUN"] = "1"  # we already run torchrun: the script must not re-launch itself
    return env


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]  # only what we add; the trainer inherits the rest of the container's environment

    def printable(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "env": redact(self.env)}


def redact(env: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if SECRET_NAME.search(k) else v) for k, v in env.items()}


def build_command(
    config: Mapping[str, Any], *, python: str, layout: NodeLayout, dataset_dir: Path, output_dir: Path,
    base_model_dir: Path | None, resume: bool, gr00t_repo: Path, request_file: Path, modality_config: Path | None = None,
    more_dataset_dirs: Sequence[Path] = (), python_path: Path | None = None,
) -> Command:
    """The whole trainer command for the resolved config (the engine table chooses the builder).

    ``python_path``: where a ``module:Class`` data config's module lies (the data_config channel), put on the
    trainer's PYTHONPATH so GR00T can import it."""
    spec = spec_for(config)
    if more_dataset_dirs and not spec.several_datasets:  # refused at resolution already; a hand-made job lands here
        raise ValueError(f"engine {spec.key} trains on one dataset; name one folder in datasetPath")
    if spec.engine == Engine.BUILTIN.value:
        program = builtin_args(request_file, more_dataset_dirs)
    elif base_model_dir is None:
        raise ValueError("the isaac-gr00t engine needs a base model folder")
    elif spec.key == "n1.5":
        program = [str(gr00t_repo / spec.script), *gr00t_n15_args(
            config, dataset_dir=dataset_dir, output_dir=output_dir, base_model_dir=base_model_dir,
            num_gpus=layout.nproc_per_node, resume=resume, more_dataset_dirs=more_dataset_dirs)]
    else:
        program = [str(gr00t_repo / spec.script), *gr00t_launch_finetune_args(
            spec, config, dataset_dir=dataset_dir, output_dir=output_dir, base_model_dir=base_model_dir, layout=layout,
            modality_config=modality_config)]
    env = engine_env(spec.engine, spec.generation or "", layout)
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(python_path), os.environ.get("PYTHONPATH", "")) if p)
    return Command(torchrun_argv(python, layout, program), env)


def modality_config_path(spec: EngineSpec, work_dir: Path) -> Path | None:
    """Where the entry puts the ``--modality-config-path`` file (engines that take modality configs only)."""
    return work_dir / MODALITY_CONFIG_FILE if spec.generation and not spec.data_configs else None


def prepare_modality_config(spec: EngineSpec, *, asset_root: Path | None, dataset_dir: Path, embodiment_tag: str,
                            dest: Path) -> str:
    """Write the modality config the trainer registers: the user's ``gr00t_modality_config.py`` from the asset
    root when there is one, else one generated from meta/modality.json. Returns where it came from."""
    shipped = asset_root / MODALITY_CONFIG_FILE if asset_root is not None else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    if shipped is not None and shipped.is_file():
        dest.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
        return f"{MODALITY_CONFIG_FILE} from the asset"
    modality = json.loads((dataset_dir / "meta" / "modality.json").read_text(encoding="utf-8"))
    dest.write_text(modality_config_source(modality, embodiment_tag), encoding="utf-8")
    return "generated from meta/modality.json"
