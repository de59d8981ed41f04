"""The model card: ``README.md`` in the run's ``gr00tOutput_*`` folder, in Hugging Face's model-card format.

Rendered from ``templates/model_card.md.j2`` (jinja2) with facts from this run only: the resolved configuration
and its provenance, the prepared dataset's meta files, the run summary (instance, durations, losses, evaluation)
and the inference check. The YAML front matter follows the Hub's model-card metadata
(huggingface_hub ``ModelCardData``: ``license``, ``license_name``, ``license_link``, ``base_model``, ``tags``,
``datasets``, ``pipeline_tag``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gr00t_core.data_configs import ACTION_HORIZON
from gr00t_core.engines import spec_for
from gr00t_core.resolution import TIER_LABELS, Tier

CARD_FILE = "README.md"
TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class License:
    license: str
    name: str | None = None
    link: str | None = None
    source: str = ""


# The base model's terms carry over to a fine-tune of it. Sources:
# - N1.5: huggingface.co/nvidia/GR00T-N1.5-3B README "License/Terms of Use" (card front matter has no license key;
#   the text links NVIDIA-OneWay-Noncommercial-License-22Mar2022.pdf, shown as "NSCL V1 License", commit 869830f).
# - N1.6: NVIDIA's own N1.6 fine-tunes (huggingface.co/nvidia/GR00T-N1.6-Rheo-Sim-PushCart README, "Governing
#   Terms") use the same OneWay Noncommercial license.
# - N1.7: huggingface.co/nvidia/GR00T-N1.7-3B is released under the NVIDIA Open Model License Agreement (its card,
#   as quoted in that repo's discussion #1).
# - builtin: no NVIDIA weights are used (random init or an earlier builtin checkpoint): this project's Apache-2.0.
_NONCOMMERCIAL = License(
    "other", "nvidia-oneway-noncommercial-license",
    "https://developer.download.nvidia.com/licenses/NVIDIA-OneWay-Noncommercial-License-22Mar2022.pdf",
)
LICENSES: dict[str, License] = {
    "1.5": _NONCOMMERCIAL,
    "1.6": _NONCOMMERCIAL,
    "1.7": License("other", "nvidia-open-model-license",
                   "https://www.nvidia.com/en-us/agreements/enterprise-software/nvidia-open-model-license/"),
    "builtin": License("apache-2.0"),
}


def _usage_template(engine: str, generation: str | None) -> str:
    if engine == "builtin":
        return "usage_builtin.md.j2"
    return "usage_gr00t_n15.md.j2" if generation == "1.5" else "usage_gr00t_n16.md.j2"


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def front_matter(*, engine: str, base_model: str, generation: str | None, datasets: Sequence[str] = ()) -> dict[str, Any]:
    key = "builtin" if engine == "builtin" else (generation or "1.5")
    terms = LICENSES[key]
    data: dict[str, Any] = {"license": terms.license}
    if terms.name:
        data["license_name"] = terms.name
        data["license_link"] = terms.link
    if engine != "builtin":
        data["base_model"] = base_model  # a fine-tune of this Hub model (the Hub's model tree)
    data["pipeline_tag"] = "robotics"
    data["tags"] = ["robotics", "gr00t", "lerobot", f"gr00t-n{generation}" if engine != "builtin" else "gr00t-sm-builtin"]
    if datasets:
        data["datasets"] = list(datasets)
    return data


def _dataset_summary(dataset_dir: Path | None, data_config: str) -> tuple[dict[str, Any] | None, list[dict[str, str]], dict[str, Any]]:
    """(summary, cameras, modality.json) of the prepared dataset; (None, [], {}) when it cannot be read."""
    if dataset_dir is None or not (dataset_dir / "meta" / "info.json").is_file():
        return None, [], {}
    from gr00t_data.meta import check_meta
    from gr00t_data.prepare import local_reader

    report = check_meta(local_reader(dataset_dir), data_config)
    features = report.info.get("features") or {}
    modality = report.modality or {}
    by_column = {(e or {}).get("original_key", f"observation.images.{n}"): n for n, e in (modality.get("video") or {}).items()}
    cameras = []
    for column, codec in (report.summary.get("cameras") or {}).items():
        info = (features.get(column) or {}).get("info") or {}
        size = f"{info.get('video.width', '?')} x {info.get('video.height', '?')}"
        cameras.append({"name": by_column.get(column, column), "column": column, "size": size, "codec": codec or "?"})
    return (report.summary or None), cameras, modality


def _modality_rows(modality: Mapping[str, Any], inference: Mapping[str, Any] | None, cameras: list[dict[str, str]]) -> list[dict[str, str]]:
    observed = (inference or {}).get("observation_shapes") or {}
    rows = []
    sizes = {c["name"]: c["size"] for c in cameras}
    for name, entry in (modality.get("video") or {}).items():
        shape = observed.get(f"video.{name}")
        rows.append({"key": f"video.{name}", "shape": " x ".join(map(str, shape)) + " uint8" if shape else f"{sizes.get(name, '?')} RGB",
                     "source": f"`{(entry or {}).get('original_key', '')}`"})
    for section, default in (("state", "observation.state"), ("action", "action")):
        for name, entry in (modality.get(section) or {}).items():
            entry = entry or {}
            width = entry.get("end", 0) - entry.get("start", 0)
            shape = f"{ACTION_HORIZON} x {width}" if section == "action" else f"1 x {width}"
            rows.append({"key": f"{section}.{name}", "shape": shape,
                         "source": f"`{entry.get('original_key', default)}`[{entry.get('start')}:{entry.get('end')}]"})
    for name, entry in (modality.get("annotation") or {}).items():
        rows.append({"key": f"annotation.{name}", "shape": "text", "source": f"`{(entry or {}).get('original_key', '')}` -> tasks.jsonl"})
    return rows


def _obs_lines(inference: Mapping[str, Any] | None, modality: Mapping[str, Any]) -> list[str]:
    shapes = (inference or {}).get("observation_shapes") or {}
    lines = []
    for key, shape in shapes.items():
        if shape == "text":
            lines.append(f'"{key}": ["<task instruction>"],')
        elif key.startswith("video."):
            lines.append(f'"{key}": np.zeros(({", ".join(map(str, shape))}), np.uint8),  # (time, height, width, RGB)')
        else:
            lines.append(f'"{key}": np.zeros(({", ".join(map(str, shape))}), np.float32),  # (time, dim)')
    if not lines:  # no check ran: the keys from modality.json
        lines = [f'"video.{n}": ...,' for n in modality.get("video") or {}] + [f'"state.{n}": ...,' for n in modality.get("state") or {}]
    return lines


def _nested_obs(inference: Mapping[str, Any] | None) -> list[tuple[str, list[str]]]:
    shapes = (inference or {}).get("observation_shapes") or {}
    sections: dict[str, list[str]] = {"video": [], "state": [], "language": []}
    for key, shape in shapes.items():
        kind, _, name = key.partition(".")
        if shape == "text":
            sections["language"].append(f'"{key}": [["<task instruction>"]],')
        else:
            dtype = "np.uint8" if kind == "video" else "np.float32"
            sections[kind].append(f'"{name}": np.zeros((1, {", ".join(map(str, shape))}), {dtype}),')
    return list(sections.items())


def render(
    summary: Mapping[str, Any], config: Mapping[str, Any], provenance: Mapping[str, str], *,
    dataset_dir: Path | None, checkpoint: str, best_loss: float | None = None, datasets: Sequence[str] = (),
    loss_curve: str | None = None,
) -> str:
    """The model card's text. ``config``/``provenance`` are the resolved values and their tiers; ``summary`` is
    run_summary.json's content (with ``inference_check`` when it ran)."""
    import jinja2

    engine = str(config["engine"])
    base_model = str(config["baseModelPath"])
    generation = spec_for(config).generation  # None for the builtin engine
    dataset, cameras, modality = _dataset_summary(dataset_dir, str(config["dataConfig"]))
    inference = summary.get("inference_check")
    eval_result = summary.get("eval") or {}
    # The builtin engine's result has no held_out: it always holds its evaluation episodes out.
    evaluated = "held-out episodes" if eval_result.get("held_out", True) else "training episodes"
    eval_rows = [{"name": label, "value": _num(eval_result.get(key))} for key, label in (
        ("mse", f"Open-loop action MSE ({evaluated})"),
        ("normalized_mse", "Open-loop MSE, normalized [-1, 1]"),
        ("baseline_repeat_state_mse", "Baseline (repeat the current state) MSE"),
        ("beats_baseline", "Beats the baseline"),
    ) if key in eval_result]
    inference_view = None
    if inference:
        inference_view = {**inference, "first_ms": _fixed(inference.get("first_call_ms")),
                          "median_ms": _fixed(inference.get("median_call_ms")), "rest_calls": max(0, int(inference.get("calls") or 0) - 1)}
    tiers = {t.value: TIER_LABELS[t] for t in Tier}
    instance = summary.get("instance") or {}
    context = {
        "front_matter": yaml.safe_dump(front_matter(engine=engine, base_model=base_model, generation=generation, datasets=datasets),
                                       sort_keys=False, allow_unicode=True),
        "title": summary.get("output_folder") or "GR00T fine-tune",
        "intro": (f"A GR00T policy fine-tuned with Amazon SageMaker for a VAMS asset: `{base_model}` trained on "
                  f"{'the asset' if not dataset else str(dataset.get('episodes')) + ' episodes'} with data config "
                  f"`{config['dataConfig']}`." if engine != "builtin" else
                  f"A compact GR00T-style flow-matching policy (this project's builtin engine) trained on "
                  f"{'the asset' if not dataset else str(dataset.get('episodes')) + ' episodes'} with data config "
                  f"`{config['dataConfig']}`: a smoke run of the pipeline, not an NVIDIA GR00T model."),
        "base_model": base_model if engine != "builtin" else ((summary.get("model_cache") or {}).get("path") or "none (random initialization)"),
        "base_model_link": f"https://huggingface.co/{base_model}" if engine != "builtin" and not base_model.startswith("/") else None,
        "revision": config.get("modelRevision", "main"),
        "engine": engine, "generation": generation,
        "embodiment_tag": config["embodimentTag"], "data_config": config["dataConfig"],
        "job_name": summary.get("job_name"), "status": summary.get("status"), "output_folder": summary.get("output_folder"),
        "modality": _modality_rows(modality, inference, cameras), "horizon": ACTION_HORIZON,
        "dataset": dataset, "cameras": cameras,
        "training": [{"name": k, "value": _display(v), "tier": tiers.get(str(provenance.get(k, "default")), provenance.get(k))}
                     for k, v in config.items()],
        "instance": {k: instance.get(k, "—") for k in ("type", "hosts", "gpus_per_host", "processes_per_host")},
        "phases": [(k, _fixed(v, 2)) for k, v in (summary.get("phase_seconds") or {}).items()],
        "billable": _num(summary.get("billable_seconds")) if summary.get("billable_seconds") is not None else
        "reported by SageMaker when the job ends (DescribeTrainingJob BillableTimeInSeconds)",
        "global_step": _num(summary.get("global_step")), "final_loss": _num(summary.get("final_loss")), "best_loss": _num(best_loss),
        "eval_rows": eval_rows, "loss_curve": loss_curve, "eval_plot": eval_result.get("plot"),
        "inference": inference_view, "usage_template": _usage_template(engine, generation),
        "checkpoint": checkpoint, "obs_lines": _obs_lines(inference, modality), "nested_obs": _nested_obs(inference),
        "action_shapes": list(((inference or {}).get("action_shapes") or (inference or {}).get("expected_shapes") or {}).items()),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)  # noqa: S701 - Markdown, not HTML
    return env.get_template("model_card.md.j2").render(**context)


def _fixed(value: Any, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "—"
    return "—" if value == "" else str(value)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def for_entry(
    summary: Mapping[str, Any], config: Any, dataset_dir: Path, checkpoint_dir: Path, reports_dir: Path, *,
    losses: Sequence[tuple[int, float]],
) -> Path:
    """README.md for the run's output folder, written among the reports (the entry's hook)."""
    from sagemaker_entry.checkpoints import list_checkpoints
    from sagemaker_entry.reports import LOSS_CURVE

    found = list_checkpoints(checkpoint_dir)
    curve = LOSS_CURVE if (reports_dir / LOSS_CURVE).is_file() or (checkpoint_dir / LOSS_CURVE).is_file() else None
    text = render(
        summary, config.values, {k: t.value for k, t in config.provenance.items()}, dataset_dir=dataset_dir,
        checkpoint=found[-1][1].name if found else "checkpoint-N", best_loss=min((v for _s, v in losses), default=None),
        loss_curve=curve,
    )
    return write(reports_dir / CARD_FILE, text)
