"""Preflight of a local asset folder: is it ready to train on, and if not, everything that is wrong at once.

An asset folder holds ``gr00t_config.json`` at its root (optional; defaults apply without it) and a LeRobot
dataset under ``datasetPath``. The configuration is resolved as the pipeline resolves it (file > asset metadata >
inputParameters > defaults); the dataset must stay inside the asset (no symlink may lead out of it) and is
checked and prepared by :func:`gr00t_data.prepare.prepare_dataset`, which may ADD files (modality.json,
stats.json): the result lists them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_core.data_configs import backend_problem, is_custom_config
from gr00t_core.errors import ConfigError, DatasetError
from gr00t_core.parameters import dataset_paths, lookup
from gr00t_core.resolution import CONFIG_FILE_NAME, TIER_LABELS, ResolvedConfig, Tier, parse_config_file, resolve
from gr00t_data.convert import convert_and_prepare, is_v3
from gr00t_data.custom_config import check_custom_config
from gr00t_data.prepare import PrepareReport, prepare_dataset

_DATASET_PARAMETERS = ("datasetPath", "dataConfig")


@dataclass
class PreflightResult:
    asset_dir: Path
    config: ResolvedConfig | None = None
    dataset: dict[str, Any] = field(default_factory=dict)  # prepare's summary (+ "path"); {} when not checked
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        """The ``gr00t-sm preflight --json`` object (README.md): config, provenance, dataset, errors, warnings."""
        resolved = self.config.as_dict() if self.config else {"config": {}, "provenance": {}}
        return {
            "config": resolved["config"],
            "provenance": resolved["provenance"],
            "dataset": dict(self.dataset),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def _read_config_file(asset_dir: Path) -> dict[str, Any] | None:
    path = asset_dir / CONFIG_FILE_NAME
    if not path.exists():
        return None
    if not path.is_file():
        raise ConfigError([f"{path} is not a file; {CONFIG_FILE_NAME} must be a JSON file at the asset root"])
    return parse_config_file(path.read_bytes(), name=str(path))


def _only_dataset_keys(source: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (source or {}).items() if (p := lookup(k)) is not None and p.name in _DATASET_PARAMETERS}


def _dataset_settings(file: Mapping[str, Any] | None, metadata: Mapping[str, Any], parameters: Mapping[str, Any]) -> ResolvedConfig | None:
    """datasetPath and dataConfig alone, so the dataset is still checked when other parameters are invalid."""
    try:
        return resolve(file=_only_dataset_keys(file), metadata=_only_dataset_keys(metadata), parameters=_only_dataset_keys(parameters))
    except ConfigError:
        return None


def _escaping_links(asset_root: Path, dataset_dir: Path) -> list[str]:
    """Symlinks under the dataset whose target lies outside the asset (a dataset must travel with its asset)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(dataset_dir):
        for name in dirs + files:
            path = Path(folder, name)
            if path.is_symlink():
                target = path.resolve()
                if target != asset_root and asset_root not in target.parents:
                    found.append(f"{path.relative_to(asset_root)} -> {target}")
    return found


def _locate_dataset(asset_dir: Path, config: ResolvedConfig, rel: str, errors: list[str]) -> Path | None:
    origin = TIER_LABELS[config.provenance["datasetPath"]]
    asset_root = asset_dir.resolve()
    dataset_dir = asset_dir / rel
    resolved = dataset_dir.resolve()
    if resolved != asset_root and asset_root not in resolved.parents:
        errors.append(
            f"datasetPath {rel!r} (from {origin}) leads outside the asset to {resolved} (through a symlink); "
            "put the dataset itself inside the asset folder"
        )
        return None
    if not dataset_dir.is_dir():
        errors.append(
            f"datasetPath {rel!r} (from {origin}): folder {dataset_dir} not found; put the LeRobot dataset there "
            f"or set datasetPath in {CONFIG_FILE_NAME} to the folder holding meta/, data/ and videos/"
        )
        return None
    links = _escaping_links(asset_root, dataset_dir)
    if links:
        shown = ", ".join(links[:3]) + (f" and {len(links) - 3} more" if len(links) > 3 else "")
        errors.append(f"the dataset links to files outside the asset ({shown}); copy them into the asset instead")
        return None
    return dataset_dir


def run_preflight(
    asset_dir: Path,
    *,
    input_parameters: Mapping[str, Any] | None = None,
    asset_metadata: Mapping[str, Any] | None = None,
    decode_check: bool = True,
) -> PreflightResult:
    """Resolve the configuration and check/prepare the dataset; problems are collected, never raised.

    ``asset_metadata`` is the flat asset metadata (``GROOT_*`` keys; others are ignored); ``input_parameters``
    the pipeline's inputParameters object.
    """
    asset_dir = Path(asset_dir)
    result = PreflightResult(asset_dir)
    if not asset_dir.is_dir():
        result.errors.append(f"asset folder {asset_dir} not found; give the folder holding {CONFIG_FILE_NAME} and the dataset")
        return result
    metadata, parameters = dict(asset_metadata or {}), dict(input_parameters or {})
    file_values: dict[str, Any] | None = None
    try:
        file_values = _read_config_file(asset_dir)
    except ConfigError as exc:
        result.errors.extend(exc.problems)
    try:
        result.config = resolve(file=file_values, metadata=metadata, parameters=parameters)
        result.warnings.extend(result.config.warnings)
    except ConfigError as exc:
        result.errors.extend(exc.problems)
        result.warnings.extend(exc.warnings)
    if file_values is None and not (asset_dir / CONFIG_FILE_NAME).exists():
        result.warnings.append(f"no {CONFIG_FILE_NAME} in {asset_dir}: asset metadata, inputParameters and defaults apply")

    settings = result.config or _dataset_settings(file_values, metadata, parameters)
    if settings is None:
        result.errors.append("the dataset was not checked: fix datasetPath / dataConfig first")
        return result
    if is_custom_config(str(settings["dataConfig"])):
        result.errors.extend(check_custom_config(asset_dir, str(settings["dataConfig"])))
    # An asset that is not ready is left as it is: with configuration errors the datasets are only checked.
    paths = dataset_paths(str(settings["datasetPath"]))
    # Several datasets: all are checked before any is written to, so one broken dataset leaves every one unchanged.
    if result.ready and len(paths) > 1:
        checked = PreflightResult(asset_dir)
        for rel in paths:
            _one_dataset(asset_dir, settings, rel, checked, decode_check=decode_check, write=False)
        if not checked.ready:
            result.errors.extend(checked.errors)
            result.warnings.extend(checked.warnings)
            return result
    summaries = [s for rel in paths
                 if (s := _one_dataset(asset_dir, settings, rel, result, decode_check=decode_check, write=result.ready)) is not None]
    if len(summaries) == 1:
        result.dataset = summaries[0]
    elif summaries:  # several datasets (mixed in training): each one's summary, and the totals
        result.dataset = {"path": ",".join(s["path"] for s in summaries), "datasets": summaries,
                          "episodes": sum(s.get("episodes") or 0 for s in summaries),
                          "frames": sum(s.get("frames") or 0 for s in summaries)}
    return result


def _one_dataset(asset_dir: Path, settings: ResolvedConfig, rel: str, result: PreflightResult, *,
                 decode_check: bool, write: bool) -> dict[str, Any] | None:
    """Check and prepare one dataset of the asset; its problems name it. Returns its summary (+ "path")."""
    dataset_dir = _locate_dataset(asset_dir, settings, rel, result.errors)
    if dataset_dir is None:
        return None
    try:
        report = _check_dataset(dataset_dir, str(settings["dataConfig"]), decode_check=decode_check, write=write)
    except DatasetError as exc:
        result.errors.extend(_in_dataset(rel, p) for p in exc.problems)
        return None
    backend = str(settings["videoBackend"]) if "videoBackend" in settings.values else None
    problem = backend and backend_problem(backend, report.summary.get("cameras") or {})
    if problem:
        result.errors.append(f"dataset {rel}/: {problem}")
    result.warnings.extend(_in_dataset(rel, w) for w in report.warnings)
    return {"path": rel, **report.summary}


def _check_dataset(dataset_dir: Path, data_config: str, *, decode_check: bool, write: bool) -> PrepareReport:
    """prepare_dataset, or for LeRobot v3.0 the conversion the job will make, on a temporary copy: the asset
    keeps its v3.0 files, and the job converts again from them."""
    if not is_v3(dataset_dir):
        return prepare_dataset(dataset_dir, data_config, decode_check=decode_check, write=write)
    with tempfile.TemporaryDirectory(prefix="gr00t-v3-") as scratch:
        _, report = convert_and_prepare(dataset_dir, Path(scratch) / "v2.1", data_config, decode_check=decode_check)
    report.prepared.clear()  # written into the copy, not into the asset
    report.summary["prepared"] = []
    return report


def _in_dataset(rel: str, message: str) -> str:
    """Dataset messages name files relative to the dataset; name them relative to the asset instead."""
    if message.startswith(("meta/", "data/", "videos/")):
        return f"{rel}/{message}"
    return f"dataset {rel}/: {message}"


def format_report(result: PreflightResult) -> str:
    """The human-readable report ``gr00t-sm preflight`` prints."""
    lines = [f"Preflight of {result.asset_dir}"]
    config = result.config
    if config is not None:
        chosen = {k: v for k, v in config.values.items() if config.provenance[k] is not Tier.DEFAULT}
        lines.append("Configuration (values not at their defaults):" if chosen else "Configuration: all defaults")
        width = max((len(k) for k in chosen), default=0)
        for name, value in chosen.items():
            lines.append(f"  {name:<{width}}  {value!r:<24} from {TIER_LABELS[config.provenance[name]]}")
        lines.append(
            f"  engine {config['engine']}, data config {config['dataConfig']}, {config['maxSteps']} steps, "
            f"batch {config['batchSize']}, instance {config['instanceType']}"
        )
    for d in result.dataset.get("datasets", [result.dataset] if result.dataset else []):
        lines.append(f"Dataset {d['path']}/ (LeRobot {d['version']}, robot {d.get('robot_type') or 'unknown'})")
        lines.append(f"  {d['episodes']} episodes, {d['frames']} frames at {d['fps']} fps, {d['tasks']} task(s)")
        cameras = ", ".join(f"{k} ({v or 'codec unknown'})" for k, v in d.get("cameras", {}).items()) or "none"
        lines.append(f"  cameras: {cameras}")
        lines.append(f"  state {d.get('state_dim')} values, action {d.get('action_dim')} values per frame")
        prepared = d.get("prepared") or []
        if prepared:
            lines.append(f"  files created by preparation: {', '.join(prepared)}")
        else:
            lines.append("  nothing needed preparing" if result.ready else "  not prepared (the asset is not ready)")
    if result.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in result.warnings)
    if result.ready:
        lines.append("READY: this asset can be trained on.")
    else:
        lines.append(f"NOT READY ({len(result.errors)} problem(s)):")
        lines.extend(f"  - {e}" for e in result.errors)
    return "\n".join(lines)


__all__ = ["PreflightResult", "format_report", "run_preflight"]
