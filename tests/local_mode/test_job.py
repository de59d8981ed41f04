"""A CreateTrainingJob request mapped onto a local job; SageMaker's FailureReason and model output rules."""

from __future__ import annotations

import tarfile

import pytest

from local_mode.job import FAILURE_REASON_LIMIT, LocalJob, failure_reason, materialize, model_artifacts

REQUEST = {
    "TrainingJobName": "gr00t-asset-0123456789",
    "HyperParameters": {"maxSteps": "20", "engine": "builtin"},
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "InputDataConfig": [
        {"ChannelName": "dataset", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/a/dataset/"}}},
        {"ChannelName": "model_cache", "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-0123456789abcdef0",
                                                                                "FileSystemType": "FSxLustre"}}},
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://b/work/output/", "CompressionType": "NONE"},
    "ResourceConfig": {"InstanceType": "ml.g6e.12xlarge", "InstanceCount": 2, "KeepAlivePeriodInSeconds": 600},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "Environment": {"PYTHONUNBUFFERED": "1"},
    "CheckpointConfig": {"S3Uri": "s3://b/work/checkpoints/", "LocalPath": "/opt/ml/checkpoints"},
}


def test_materialize_downloads_s3_channels_and_notes_what_is_not_emulated(tmp_path):
    downloads = []

    def download(uri, dest):
        downloads.append((uri, dest))
        (dest / "meta").mkdir(parents=True)
        return 1

    job = materialize(REQUEST, "arn:job", download, tmp_path)
    assert downloads == [("s3://b/a/dataset/", tmp_path / "channels" / "dataset")]
    assert job.channels == {"dataset": tmp_path / "channels" / "dataset"}
    assert (job.instance_count, job.instance_type, job.hosts) == (2, "ml.g6e.12xlarge", ["algo-1", "algo-2"])
    assert (job.max_runtime_seconds, job.compress_model, job.output_s3_uri) == (3600, False, "s3://b/work/output/")
    assert job.environment == {"PYTHONUNBUFFERED": "1"} and job.hyperparameters["maxSteps"] == "20"
    notes = " ".join(job.notes)
    assert "fs-0123456789abcdef0" in notes and "warm pool" in notes and "CheckpointConfig" in notes


@pytest.mark.parametrize(
    ("files", "codes", "expected"),
    [
        ({"algo-1": "dataset (preparing the dataset): no episodes"}, {"algo-1": 2},
         "AlgorithmError: dataset (preparing the dataset): no episodes"),
        ({"algo-2": "training: worker crashed"}, {"algo-1": 0, "algo-2": 1}, "AlgorithmError: training: worker crashed"),
        ({}, {"algo-1": 0, "algo-2": 137}, "AlgorithmError: algo-2 exited with code 137; no /opt/ml/output/failure"),
    ],
)
def test_failure_reason_prefers_the_failure_file(tmp_path, files, codes, expected):
    paths = []
    for host in ("algo-1", "algo-2"):
        path = tmp_path / host / "failure"
        path.parent.mkdir()
        if host in files:
            path.write_text(files[host])
        paths.append(path)
    assert failure_reason(paths, codes).startswith(expected)


def test_failure_reason_keeps_sagemakers_1024_characters(tmp_path):
    (tmp_path / "failure").write_text("x" * 5000)
    assert len(failure_reason([tmp_path / "failure"], {"algo-1": 1})) == FAILURE_REASON_LIMIT


def _job(**kw):
    base = dict(name="j1", arn="a", hyperparameters={}, channels={}, instance_count=1, instance_type="ml.g6e.xlarge",
                environment={}, output_s3_uri="s3://b/out/")
    return LocalJob(**{**base, **kw})


@pytest.mark.parametrize("compress", [True, False])
def test_model_dir_goes_where_sagemaker_puts_it(tmp_path, compress):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "w.bin").write_bytes(b"123")
    uploads = {}
    uri = model_artifacts(model, _job(compress_model=compress), lambda path, dest: uploads.setdefault(dest, path))
    if compress:
        assert uri == "s3://b/out/j1/output/model.tar.gz"
        with tarfile.open(uploads[uri]) as tar:
            assert tar.getnames() == ["sub/w.bin"]
    else:
        assert uri == "s3://b/out/j1/output/model/" and list(uploads) == ["s3://b/out/j1/output/model/sub/w.bin"]


def test_empty_or_missing_model_dir_uploads_nothing(tmp_path):
    (tmp_path / "model").mkdir()
    assert model_artifacts(tmp_path / "model", _job(compress_model=False), lambda *a: pytest.fail("no upload")) == ""
    assert model_artifacts(None, _job(), lambda *a: pytest.fail("no upload")) == ""
