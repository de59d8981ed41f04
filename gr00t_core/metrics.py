"""Training metrics: one definition used by the launcher's MetricDefinitions, the log parser and the tests.

Trainer log lines are Python dict reprs, as the Hugging Face Trainer prints them (GR00T N1.5 and the builtin
engine alike)::

    {'loss': 0.0412, 'grad_norm': 0.51, 'learning_rate': 9.75e-05, 'epoch': 1.2}

The entry script adds its own lines for the step counter, throughput and phase durations::

    [gr00t-sm] step=120 samples_per_second=35.2
    [gr00t-sm] phase=dataset seconds=3.41
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
LOG_PREFIX = "[gr00t-sm]"


@dataclass(frozen=True)
class Metric:
    name: str  # as shown in SageMaker Studio and CloudWatch (/aws/sagemaker/TrainingJobs, metric name)
    regex: str  # first group captures the value

    def as_definition(self) -> dict[str, str]:
        return {"Name": self.name, "Regex": self.regex}


def _trainer_key(name: str, key: str) -> Metric:
    return Metric(name, rf"'{key}': (?:np\.float64\()?{_NUMBER}")


PHASES = ("dataset", "model", "training", "upload")

METRICS: tuple[Metric, ...] = (
    _trainer_key("train:loss", "loss"),
    _trainer_key("train:grad_norm", "grad_norm"),
    _trainer_key("train:learning_rate", "learning_rate"),
    _trainer_key("train:epoch", "epoch"),
    _trainer_key("train:final_loss", "train_loss"),
    Metric("train:step", rf"\[gr00t-sm\] step={_NUMBER}"),
    Metric("train:samples_per_second", rf"\[gr00t-sm\] step=\S+ samples_per_second={_NUMBER}"),
    *(Metric(f"phase:{p}_seconds", rf"\[gr00t-sm\] phase={p} seconds={_NUMBER}") for p in PHASES),
    # After training every engine logs its open-loop evaluation as "eval open_loop_mse=..." (builtin train.py,
    # sagemaker_entry/evaluation.py for Isaac-GR00T).
    Metric("eval:open_loop_mse", rf"eval open_loop_mse={_NUMBER}"),
    # The inference check on the final checkpoint (sagemaker_entry/inference_check.py): 1 = passed, 0 = failed;
    # latency of one get_action call, the first (model warm-up included) apart from the median of the rest.
    Metric("inference:ok", rf"\[gr00t-sm\] inference_check ok={_NUMBER}"),
    Metric("inference:first_call_ms", rf"\[gr00t-sm\] inference_check ok=\S+ first_call_ms={_NUMBER}"),
    Metric("inference:median_call_ms", rf"\[gr00t-sm\] inference_check ok=\S+ first_call_ms=\S+ median_call_ms={_NUMBER}"),
)


def metric_definitions() -> list[dict[str, str]]:
    """``AlgorithmSpecification.MetricDefinitions`` for CreateTrainingJob."""
    return [m.as_definition() for m in METRICS]


def step_line(step: int, samples_per_second: float) -> str:
    return f"{LOG_PREFIX} step={step} samples_per_second={samples_per_second:.3f}"


def inference_line(ok: bool, first_call_ms: float | None, median_call_ms: float | None) -> str:
    """Only the figures measured are printed: a check that failed before any call still reports ok=0."""
    line = f"{LOG_PREFIX} inference_check ok={int(ok)}"
    if first_call_ms is not None:
        line += f" first_call_ms={first_call_ms:.3f}"
        if median_call_ms is not None:
            line += f" median_call_ms={median_call_ms:.3f}"
    return line


def phase_line(phase: str, seconds: float) -> str:
    return f"{LOG_PREFIX} phase={phase} seconds={seconds:.3f}"


_DICT_LINE = re.compile(r"(\{'[a-z_]+': .*\})\s*$")


def parse_trainer_line(line: str) -> dict[str, float] | None:
    """The numeric entries of a Trainer log dict line, or None when the line is not one."""
    match = _DICT_LINE.search(line)
    if not match:
        return None
    text = re.sub(r"np\.float\d*\(([^)]*)\)", r"\1", match.group(1))
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(data, dict):
        return None
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def extract(line: str) -> dict[str, float]:
    """Apply every metric regex to one log line, as SageMaker does; returns name -> value."""
    found: dict[str, float] = {}
    for m in METRICS:
        match = re.search(m.regex, line)
        if match:
            found[m.name] = float(match.group(1))
    return found
