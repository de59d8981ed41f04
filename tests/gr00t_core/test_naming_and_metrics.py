from datetime import UTC, datetime

import pytest

from gr00t_core import metrics
from gr00t_core.naming import (
    JOB_NAME_PATTERN,
    model_short_name,
    output_folder_name,
    training_job_name,
)


def test_job_names_are_deterministic_valid_and_short():
    a = training_job_name("xd130a6d6-8f35-4f3a-9a8c-1b1f" * 3, "s3://bucket/pipelines/p/j/output/exec-1/files/")
    b = training_job_name("xd130a6d6-8f35-4f3a-9a8c-1b1f" * 3, "s3://bucket/pipelines/p/j/output/exec-1/files/")
    c = training_job_name("xd130a6d6-8f35-4f3a-9a8c-1b1f" * 3, "s3://bucket/pipelines/p/j/output/exec-2/files/")
    assert a == b != c
    assert len(a) <= 63 and JOB_NAME_PATTERN.match(a)
    assert JOB_NAME_PATTERN.match(training_job_name("___", "x"))


@pytest.mark.parametrize(
    "path,short",
    [("nvidia/GR00T-N1.5-3B", "N1.5-3B"), ("nvidia/GR00T-N1.6-3B", "N1.6-3B"),
     ("/opt/ml/model_cache/GR00T-N1.7-3B/", "N1.7-3B"), ("/models/my_ckpt", "my-ckpt")],
)
def test_model_names(path, short):
    assert model_short_name(path) == short


def test_output_folder_follows_the_seeded_pattern():
    name = output_folder_name("nvidia/GR00T-N1.5-3B", "gr00t-asset-0123456789", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert name == "gr00tOutput_N1.5-3B_trainingjob_20260102T030405_0123456789"


def test_metric_definitions_fit_sagemaker_limits():
    defs = metrics.metric_definitions()
    assert 0 < len(defs) <= 40
    assert all(len(d["Name"]) <= 255 and len(d["Regex"]) <= 500 for d in defs)
    assert len({d["Name"] for d in defs}) == len(defs)


def test_metric_regexes_match_trainer_and_entry_lines():
    line = "{'loss': 0.0412, 'grad_norm': 0.51, 'learning_rate': 9.75e-05, 'epoch': 1.2}"
    assert metrics.extract(line) == {"train:loss": 0.0412, "train:grad_norm": 0.51, "train:learning_rate": 9.75e-05, "train:epoch": 1.2}
    assert metrics.extract("{'train_runtime': 3.1, 'train_loss': 0.25, 'epoch': 2.0}")["train:final_loss"] == 0.25
    assert metrics.extract(metrics.step_line(40, 12.5)) == {"train:step": 40.0, "train:samples_per_second": 12.5}
    assert metrics.extract(metrics.phase_line("upload", 2.25)) == {"phase:upload_seconds": 2.25}
    assert metrics.parse_trainer_line("not a dict") is None
