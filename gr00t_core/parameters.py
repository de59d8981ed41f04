"""The parameter schema: every training parameter, its type, default, bounds and metadata key, in one place.

The first 19 are the seeded VAMS GR00T pipeline's parameters (same names, same defaults); the rest are what
running on SageMaker adds. Values arrive as strings from VAMS (asset metadata, inputParameters, SageMaker
hyperparameters): :func:`coerce` turns them into typed values or says precisely why it cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gr00t_core import json_text
from gr00t_core.data_configs import DATA_CONFIGS, NONEXISTENT_CONFIGS, is_custom_config
from gr00t_core.instances import DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES


class Engine(StrEnum):
    ISAAC_GR00T = "isaac-gr00t"  # NVIDIA's own trainer (CUDA + flash-attn): production
    BUILTIN = "builtin"  # this project's CPU-capable flow-matching policy: smoke runs, local mode, CI


EMBODIMENT_TAGS = ("new_embodiment", "oxe_droid", "agibot_genie1", "gr1")
VIDEO_BACKENDS = ("torchvision_av", "torchcodec", "decord")

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type  # str, int, float, bool or list (a list of str)
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # True: value must be > minimum
    # Other spellings accepted in every tier (e.g. the seeded pipeline's INVALIDATE_GROOT_MODELS flag).
    aliases: tuple[str, ...] = ()
    seeded: bool = False  # one of the 19 parameters of the seeded VAMS pipeline
    extra_checks: tuple[Any, ...] = field(default=(), compare=False)  # callables value -> error message | None
    # A str naming one or several items: a JSON list or comma-separated text, kept as "a,b" (one item: unchanged).
    several: bool = False

    @property
    def metadata_key(self) -> str:
        """Asset-metadata key: ``GROOT_`` + UPPER_SNAKE of the name (``maxSteps`` -> ``GROOT_MAX_STEPS``)."""
        return "GROOT_" + re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).upper()


# One training-job channel per dataset; with model_cache and the data-config module that stays under SageMaker's
# 20 channels (CreateTrainingJob InputDataConfig: 0-20 items).
MAX_DATASETS = 16


def dataset_channel(position: int) -> str:
    """The training-job channel of the dataset at ``position`` in datasetPath: ``dataset`` for the first (the
    single-dataset interface), ``dataset_2``, ``dataset_3``, ... after it (SageMaker channel names match
    ``[A-Za-z0-9\\.\\-_]+``, CreateTrainingJob API reference, Channel.ChannelName)."""
    return "dataset" if position == 0 else f"dataset_{position + 1}"


# The channel carrying a ``module:Class`` data config's file from the asset root (gr00t_data.custom_config).
DATA_CONFIG_CHANNEL = "data_config"


def dataset_paths(value: str) -> list[str]:
    """The folders a datasetPath value names (several: comma-separated, the canonical form of a list)."""
    return [part.strip().strip("/") for part in value.split(",") if part.strip()]


def _check_dataset_path(value: str) -> str | None:
    paths = [part.strip() for part in value.split(",") if part.strip()]
    if not paths:
        return "must not be empty; use the folder inside the asset that holds meta/, data/ and videos/ (e.g. 'dataset')"
    if len(paths) > MAX_DATASETS:
        return f"names {len(paths)} datasets; at most {MAX_DATASETS} can be trained on in one run"
    for path in paths:
        if path.startswith("/") or path.startswith("\\") or re.match(r"^[A-Za-z]:", path) or "://" in path:
            return f"must be a path relative to the asset root, got the absolute path {path!r}"
        if ".." in re.split(r"[/\\]", path):
            return f"must stay inside the asset; {path!r} contains '..'"
    twice = sorted({p.strip("/") for p in paths if [q.strip("/") for q in paths].count(p.strip("/")) > 1})
    if twice:
        return f"names {', '.join(map(repr, twice))} more than once; list each dataset folder once"
    return None


def _check_data_config(value: str) -> str | None:
    if value in DATA_CONFIGS or is_custom_config(value):
        return None
    hint = NONEXISTENT_CONFIGS.get(value)
    if hint:
        return f"{value!r} does not exist in GR00T N1.5; did you mean {hint!r}?"
    return f"unknown data config {value!r}; choose one of {', '.join(sorted(DATA_CONFIGS))} or give 'module:Class'"


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_LOCAL_PATH = re.compile(r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+/?$")


def _check_base_model(value: str) -> str | None:
    if _HUB_ID.match(value) or _LOCAL_PATH.match(value):
        return None
    return f"must be a Hugging Face id 'owner/name' (e.g. 'nvidia/GR00T-N1.5-3B') or an absolute local path, got {value!r}"


def _check_hub_repo_id(value: str) -> str | None:
    # Hub repo ids as huggingface_hub's validate_repo_id accepts them (utils/_validators.py: REPO_ID_REGEX,
    # each part at most 96 characters, no '--' or '..'); the namespace is required so the release never lands in
    # whatever account the token happens to belong to.
    if not value:
        return None
    if any(len(part) > 96 for part in value.split("/")) or "--" in value or ".." in value or not _HUB_ID.match(value):
        return f"must be a Hugging Face model repo id 'owner/name' (e.g. 'my-org/so101-gr00t'), got {value!r}"
    return None


def _check_instance_type(value: str) -> str | None:
    if value in INSTANCE_TYPES:
        return None
    return f"unknown instance type {value!r}; supported: {', '.join(INSTANCE_TYPES)} (default {DEFAULT_INSTANCE_TYPE})"


def _check_instance_list(values: list[str]) -> str | None:
    bad = [v for v in values if v not in INSTANCE_TYPES]
    return f"unknown instance type(s) {', '.join(bad)}; supported: {', '.join(INSTANCE_TYPES)}" if bad else None


_P = Parameter
PARAMETERS: tuple[Parameter, ...] = (
    # --- the 19 parameters of the seeded VAMS pipeline (names and defaults kept) ---
    _P("datasetPath", str, "dataset", "Folder inside the asset holding the LeRobot dataset; several: a JSON list or comma-separated.", seeded=True,
       extra_checks=(_check_dataset_path,), several=True),
    _P("dataConfig", str, "so100_dualcam", "GR00T data config (DATA_CONFIG_MAP key or module:Class).", seeded=True,
       extra_checks=(_check_data_config,)),
    _P("baseModelPath", str, "nvidia/GR00T-N1.5-3B", "Base model: Hugging Face id or local path.", seeded=True,
       extra_checks=(_check_base_model,)),
    _P("maxSteps", int, 6000, "Training steps.", minimum=1, maximum=10_000_000, seeded=True),
    _P("batchSize", int, 32, "Batch size per GPU (per device).", minimum=1, maximum=4096, seeded=True),
    _P("learningRate", float, 1e-4, "Peak learning rate (builtin engine default: 0.001, it trains from scratch).", minimum=0, maximum=1, exclusive_minimum=True, seeded=True),
    _P("weightDecay", float, 1e-5, "AdamW weight decay.", minimum=0, maximum=1, seeded=True),
    _P("warmupRatio", float, 0.05, "Fraction of steps used for warm-up.", minimum=0, maximum=1, seeded=True),
    _P("saveSteps", int, 2000, "Save a checkpoint every N steps.", minimum=1, maximum=10_000_000, seeded=True),
    _P("numGpus", int, 1, "GPUs per instance to train on.", minimum=1, maximum=8, seeded=True),
    _P("loraRank", int, 0, "LoRA rank; 0 = full fine-tuning of the tuned parts.", minimum=0, maximum=1024, seeded=True),
    _P("loraAlpha", int, 16, "LoRA alpha.", minimum=1, maximum=4096, seeded=True),
    _P("loraDropout", float, 0.1, "LoRA dropout.", minimum=0, maximum=1, seeded=True),
    _P("tuneLlm", bool, False, "Fine-tune the language model backbone.", seeded=True),
    _P("tuneVisual", bool, False, "Fine-tune the vision encoder.", seeded=True),
    _P("tuneProjector", bool, True, "Fine-tune the state/action projectors.", seeded=True),
    _P("tuneDiffusionModel", bool, True, "Fine-tune the action (diffusion) transformer.", seeded=True),
    _P("embodimentTag", str, "new_embodiment", "GR00T embodiment tag.", choices=EMBODIMENT_TAGS, seeded=True),
    _P("videoBackend", str, "torchvision_av", "Video decoding backend used by GR00T.", choices=VIDEO_BACKENDS, seeded=True),
    # --- SageMaker-side parameters added by this project ---
    _P("engine", str, Engine.ISAAC_GR00T.value, "Training engine: isaac-gr00t (GPU) or builtin (CPU-capable).",
       choices=tuple(e.value for e in Engine)),
    _P("gr00tGeneration", str, "auto", "Isaac-GR00T generation of the base model; auto = from its name (GR00T-N1.5-3B).",
       choices=("auto", "1.5", "1.6", "1.7")),
    _P("instanceType", str, DEFAULT_INSTANCE_TYPE, "SageMaker training instance type.",
       extra_checks=(_check_instance_type,)),
    _P("instanceTypeFallbacks", list, [], "Instance types tried in order when the first has no capacity or quota.",
       extra_checks=(_check_instance_list,)),
    _P("instanceCount", int, 1, "Instances (nodes) for multi-node training.", minimum=1, maximum=16),
    _P("useSpot", bool, False, "Use managed spot training (resumes from checkpoints when interrupted)."),
    _P("maxWaitSeconds", int, 0, "Spot only: max wait incl. interruptions; 0 = 2 x maxRuntimeSeconds.",
       minimum=0, maximum=28 * 86400),
    _P("warmPoolKeepAliveSeconds", int, 0, "Keep the instance warm this long after the job (0 = off).",
       minimum=0, maximum=3600),
    _P("maxRuntimeSeconds", int, 28800, "Stop the job after this many seconds (8 h default).",
       minimum=60, maximum=28 * 86400),
    _P("volumeSizeGb", int, 200, "EBS volume per instance (dataset copy, model, checkpoints).", minimum=30, maximum=16384),
    _P("modelRevision", str, "main", "Hugging Face revision of the base model (cache key)."),
    _P("invalidateModelCache", bool, False, "Clear every model cache tier before fetching the base model.",
       aliases=("INVALIDATE_GROOT_MODELS", "invalidateGrootModels")),
    _P("dataloaderNumWorkers", int, 8, "Data-loader worker processes per GPU.", minimum=0, maximum=64),
    _P("gradientAccumulationSteps", int, 1, "Gradient accumulation steps.", minimum=1, maximum=1024),
    _P("saveTotalLimit", int, 5, "Checkpoints kept on the instance (all are uploaded to the asset).", minimum=1, maximum=1000),
    _P("seed", int, 42, "Random seed.", minimum=0, maximum=2**31 - 1),
    _P("hubRepoId", str, "", "Publish the final checkpoint and model card to this private Hugging Face model repo "
       "(created when missing; empty = no release).", extra_checks=(_check_hub_repo_id,)),
    _P("evalEpisodes", int, 1, "Episodes for the open-loop evaluation after training, every engine (0 = none).",
       minimum=0, maximum=1000),
)

PARAMETERS_BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
SEEDED_PARAMETERS: tuple[Parameter, ...] = tuple(p for p in PARAMETERS if p.seeded)
METADATA_KEYS: dict[str, Parameter] = {p.metadata_key: p for p in PARAMETERS}

# name or alias (as written by users, any case for aliases in UPPER_SNAKE) -> parameter
_LOOKUP: dict[str, Parameter] = {**PARAMETERS_BY_NAME, **{a: p for p in PARAMETERS for a in p.aliases}}


def lookup(key: str) -> Parameter | None:
    """The parameter a key names: its name, an alias or its ``GROOT_*`` metadata key."""
    return _LOOKUP.get(key) or METADATA_KEYS.get(key)


def defaults() -> dict[str, Any]:
    return {p.name: (list(p.default) if isinstance(p.default, list) else p.default) for p in PARAMETERS}


class CoercionError(ValueError):
    """A value cannot be turned into the parameter's type or breaks its bounds; the message says why."""


_INT_DIGITS = 18


def _coerce_type(p: Parameter, raw: Any) -> Any:
    if p.type is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise CoercionError(f"expected true/false (or 1/0), got {raw!r}")
    if p.type is int:
        if isinstance(raw, bool):
            raise CoercionError(f"expected an integer, got the boolean {raw!r}")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            text = raw.strip()
            if re.fullmatch(r"[+-]?\d+", text):
                # every integer parameter is bounded far below 10**18; a longer one is out of range (and past
                # 4,300 digits int() itself refuses it with a ValueError)
                if len(text.lstrip("+-")) > _INT_DIGITS:
                    raise CoercionError(f"expected an integer of at most {_INT_DIGITS} digits, got {len(text)} characters ({text[:20]}...)")
                return int(text)
            try:
                as_float = float(text)
            except ValueError:
                pass
            else:
                if as_float.is_integer():
                    return int(as_float)
        raise CoercionError(f"expected an integer, got {raw!r}")
    if p.type is float:
        if isinstance(raw, bool):
            raise CoercionError(f"expected a number, got the boolean {raw!r}")
        if isinstance(raw, (int, float)):
            value = float(raw)
        elif isinstance(raw, str):
            try:
                value = float(raw.strip())
            except ValueError:
                raise CoercionError(f"expected a number such as 1e-4, got {raw!r}") from None
        else:
            raise CoercionError(f"expected a number, got {raw!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise CoercionError(f"expected a finite number, got {raw!r}")
        return value
    if p.type is list:
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                try:
                    raw = json_text.parse_json(text, name="the list")
                except json_text.JsonTextError:
                    raise CoercionError(f"expected a JSON list or comma-separated values, got {raw[:80]!r}") from None
            else:
                return [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return [v.strip() for v in raw if v.strip()]
        raise CoercionError(f"expected a list of strings or comma-separated values, got {raw!r}")
    # str
    if p.several and (isinstance(raw, list) or (isinstance(raw, str) and ("," in raw or raw.strip().startswith("[")))):
        return ",".join(_coerce_type(replace(p, type=list), raw))
    if isinstance(raw, str):
        return raw.strip()
    raise CoercionError(f"expected a string, got {raw!r}")


def coerce(p: Parameter, raw: Any) -> Any:
    """Turn a raw value (VAMS string, JSON value) into the parameter's type and check its bounds."""
    value = _coerce_type(p, raw)
    if p.choices is not None and value not in p.choices:
        raise CoercionError(f"must be one of {', '.join(p.choices)}; got {value!r}")
    if p.minimum is not None:
        if p.exclusive_minimum and not value > p.minimum:
            raise CoercionError(f"must be greater than {p.minimum:g}, got {value!r}")
        if not p.exclusive_minimum and value < p.minimum:
            raise CoercionError(f"must be at least {p.minimum:g}, got {value!r}")
    if p.maximum is not None and value > p.maximum:
        raise CoercionError(f"must be at most {p.maximum:g}, got {value!r}")
    for check in p.extra_checks:
        message = check(value)
        if message:
            raise CoercionError(message)
    return value


def to_string(value: Any) -> str:
    """The canonical string form of a typed value (SageMaker hyperparameters and VAMS metadata are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
