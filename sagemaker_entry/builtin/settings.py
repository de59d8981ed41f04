"""What the builtin engine is asked to do: the training request file, typed, and what it cannot honour.

The request is one JSON file (``python -m sagemaker_entry.builtin.train --request FILE``)::

    {"dataset_dirs": ["/opt/ml/input/data/dataset"],   # prepared LeRobot v2.0/v2.1 datasets, mixed when several
     "output_dir": "/opt/ml/checkpoints",              # checkpoint-N/, train_result.json, plots
     "config": {"maxSteps": 6000, ...},                # resolved parameters, names of gr00t_core.parameters
     "base_model_dir": null,                           # a builtin checkpoint to start from, or null
     "resume_from_checkpoint": null,                   # a checkpoint-N folder to continue from, or null
     "engine_options": {"image_size": 64, ...},        # optional: model size and loader knobs (ModelOptions)
     "tensorboard_dir": "/opt/ml/output/tensorboard"}  # optional: where rank 0 writes TensorBoard event files

The single ``"dataset_dir": "..."`` of earlier request files is still read. Several datasets must share one layout
(see :mod:`.mixture`). Missing parameters take their defaults; every value goes through :func:`gr00t_core.parameters.coerce`, so the
strings SageMaker hyperparameters carry are accepted too. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gr00t_core.data_configs import is_custom_config
from gr00t_core.engines import ENGINES_BY_KEY
from gr00t_core.errors import ConfigError
from gr00t_core.json_text import JsonTextError, parse_json_object
from gr00t_core.parameters import PARAMETERS_BY_NAME, CoercionError, coerce, defaults

# Parameters the engine reads; the others (instance type, spot, ...) belong to the launcher and are not its concern.
ENGINE_PARAMETERS = (
    "dataConfig", "baseModelPath", "maxSteps", "batchSize", "learningRate", "weightDecay", "warmupRatio",
    "saveSteps", "loraRank", "loraAlpha", "loraDropout", "tuneLlm", "tuneVisual", "tuneProjector",
    "tuneDiffusionModel", "embodimentTag", "videoBackend", "dataloaderNumWorkers", "gradientAccumulationSteps",
    "saveTotalLimit", "seed", "evalEpisodes",
)
BUILTIN_ENGINE = "builtin"  # its key in gr00t_core.engines.ENGINES
# PyAV is what torchvision_av decodes with, so that choice is honoured as it is.
HONOURED_VIDEO_BACKEND = "torchvision_av"


@dataclass(frozen=True)
class ModelOptions:
    """Size of the policy and loader knobs; the defaults are the "small" model that trains on a CPU."""

    image_size: int = 64  # frames are resized to image_size x image_size (GR00T: 224)
    patch_size: int = 16  # ViT patch: (image_size / patch_size)^2 tokens per camera
    vision_hidden_size: int = 128
    vision_layers: int = 2
    hidden_size: int = 128  # width of the action transformer and of every projector
    layers: int = 4  # action transformer blocks
    heads: int = 4
    text_vocab: int = 4096  # hashed-word buckets of the task-text embedding
    text_tokens: int = 16  # words kept from the task text
    inference_steps: int = 4  # Euler steps of the flow at inference (GR00T N1.5: 4)
    vision_model: str | None = None  # a transformers vision model (hub id or folder) to start the image encoder from
    logging_steps: int = 0  # 0 = min(10, maxSteps // 10), at least 1
    frame_cache_mb: int = 256  # decoded frames each DataLoader worker may keep (whole episodes, LRU)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ModelOptions:
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError([f"engine_options: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"])
        options = cls(**raw)
        problems = options.problems()
        if problems:
            raise ConfigError(problems, header="Invalid builtin engine options")
        return options

    def problems(self) -> list[str]:
        out = []
        if self.image_size % self.patch_size:
            out.append(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        for name in ("hidden_size", "vision_hidden_size"):
            if getattr(self, name) % self.heads:
                out.append(f"{name} {getattr(self, name)} must be a multiple of heads {self.heads}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and f.name != "logging_steps" and value < 1:
                out.append(f"{f.name} must be at least 1, got {value}")
        return out


@dataclass(frozen=True)
class TrainRequest:
    dataset_dir: Path
    output_dir: Path
    config: dict[str, Any]  # every engine parameter, typed
    base_model_dir: Path | None = None
    resume_from_checkpoint: Path | None = None
    options: ModelOptions = field(default_factory=ModelOptions)
    tensorboard_dir: Path | None = None  # None = no TensorBoard event files
    more_dataset_dirs: tuple[Path, ...] = ()  # mixed with dataset_dir (same layout)

    @property
    def dataset_dirs(self) -> tuple[Path, ...]:
        return (self.dataset_dir, *self.more_dataset_dirs)

    @property
    def logging_steps(self) -> int:
        return self.options.logging_steps or max(1, min(10, self.config["maxSteps"] // 10))


def typed_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``raw`` for the engine's parameters, coerced; every bad value reported at once.

    The defaults are this engine's, as resolution applies them (the engine table's builtin entry, e.g. its learning
    rate), so a request file that leaves a parameter out trains as a resolved job would."""
    base = {**defaults(), **ENGINES_BY_KEY[BUILTIN_ENGINE].defaults}
    values = {name: base[name] for name in ENGINE_PARAMETERS}
    problems = []
    for name in ENGINE_PARAMETERS:
        if name not in raw:
            continue
        try:
            values[name] = coerce(PARAMETERS_BY_NAME[name], raw[name])
        except CoercionError as exc:
            problems.append(f"{name}: {exc}")
    if not problems and not (values["tuneVisual"] or values["tuneProjector"] or values["tuneDiffusionModel"]):
        problems.append(
            "tuneVisual, tuneProjector and tuneDiffusionModel are all false: nothing would be trained; "
            "set at least one to true (GR00T's defaults tune the projector and the diffusion model)"
        )
    if problems:
        raise ConfigError(problems)
    return values


class RequestFile(BaseModel):
    """The request file as written (plan.trainer_request writes it); :func:`read_request` types it further."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dataset_dirs: list[str] | None = None
    dataset_dir: str | None = None  # the single dataset of earlier request files
    output_dir: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    base_model_dir: str | None = None
    resume_from_checkpoint: str | None = None
    engine_options: dict[str, Any] | None = None
    tensorboard_dir: str | None = None

    @field_validator("dataset_dirs")
    @classmethod
    def _non_empty_paths(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not all(value)):
            raise ValueError(f"dataset_dirs must be a non-empty list of folder paths, got {value!r}")
        return value

    @model_validator(mode="after")
    def _datasets_and_output(self) -> RequestFile:
        if self.dataset_dirs is None and not self.dataset_dir:
            raise ValueError("dataset_dirs is required (a list of dataset folders)")
        if self.dataset_dirs and self.dataset_dir and Path(self.dataset_dir) != Path(self.dataset_dirs[0]):
            raise ValueError(f"dataset_dir {self.dataset_dir!r} is not the first of dataset_dirs; give only dataset_dirs")
        if not self.output_dir:
            raise ValueError("output_dir is required")
        return self

    def datasets(self) -> list[Path]:
        return [Path(d) for d in self.dataset_dirs] if self.dataset_dirs else [Path(str(self.dataset_dir))]


def read_request(path: Path) -> TrainRequest:
    """Parse and check the request file; raises ConfigError naming the file and every problem."""
    try:
        data = parse_json_object(Path(path).read_bytes(), name=str(path))
    except FileNotFoundError:
        raise ConfigError([f"{path}: request file not found"]) from None
    except JsonTextError as exc:
        raise ConfigError([f"{exc} (a request file with dataset_dirs, output_dir and config)"]) from None
    try:
        raw = RequestFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {_problem(e)}" for e in exc.errors()]) from None
    datasets = raw.datasets()

    def optional_path(value: str | None) -> Path | None:
        return Path(value) if value else None

    return TrainRequest(
        dataset_dir=datasets[0],
        more_dataset_dirs=tuple(datasets[1:]),
        output_dir=Path(raw.output_dir),
        config=typed_config(raw.config),
        base_model_dir=optional_path(raw.base_model_dir),
        resume_from_checkpoint=optional_path(raw.resume_from_checkpoint),
        options=ModelOptions.from_dict(raw.engine_options),
        tensorboard_dir=optional_path(raw.tensorboard_dir),
    )


def _problem(error: Any) -> str:
    """One pydantic error as the project words problems: the field, then what is wrong."""
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") in ("dict_type", "list_type", "string_type"):
        message = f"{where} must be {'an object of parameter name -> value' if where == 'config' else message.lower()}"
    return message if not where or message.startswith(where) else f"{where}: {message}"


def ignored_parameters(config: dict[str, Any], *, base_model_loaded: bool) -> dict[str, str]:
    """Parameter -> a sentence saying which value is ignored and why (empty when every value is honoured)."""
    out: dict[str, str] = {}
    if config["tuneLlm"]:
        out["tuneLlm"] = (
            "tuneLlm=true is ignored: the builtin engine has no language model to tune (task text goes through a small hashed-word "
            "embedding trained with the projector)"
        )
    if config["videoBackend"] != HONOURED_VIDEO_BACKEND:
        out["videoBackend"] = (
            f"videoBackend={config['videoBackend']!r} is ignored: the builtin engine always decodes with PyAV "
            f"(what {HONOURED_VIDEO_BACKEND} uses)"
        )
    if not base_model_loaded:
        out["baseModelPath"] = (
            f"baseModelPath={config['baseModelPath']!r} is ignored: the builtin engine cannot load GR00T weights "
            "and starts from a random initialisation (give a builtin checkpoint as the base model to continue one)"
        )
    if is_custom_config(config["dataConfig"]):
        out["dataConfig"] = (
            f"dataConfig={config['dataConfig']!r} is ignored: the builtin engine does not import Python data "
            "config classes and trains on every state/action/video key of meta/modality.json instead"
        )
    return out


__all__ = ["ENGINE_PARAMETERS", "ModelOptions", "RequestFile", "TrainRequest", "ignored_parameters", "read_request", "typed_config"]
