"""The engine table: one declared entry per training engine, read by resolution, preflight, the launcher and the entry.

Each :class:`EngineSpec` says how its base model is recognised, which image (deployment-settings field) and script
it runs, which parameters it honours (and the CLI flag each maps to), its rules, its resume mechanism, its
checkpoint-complete marker and its metric log format. Adding a GR00T generation is one entry here plus its argv
builder in :mod:`sagemaker_entry.engines` and their tests.

Sources of the Isaac-GR00T facts (repository NVIDIA/Isaac-GR00T):

* N1.5 at ``4af2b622892f7dcb5aae5a3fb70bcb02dc217b96`` (last N1.5 commit on main): ``scripts/gr00t_finetune.py``
  (tyro flags of https://github.com/NVIDIA/Isaac-GR00T scripts/gr00t_finetune.py); seed 42 and save_total_limit 5 are hard-coded there,
  so ``seed``/``saveTotalLimit`` have no flag.
* N1.6 at ``0c8fb7d52a89f9bcb4369053813315df647533c2``: ``gr00t/configs/finetune_config.py`` (FinetuneConfig has
  ``video_backend``, no seed, no resume field) and ``gr00t/experiment/launch_finetune.py`` ("Launch finetuning for
  N1.6", backbone nvidia/Eagle-Block2A-2B-v2).
* N1.7 at ``57977bbba69d252cac76167520e4c57ec4cd9d7b``: same files; FinetuneConfig has no ``video_backend`` any
  more (backbone nvidia/Cosmos-Reason2-2B).
* N1.6/N1.7 resume: ``gr00t/experiment/experiment.py`` calls ``trainer.train(resume_from_checkpoint=True)``: the
  trainer continues from the newest ``checkpoint-N`` in ``--output-dir`` by itself; there is no flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gr00t_core.errors import ConfigError

BUILTIN = "builtin"
ISAAC_GR00T = "isaac-gr00t"
AUTO_GENERATION = "auto"

# Parameters that steer the launcher or the entry, never the trainer: no engine "ignores" them.
PLATFORM_PARAMETERS = frozenset({
    "datasetPath", "baseModelPath", "engine", "gr00tGeneration", "instanceType", "instanceTypeFallbacks",
    "instanceCount", "useSpot", "maxWaitSeconds", "warmPoolKeepAliveSeconds", "maxRuntimeSeconds", "volumeSizeGb",
    "modelRevision", "invalidateModelCache", "numGpus", "evalEpisodes", "hubRepoId",
})


@dataclass(frozen=True)
class EngineSpec:
    key: str  # "builtin", "n1.5", ...
    engine: str  # the ``engine`` parameter value that selects it
    generation: str | None  # GR00T generation ("1.5", ...); None for the builtin engine
    label: str
    image_setting: str  # DeploymentSettings field holding this engine's training image URI
    script: str  # path inside the Isaac-GR00T checkout, or the module the builtin engine runs
    source_commit: str | None  # Isaac-GR00T commit the argv is checked against (None: this repository)
    # parameter -> CLI flag (or a short note for the builtin engine, which reads the resolved config itself)
    flags: Mapping[str, str]
    lora: bool  # LoRA options exist
    batch_size: str  # "per-gpu" or "global" (what the trainer's batch flag means)
    data_configs: bool  # takes a DATA_CONFIG_MAP key / module:Class (N1.5); later generations use a modality config
    lerobot_versions: tuple[str, ...]
    resume: str  # how a restarted job continues
    checkpoint_marker: str  # a checkpoint-N folder is complete when this file is in it
    log_format: str  # how training metrics appear in the log (gr00t_core.metrics parses them)
    hub_id: re.Pattern[str] | None = field(default=None, compare=False)  # recognises the base model's name
    video_backends: tuple[str, ...] = ()  # videoBackend values its flag takes (empty: every choice)
    several_datasets: bool = False  # trains on a mixture of several datasetPath folders
    # Defaults of this engine where the schema's (set for fine-tuning NVIDIA's pretrained weights) do not fit;
    # applied only to values no tier set.
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def honoured(self) -> frozenset[str]:
        return frozenset(self.flags)


_TRAINER_DICT = "Hugging Face Trainer dict lines: {'loss': ..., 'grad_norm': ..., 'learning_rate': ..., 'epoch': ...}"
_COMMON_GR00T_FLAGS = {
    "maxSteps": "--max-steps", "saveSteps": "--save-steps", "learningRate": "--learning-rate",
    "weightDecay": "--weight-decay", "warmupRatio": "--warmup-ratio", "tuneLlm": "--tune-llm",
    "tuneVisual": "--tune-visual", "tuneProjector": "--tune-projector", "tuneDiffusionModel": "--tune-diffusion-model",
    "embodimentTag": "--embodiment-tag", "dataloaderNumWorkers": "--dataloader-num-workers",
    "gradientAccumulationSteps": "--gradient-accumulation-steps",
}
_LAUNCH_FINETUNE_FLAGS = {
    **_COMMON_GR00T_FLAGS, "batchSize": "--global-batch-size (batchSize x processes)",
    "saveTotalLimit": "--save-total-limit",
}



def _launch_finetune_spec(generation: str, commit: str, extra_flags: Mapping[str, str]) -> EngineSpec:
    """N1.6 and later share gr00t/experiment/launch_finetune.py; they differ in commit, image and a few fields."""
    return EngineSpec(
        key=f"n{generation}", engine=ISAAC_GR00T, generation=generation, label=f"Isaac-GR00T N{generation}",
        image_setting=f"image_uri_n{generation.replace('.', '_')}", script="gr00t/experiment/launch_finetune.py",
        source_commit=commit, flags={**_LAUNCH_FINETUNE_FLAGS, **extra_flags},
        lora=False, batch_size="global", data_configs=False, lerobot_versions=("v2.0", "v2.1"),
        resume="automatic: experiment.py calls trainer.train(resume_from_checkpoint=True) on --output-dir",
        checkpoint_marker="trainer_state.json", log_format=_TRAINER_DICT,
        hub_id=re.compile(rf"GR00T-N{re.escape(generation)}\b", re.IGNORECASE),
    )


ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        key="builtin", engine=BUILTIN, generation=None, label="builtin flow-matching policy (CPU-capable)",
        image_setting="image_uri", script="sagemaker_entry.builtin.train", source_commit=None,
        # The builtin engine reads the resolved config; its own notice (sagemaker_entry.builtin.settings) names the
        # values it cannot honour (tuneLlm, a non-PyAV video backend, Python data configs).
        flags={name: "request file" for name in (
            "dataConfig", "maxSteps", "batchSize", "learningRate", "weightDecay", "warmupRatio", "saveSteps",
            "loraRank", "loraAlpha", "loraDropout", "tuneLlm", "tuneVisual", "tuneProjector", "tuneDiffusionModel",
            "embodimentTag", "videoBackend", "dataloaderNumWorkers", "gradientAccumulationSteps", "saveTotalLimit",
            "seed")},
        lora=True, batch_size="per-gpu", data_configs=True, lerobot_versions=("v2.0", "v2.1"),
        resume="resume_from_checkpoint in the request file (newest complete checkpoint-N)",
        checkpoint_marker="builtin_policy.json", log_format=_TRAINER_DICT,
        # Mixes datasets of one layout as N1.5's LeRobotMixtureDataset does (sagemaker_entry/builtin/mixture.py).
        several_datasets=True,
        # It trains from random weights: at GR00T's fine-tuning rate (1e-4) it stays at the loss of ignoring the
        # state for 500 steps; 1e-3 is the one change that moved it (docs/container.md, bench_builtin_learning).
        defaults={"learningRate": 1e-3},
    ),
    EngineSpec(
        key="n1.5", engine=ISAAC_GR00T, generation="1.5", label="Isaac-GR00T N1.5",
        image_setting="image_uri", script="scripts/gr00t_finetune.py",
        source_commit="4af2b622892f7dcb5aae5a3fb70bcb02dc217b96",
        flags={**_COMMON_GR00T_FLAGS, "dataConfig": "--data-config", "batchSize": "--batch-size",
               "loraRank": "--lora-rank", "loraAlpha": "--lora-alpha", "loraDropout": "--lora-dropout",
               "videoBackend": "--video-backend"},
        lora=True, batch_size="per-gpu", data_configs=True, lerobot_versions=("v2.0", "v2.1"),
        resume="--resume (HF Trainer continues from the newest checkpoint-N in --output-dir)",
        # --dataset-path takes a list and mixes the datasets with equal weights (LeRobotMixtureDataset).
        several_datasets=True,
        checkpoint_marker="trainer_state.json", log_format=_TRAINER_DICT,
        hub_id=re.compile(r"GR00T-N1\.5\b", re.IGNORECASE),
    ),
    # FinetuneConfig.video_backend at that commit: "Options: 'torchcodec', 'decord', 'ffmpeg', 'opencv'".
    replace(_launch_finetune_spec("1.6", "0c8fb7d52a89f9bcb4369053813315df647533c2", {"videoBackend": "--video-backend"}),
            video_backends=("torchcodec", "decord")),
    _launch_finetune_spec("1.7", "57977bbba69d252cac76167520e4c57ec4cd9d7b", {}),
)

ENGINES_BY_KEY: dict[str, EngineSpec] = {spec.key: spec for spec in ENGINES}
GR00T_GENERATIONS: tuple[str, ...] = tuple(s.generation for s in ENGINES if s.generation)


def recognise_generation(base_model_path: str) -> str | None:
    """The GR00T generation a base model's name declares, or None when it declares none we know."""
    found = [s.generation for s in ENGINES if s.hub_id is not None and s.hub_id.search(base_model_path)]
    return found[0] if len(found) == 1 else None


def spec_for(config: Mapping[str, Any]) -> EngineSpec:
    """The engine a resolved config runs; a ConfigError (before any GPU) when the generation cannot be told."""
    if config["engine"] == BUILTIN:
        return ENGINES_BY_KEY["builtin"]
    explicit = str(config.get("gr00tGeneration") or AUTO_GENERATION)
    generation = recognise_generation(str(config["baseModelPath"])) if explicit == AUTO_GENERATION else explicit
    if generation is None:
        known = ", ".join("N" + g for g in GR00T_GENERATIONS)
        raise ConfigError([
            f"baseModelPath = {config['baseModelPath']!r}: cannot tell which Isaac-GR00T generation this model is "
            f"(the name has none of {known}); set the parameter gr00tGeneration to one of "
            f"{', '.join(GR00T_GENERATIONS)}, or engine to builtin"
        ])
    return ENGINES_BY_KEY["n" + generation]


def ignored_parameters(
    spec: EngineSpec, config: Mapping[str, Any], provenance: Mapping[str, Any], defaults: Mapping[str, Any]
) -> list[str]:
    """A warning for each parameter the user set (provenance not ``default``) that ``spec`` has no way to honour."""
    out: list[str] = []
    for name in sorted(provenance):
        tier = getattr(provenance[name], "value", provenance[name])
        if tier in ("default", "hyperparameters") or name in PLATFORM_PARAMETERS or name in spec.honoured:
            continue
        # The seeded pipeline's inputParameters repeat every default: only a changed value there is the user's.
        if tier == "parameters" and config[name] == defaults.get(name):
            continue
        out.append(f"{name} = {config[name]!r} is ignored: {spec.label} has no option for it")
    backend = config.get("videoBackend")
    if spec.video_backends and backend not in spec.video_backends:
        out.append(f"videoBackend = {backend!r} is ignored: {spec.label} decodes with one of "
                   f"{', '.join(spec.video_backends)} (its default torchcodec is used)")
    return out


__all__ = [
    "AUTO_GENERATION",
    "BUILTIN",
    "ENGINES",
    "ENGINES_BY_KEY",
    "GR00T_GENERATIONS",
    "ISAAC_GR00T",
    "PLATFORM_PARAMETERS",
    "EngineSpec",
    "ignored_parameters",
    "recognise_generation",
    "spec_for",
]
