"""Resolve the training configuration from its tiers and keep where each value came from.

Precedence, highest first (the seeded VAMS pipeline's order, plus the tiers SageMaker adds):

====================  ==================================================================================
tier                  source
====================  ==================================================================================
``file``              ``gr00t_config.json`` at the asset root (keys are parameter names)
``run``               per-run parameters of a standalone run (``gr00t-sm launch --param``)
``metadata``          asset metadata, ``GROOT_*`` keys (VAMS ``inputMetadata.VAMS.assetMetadata``)
``parameters``        the pipeline's ``inputParameters`` (a JSON string registered with the pipeline)
``hyperparameters``   SageMaker hyperparameters: the launcher's resolved values, read in the container
``default``           :mod:`gr00t_core.parameters`
====================  ==================================================================================

Every bad value is reported at once, naming the parameter and the tier it came from.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gr00t_core import engines, gpu_memory, json_text
from gr00t_core.config_file import CONFIG_FILE_NAME, is_absent, validate_config_file
from gr00t_core.errors import ConfigError
from gr00t_core.instances import INSTANCE_TYPES, LOCAL_INSTANCE_TYPES, gpu_count
from gr00t_core.parameters import (
    PARAMETERS,
    PARAMETERS_BY_NAME,
    CoercionError,
    Parameter,
    coerce,
    dataset_paths,
    defaults,
    lookup,
    to_string,
)


class Tier(StrEnum):
    FILE = "file"
    RUN = "run"
    METADATA = "metadata"
    PARAMETERS = "parameters"
    HYPERPARAMETERS = "hyperparameters"
    DEFAULT = "default"


TIER_LABELS = {
    Tier.FILE: "gr00t_config.json",
    Tier.RUN: "run parameters",
    Tier.METADATA: "asset metadata",
    Tier.PARAMETERS: "pipeline inputParameters",
    Tier.HYPERPARAMETERS: "training job hyperparameters",
    Tier.DEFAULT: "defaults",
}

# Hyperparameter keys that are not parameters: the run identity and bookkeeping the launcher adds.
PROVENANCE_HYPERPARAMETER = "gr00tProvenance"
CONFIG_MAX_BYTES = 256 * 1024  # gr00t_config.json holds a few dozen keys


@dataclass
class ResolvedConfig:
    """Typed parameter values, the tier each one came from, and warnings worth showing the user."""

    values: dict[str, Any]
    provenance: dict[str, Tier]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def to_strings(self) -> dict[str, str]:
        """Every value as a string (SageMaker hyperparameters, VAMS metadata)."""
        return {name: to_string(value) for name, value in self.values.items()}

    def provenance_json(self) -> str:
        """Compact provenance for one hyperparameter: only the values that did not come from defaults."""
        return json.dumps({k: t.value for k, t in self.provenance.items() if t is not Tier.DEFAULT}, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": dict(self.values),
            "provenance": {k: t.value for k, t in self.provenance.items()},
            "warnings": list(self.warnings),
        }


def _suggest(key: str) -> str:
    names = list(PARAMETERS_BY_NAME)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:
        lowered = {n.lower(): n for n in names}
        close = [lowered[key.lower()]] if key.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _tier_entries(tier: Tier, source: Mapping[str, Any], warnings: list[str]) -> dict[str, tuple[Parameter, str, Any]]:
    """Map parameter name -> (parameter, key as written, raw value) for one tier; warn about unknown keys."""
    entries: dict[str, tuple[Parameter, str, Any]] = {}
    unknown: list[str] = []
    for key, raw in source.items():
        param = lookup(key)
        if tier is Tier.METADATA and param is None and not key.upper().startswith("GROOT_") and key != "INVALIDATE_GROOT_MODELS":
            continue  # asset metadata holds many unrelated keys: only GROOT_* ones are ours
        if tier is Tier.HYPERPARAMETERS and param is None:
            continue  # run identity and bookkeeping keys ride along with the parameters
        if param is None:
            unknown.append(f"{key!r}{_suggest(key)}")
            continue
        if is_absent(raw):
            continue
        entries[param.name] = (param, key, raw)
    if unknown:
        warnings.append(f"{TIER_LABELS[tier]}: ignoring unknown key(s) {', '.join(unknown)}")
    return entries


def resolve(
    *,
    file: Mapping[str, Any] | None = None,
    run: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
) -> ResolvedConfig:
    """Merge the tiers (highest first: file, run, metadata, parameters, hyperparameters, defaults).

    Raises :class:`ConfigError` listing every invalid value and every broken cross-field rule.
    """
    tiers: list[tuple[Tier, Mapping[str, Any] | None]] = [
        (Tier.FILE, file),
        (Tier.RUN, run),
        (Tier.METADATA, metadata),
        (Tier.PARAMETERS, parameters),
        (Tier.HYPERPARAMETERS, hyperparameters),
    ]
    for tier, source in tiers:
        if source is not None and not isinstance(source, Mapping):
            raise ConfigError([f"{TIER_LABELS[tier]} must be a JSON object of parameter -> value, got {type(source).__name__}"])

    warnings: list[str] = []
    problems: list[str] = []
    values = defaults()
    provenance: dict[str, Tier] = {name: Tier.DEFAULT for name in values}
    decided: set[str] = set()

    # Hyperparameters carry the launcher's provenance: a value listed there keeps its original tier, one not
    # listed was a default. Without that record (hand-made jobs) the hyperparameters are their own tier.
    inherited: dict[str, Tier] | None = None
    if hyperparameters and PROVENANCE_HYPERPARAMETER in hyperparameters:
        inherited = _read_inherited_provenance(hyperparameters[PROVENANCE_HYPERPARAMETER])

    for tier, source in tiers:
        if not source:
            continue
        for name, (param, key, raw) in _tier_entries(tier, source, warnings).items():
            where = TIER_LABELS[tier] if key == name else f"{TIER_LABELS[tier]} key {key}"
            try:
                value = coerce(param, raw)
            except CoercionError as exc:
                if name in decided:
                    warnings.append(f"{name} = {raw!r} from {where} is invalid but overridden by a higher tier: {exc}")
                else:
                    problems.append(f"{name} = {raw!r} from {where}: {exc}")
                    decided.add(name)
                continue
            if name in decided:
                continue
            decided.add(name)
            values[name] = value
            if tier is Tier.HYPERPARAMETERS:
                provenance[name] = Tier.HYPERPARAMETERS if inherited is None else inherited.get(name, Tier.DEFAULT)
            else:
                provenance[name] = tier

    if problems:
        raise ConfigError(problems, warnings=warnings)
    _apply_engine_defaults(values, provenance)
    config = ResolvedConfig(values, provenance, warnings)
    problems = check_rules(config)
    if problems:
        raise ConfigError(problems, warnings=config.warnings)
    return config


def _apply_engine_defaults(values: dict[str, Any], provenance: Mapping[str, Tier]) -> None:
    """The chosen engine's own defaults for values no tier set (an unknown engine is reported by the rules)."""
    try:
        spec = engines.spec_for(values)
    except ConfigError:
        return
    schema = defaults()
    for name, value in spec.defaults.items():
        # VAMS's seeded inputParameters repeat every schema default: such a repeat is not a choice either.
        seeded_repeat = provenance[name] is Tier.PARAMETERS and values[name] == schema[name]
        if provenance[name] is Tier.DEFAULT or seeded_repeat:
            values[name] = value


def _read_inherited_provenance(raw: Any) -> dict[str, Tier]:
    try:
        data = json_text.parse_json(raw, name="provenance") if isinstance(raw, str) else raw
        return {k: Tier(v) for k, v in dict(data).items() if k in PARAMETERS_BY_NAME}
    except (ValueError, TypeError):
        return {}


def _src(config: ResolvedConfig, name: str) -> str:
    return f"{name} (from {TIER_LABELS[config.provenance[name]]})"


def _engine_rules(config: ResolvedConfig) -> list[str]:
    """The chosen engine's rules (gr00t_core.engines): generation known, LoRA support, ignored parameters, and
    the GPU memory plan of every instance type the run may get. Softer findings go to ``config.warnings``."""
    v = config.values
    try:
        spec = engines.spec_for(v)
    except ConfigError as exc:
        return list(exc.problems)
    problems: list[str] = []
    if v["loraRank"] > 0 and not spec.lora:
        problems.append(
            f"{_src(config, 'loraRank')} = {v['loraRank']}: {spec.label} fine-tuning has no LoRA options; "
            "set loraRank to 0 or use an N1.5 base model"
        )
    if len(dataset_paths(str(v["datasetPath"]))) > 1 and not spec.several_datasets:
        problems.append(
            f"{_src(config, 'datasetPath')} names several datasets, but {spec.label} trains on one "
            "(Isaac-GR00T N1.5 and the builtin engine mix several); name one folder, or merge the datasets into one"
        )
    config.warnings.extend(engines.ignored_parameters(spec, v, config.provenance, defaults()))
    if spec.generation is None:
        return problems
    for itype in [v["instanceType"], *v["instanceTypeFallbacks"]]:
        known = INSTANCE_TYPES.get(itype)
        if known is None or not known.gpus:
            continue
        bigger = sorted((t for t in INSTANCE_TYPES.values() if t.gpu_memory_gib > known.gpu_memory_gib and t.gpus >= v["numGpus"]),
                        key=lambda t: (t.gpu_memory_gib, t.gpus))
        larger = {t.name: float(t.gpu_memory_gib) for t in bigger}
        found, warned = gpu_memory.findings(v, instance_type=itype, gpu_memory_gib=known.gpu_memory_gib,
                                            lora_supported=spec.lora, larger=larger)
        problems.extend(f"{_src(config, 'batchSize')}: {p}" for p in found)
        config.warnings.extend(warned)
    return problems


def check_rules(config: ResolvedConfig) -> list[str]:
    """Cross-field rules. Returns the problems; appends softer findings to ``config.warnings``."""
    v = config.values
    problems: list[str] = []
    warn = config.warnings.append
    tune_flags = ("tuneLlm", "tuneVisual", "tuneProjector", "tuneDiffusionModel")

    if v["loraRank"] == 0 and not any(v[f] for f in tune_flags):
        problems.append(
            f"nothing would be trained: {', '.join(tune_flags)} are all false and loraRank is 0; "
            "set tuneProjector/tuneDiffusionModel to true or loraRank > 0"
        )
    if v["loraRank"] == 0:
        # Only a changed value is worth a warning: the seeded pipeline's inputParameters repeat every default.
        for name in ("loraAlpha", "loraDropout"):
            if config.provenance[name] not in (Tier.DEFAULT, Tier.HYPERPARAMETERS) and v[name] != PARAMETERS_BY_NAME[name].default:
                warn(f"{_src(config, name)} has no effect while loraRank is 0")
    problems.extend(_engine_rules(config))

    instance_types = [v["instanceType"], *v["instanceTypeFallbacks"]]
    for itype in instance_types:
        if itype not in INSTANCE_TYPES or itype in LOCAL_INSTANCE_TYPES:
            continue
        gpus = gpu_count(itype) or 0
        if v["numGpus"] > gpus:
            problems.append(
                f"{_src(config, 'numGpus')} = {v['numGpus']} but {itype} has {gpus} GPU(s); "
                f"lower numGpus or choose a larger instance type"
            )
    main_gpus = gpu_count(v["instanceType"])
    if main_gpus and v["numGpus"] < main_gpus:
        warn(f"numGpus = {v['numGpus']} leaves {main_gpus - v['numGpus']} of the {main_gpus} GPUs of {v['instanceType']} idle")

    if v["useSpot"] and v["warmPoolKeepAliveSeconds"] > 0:
        problems.append(
            f"{_src(config, 'warmPoolKeepAliveSeconds')} = {v['warmPoolKeepAliveSeconds']} cannot be combined with "
            f"{_src(config, 'useSpot')}: SageMaker warm pools do not support managed spot; disable one of them"
        )
    if v["useSpot"] and v["maxWaitSeconds"] and v["maxWaitSeconds"] < v["maxRuntimeSeconds"]:
        problems.append(
            f"{_src(config, 'maxWaitSeconds')} = {v['maxWaitSeconds']} must be at least maxRuntimeSeconds "
            f"({v['maxRuntimeSeconds']}) for spot training"
        )
    if not v["useSpot"] and config.provenance["maxWaitSeconds"] not in (Tier.DEFAULT, Tier.HYPERPARAMETERS) and v["maxWaitSeconds"]:
        warn("maxWaitSeconds only applies to spot training (useSpot is false): ignored")
    if v["saveSteps"] > v["maxSteps"]:
        warn(f"saveSteps ({v['saveSteps']}) > maxSteps ({v['maxSteps']}): only the final checkpoint will be saved")
    return problems


def parse_config_file(content: str | bytes, *, name: str = CONFIG_FILE_NAME) -> dict[str, Any]:
    """Parse gr00t_config.json: its text, or its bytes as read from a file or S3 (UTF-8, with or without the
    byte-order mark Windows editors write), checked against :func:`gr00t_core.config_file.config_file_model`:
    typed values by parameter name plus the unknown keys (``resolve`` warns about those). A user error names the
    file, the line and what to fix, or every invalid value."""
    try:
        data = json_text.parse_json(content, name=name, max_bytes=CONFIG_MAX_BYTES)
    except json_text.JsonTextError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{name} must hold a JSON object of parameter -> value, found {type(data).__name__}"])
    return validate_config_file(data)


def parse_json_object(text: str | Mapping[str, Any] | None, *, what: str) -> dict[str, Any]:
    """Parse a JSON-object string as VAMS sends it (``""`` and None mean empty)."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    if not isinstance(text, str):
        raise ConfigError([f"{what} must be a JSON object or a JSON string, got {type(text).__name__}"])
    if not text.strip():
        return {}
    try:
        data = json_text.parse_json(text, name=what)
    except json_text.JsonTextError as exc:
        raise ConfigError([str(exc)]) from None
    if data is None or data == "":
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{what} must be a JSON object, got {type(data).__name__}"])
    return data


__all__ = [
    "CONFIG_FILE_NAME",
    "PARAMETERS",
    "PROVENANCE_HYPERPARAMETER",
    "TIER_LABELS",
    "ResolvedConfig",
    "Tier",
    "check_rules",
    "parse_config_file",
    "parse_json_object",
    "resolve",
]
