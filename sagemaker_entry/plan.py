"""What a run will do, decided before anything runs: the job's environment + its hyperparameters -> a :class:`Plan`.

The engine comes from the table of ``gr00t_core/engines.py``; the model-cache tiers, the torchrun layout, the
checkpoint to resume from and the trainer's command follow from it and the contract. Planning prepares, downloads
and creates nothing (``--print-command`` prints what it decides); only :func:`plan_run` without ``dry_run``
removes the incomplete checkpoint folders an earlier attempt left, as the run that follows must.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_core.engines import ISAAC_GR00T, EngineSpec, spec_for
from gr00t_core.errors import AssetError, EngineError
from gr00t_core.parameters import DATA_CONFIG_CHANNEL, dataset_channel, dataset_paths
from gr00t_core.resolution import ResolvedConfig, resolve
from gr00t_core.run import RunIdentity
from sagemaker_entry import contract, engines
from sagemaker_entry.checkpoints import ResumeState, prepare_resume
from sagemaker_entry.contract import TrainingEnv
from sagemaker_entry.dataset import ignored_config_file, locate_dataset
from sagemaker_entry.model_cache import LocalTier, Tier

REQUEST_FILE = "trainer_request.json"
# Channels of further datasets are mounted here when the contract does not name them (a hand-made job).
DEFAULT_DATA_DIR = Path("/opt/ml/input/data")


@dataclass(frozen=True)
class ModelCachePlan:
    """Where the base model is looked for: the local tiers in order, the S3 copy, then the Hub (GR00T engines)."""

    tiers: tuple[LocalTier, ...]
    s3_uri: str  # "" = no S3 tier
    use_hub: bool
    hf_token_secret_id: str  # "" = anonymous Hub access
    required_file: str | None  # an entry without this file is not this engine's model


@dataclass
class Plan:
    config: ResolvedConfig
    identity: RunIdentity
    spec: EngineSpec  # the engine-table entry that trains
    dataset_source: Path
    dataset_dir: Path  # the prepared working copy (made in the dataset phase)
    layout: engines.NodeLayout
    resume: ResumeState
    request_file: Path
    model_cache: ModelCachePlan
    # Further datasets of datasetPath (channels dataset_2, ...): (channel's dataset, working copy), mixed in training.
    more_datasets: tuple[tuple[Path, Path], ...] = ()

    @property
    def isaac_gr00t(self) -> bool:
        return self.spec.engine == ISAAC_GR00T

    @property
    def eval_dataset_dir(self) -> Path:
        """The held-out episodes' working copy (GR00T engines; made in the dataset phase when the dataset has enough
        episodes, read by the evaluation)."""
        return self.dataset_dir.with_name(f"{self.dataset_dir.name}_eval")

    @property
    def expected_checkpoints(self) -> int:
        """checkpoint-N folders a full run saves (one per saveSteps, plus the final one): the object projection."""
        return int(self.config["maxSteps"]) // int(self.config["saveSteps"]) + 1


def plan_run(env: TrainingEnv, *, dry_run: bool = False) -> Plan:
    channel = env.channel(contract.DATASET_CHANNEL)
    if channel is None:
        raise AssetError(
            f"the training job has no 'dataset' input channel (channels: {sorted(env.channels) or 'none'}); "
            "it must be started by `gr00t-sm launch` or the launch Lambda"
        )
    # The launch resolved the configuration once; here it is only re-validated, with its provenance
    # (gr00tProvenance). Hyperparameters are the only source, so Studio shows what actually trains.
    config = resolve(hyperparameters=env.hyperparameters)
    ignored = ignored_config_file(channel, config, env.hyperparameters)
    if ignored:
        config.warnings.append(ignored)
    identity = RunIdentity.from_hyperparameters(env.hyperparameters)
    first, *more_paths = dataset_paths(str(config["datasetPath"]))
    source = locate_dataset(channel, first)
    more = tuple(
        (locate_dataset(env.channel(dataset_channel(i)) or DEFAULT_DATA_DIR / dataset_channel(i), path),
         env.work_dir / dataset_channel(i))
        for i, path in enumerate(more_paths, start=1)
    )
    layout = engines.node_layout(
        engine=str(config["engine"]), num_gpus_param=int(config["numGpus"]), gpus_visible=env.num_gpus,
        hosts=env.hosts, current_host=env.current_host, master_addr=env.master_addr, master_port=env.master_port,
        network_interface=env.network_interface, nproc_override=env.nproc_override,
    )
    resume = prepare_resume(env.checkpoint_dir, str(config["engine"]), dry_run=dry_run)
    spec = spec_for(config.values)
    return Plan(config, identity, spec, source, env.work_dir / "dataset", layout, resume, env.work_dir / REQUEST_FILE,
                model_cache_plan(env, spec, identity), more)


def _mounted_writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def model_cache_plan(env: TrainingEnv, spec: EngineSpec, identity: RunIdentity, *,
                     writable: Callable[[Path], bool] = _mounted_writable) -> ModelCachePlan:
    """The tiers of docs/container.md ("Model cache"): downloads go to the first writable one. ``writable`` tells
    whether the model_cache channel is mounted ``rw`` (FSx/EFS channels can be either)."""
    tiers: list[LocalTier] = []
    if env.warmpool_cache_dir is not None:
        tiers.append(LocalTier(Tier.WARM_POOL, env.warmpool_cache_dir / "gr00t-models", True))
    channel = env.channel(contract.MODEL_CACHE_CHANNEL)
    if channel is not None and channel.is_dir():
        tiers.append(LocalTier(Tier.CHANNEL, channel, writable(channel)))
    tiers.append(LocalTier(Tier.SCRATCH, env.work_dir / "models", True))
    gr00t = spec.engine == ISAAC_GR00T
    # The builtin engine never asks the Hub, and only its own checkpoints can be its base model.
    return ModelCachePlan(tuple(tiers), identity.model_cache_uri, use_hub=gr00t,
                          hf_token_secret_id=identity.hf_token_secret_id,
                          required_file=None if gr00t else engines.BUILTIN_POLICY_FILE)


def check_engine(env: TrainingEnv, plan: Plan) -> None:
    """Isaac-GR00T is installed in this image and the instance has the GPUs numGpus asks for."""
    if not plan.isaac_gr00t:
        return
    script = env.gr00t_repo_dir / plan.spec.script
    missing = [str(p) for p in (script, env.gr00t_python) if not p.is_file()]
    if missing:
        raise EngineError(
            f"engine=isaac-gr00t but Isaac-GR00T is not installed in this image ({', '.join(missing)} missing); "
            "build the image with INSTALL_GR00T=true (CUDA base) or set engine to builtin"
        )
    if env.num_gpus < plan.layout.nproc_per_node:
        raise EngineError(
            f"numGpus = {plan.layout.nproc_per_node} but this instance has {env.num_gpus} GPU(s); "
            "Isaac-GR00T needs CUDA GPUs: lower numGpus, choose a GPU instance type or set engine to builtin"
        )


def modality_config_file(env: TrainingEnv, plan: Plan) -> Path | None:
    return engines.modality_config_path(plan.spec, env.work_dir)


def trainer_command(env: TrainingEnv, plan: Plan, base_model_dir: Path | None, *, python: str) -> engines.Command:
    """The trainer under torchrun; Isaac-GR00T runs with its own venv's interpreter (its pins clash with ours)."""
    return engines.build_command(
        plan.config.values, python=str(env.gr00t_python) if plan.isaac_gr00t else python, layout=plan.layout,
        dataset_dir=plan.dataset_dir, output_dir=env.checkpoint_dir, base_model_dir=base_model_dir,
        resume=plan.resume.latest is not None, gr00t_repo=env.gr00t_repo_dir, request_file=plan.request_file,
        modality_config=modality_config_file(env, plan), more_dataset_dirs=[work for _, work in plan.more_datasets],
        python_path=env.channel(DATA_CONFIG_CHANNEL),
    )


def trainer_request(env: TrainingEnv, plan: Plan, base_model_dir: Path | None) -> dict[str, Any] | None:
    """The builtin engine's request file (it reads the resolved config itself); None for engines that take flags."""
    if plan.isaac_gr00t:
        return None
    return {
        "dataset_dir": str(plan.dataset_dir),
        "output_dir": str(env.checkpoint_dir),
        "config": plan.config.values,
        "base_model_dir": str(base_model_dir) if base_model_dir else None,
        "resume_from_checkpoint": str(plan.resume.latest) if plan.resume.latest else None,
        "tensorboard_dir": str(env.tensorboard_dir),
    }


def printed_model_dir(plan: Plan, planned: Path | None, env: TrainingEnv) -> Path | None:
    """The base-model folder ``--print-command`` shows: where the cache would serve it, or (GR00T engines, which
    always have one) the scratch tier's placeholder for a download that happens at run time."""
    if planned is None and plan.isaac_gr00t:
        return env.work_dir / "models" / "<fetched at run time>"
    return planned
