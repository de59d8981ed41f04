"""The local runners give the entry the SageMaker contract it reads on a real job."""

from __future__ import annotations

import json

import pytest

from local_mode.job import LocalJob
from local_mode.runners import ProcessRunner, split_compose_line
from sagemaker_entry.contract import read_training_env

EMULATOR_ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


def _job(tmp_path, count=2) -> LocalJob:
    dataset = tmp_path / "channels" / "dataset"
    dataset.mkdir(parents=True)
    return LocalJob(name="gr00t-a-1", arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/gr00t-a-1",
                    hyperparameters={"maxSteps": "5", "outputFolderName": "gr00tOutput_x"}, channels={"dataset": dataset},
                    instance_count=count, instance_type="ml.g6e.12xlarge", environment={"PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize("host", ["algo-1", "algo-2"])
def test_process_runner_layout_reads_back_as_the_jobs_contract(tmp_path, host):
    job = _job(tmp_path)
    runner = ProcessRunner(EMULATOR_ENV)
    base = tmp_path / "hosts" / host
    runner.write_layout(job, host, base)
    env = runner.host_env(job, host, base, master_port=29511)
    contract = read_training_env(env)
    assert contract.hosts == ("algo-1", "algo-2") and contract.current_host == host
    assert contract.is_master == (host == "algo-1")
    assert contract.hyperparameters == job.hyperparameters
    assert contract.channels["dataset"] == base / "input" / "data" / "dataset"
    assert (contract.channels["dataset"] / ".").resolve() == job.channels["dataset"].resolve()
    assert (contract.master_addr, contract.master_port, contract.network_interface) == ("127.0.0.1", 29511, "lo")
    assert contract.instance_type == "ml.g6e.12xlarge" and contract.job_name == "gr00t-a-1"
    assert contract.checkpoint_dir == base / "checkpoints" and contract.failure_file == base / "output" / "failure"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1" and env["PYTHONUNBUFFERED"] == "1"
    # The files alone (a plain BYOC container gets no SM_* variables) say the same.
    files_only = read_training_env({"SAGEMAKER_BASE_DIR": str(base)})
    assert files_only.hosts == contract.hosts and files_only.current_host == host
    assert files_only.hyperparameters == job.hyperparameters
    assert json.loads((base / "input" / "config" / "inputdataconfig.json").read_text()) == {
        "dataset": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}}


def test_process_runner_reports_the_entrys_failure_reason(tmp_path):
    job = _job(tmp_path, count=1)  # an empty dataset channel: the entry stops in its first phase
    lines = []
    result = ProcessRunner(EMULATOR_ENV).run(job, tmp_path / "job", lambda host, line: lines.append((host, line)))
    assert result.status == "Failed" and result.exit_codes["algo-1"] != 0
    assert result.failure_reason.startswith("AlgorithmError: ")
    assert result.failure_reason[len("AlgorithmError: "):] == (tmp_path / "job" / "hosts" / "algo-1" / "output" / "failure").read_text().strip()
    assert lines and all(host == "algo-1" for host, _ in lines)
    assert result.log_file.read_text().count("algo-1 | ") == len(lines)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[33malgo-1-abcde_1  |\x1b[0m [gr00t-sm] phase=model seconds=0.1", ("algo-1", "[gr00t-sm] phase=model seconds=0.1")),
        ("sm-gr00t-x_algo-2_1  | {'loss': 0.5}", ("algo-2", "{'loss': 0.5}")),
        ("algo-1-1  | hello | world", ("algo-1", "hello | world")),
        ("Creating network \"sagemaker-local\" with the default driver", ("compose", "Creating network \"sagemaker-local\" with the default driver")),
        ("Aborting on container exit...\n", ("compose", "Aborting on container exit...")),
    ],
)
def test_compose_lines_are_split_by_host(raw, expected):
    assert split_compose_line(raw) == expected
