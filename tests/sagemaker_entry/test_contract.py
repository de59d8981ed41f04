"""The SageMaker contract: SM_* variables first, /opt/ml files as fallback, clear errors for broken input."""

import json
from pathlib import Path

import pytest

from gr00t_core.errors import ConfigError
from sagemaker_entry.contract import count_gpus, hyperparameter_string, read_training_env


def _write(base, name, data):
    path = base / "input" / "config" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_plain_byoc_job_reads_the_opt_ml_files(tmp_path):
    _write(tmp_path, "hyperparameters.json", {"maxSteps": "10", "engine": "builtin"})
    _write(tmp_path, "resourceconfig.json", {"current_host": "algo-2", "hosts": ["algo-2", "algo-1"],
                                             "network_interface_name": "ens5", "current_instance_type": "ml.g6e.12xlarge"})
    _write(tmp_path, "inputdataconfig.json", {"dataset": {"TrainingInputMode": "File"}, "model_cache": {"TrainingInputMode": "File"}})
    (tmp_path / "input" / "data" / "dataset").mkdir(parents=True)
    env = read_training_env({"TRAINING_JOB_NAME": "job-1"}, base_dir=tmp_path)
    assert env.hyperparameters == {"maxSteps": "10", "engine": "builtin"}
    assert env.hosts == ("algo-1", "algo-2") and env.current_host == "algo-2" and env.host_rank == 1 and not env.is_master
    assert env.master_addr == "algo-1" and env.master_port == 7777 and env.network_interface == "ens5"
    assert env.instance_type == "ml.g6e.12xlarge"
    assert env.channels == {"dataset": tmp_path / "input/data/dataset", "model_cache": tmp_path / "input/data/model_cache"}
    assert env.checkpoint_dir == tmp_path / "checkpoints" and env.failure_file == tmp_path / "output" / "failure"
    assert env.tensorboard_dir == tmp_path / "output" / "tensorboard"
    assert env.job_name == "job-1" and env.warmpool_cache_dir is None


def test_sm_variables_win_over_files(tmp_path):
    _write(tmp_path, "hyperparameters.json", {"maxSteps": "10"})
    _write(tmp_path, "resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})
    environ = {
        "SAGEMAKER_BASE_DIR": str(tmp_path),
        "SM_HPS": json.dumps({"maxSteps": 20, "tuneLlm": True, "dataConfig": '"so100"', "gr00tProvenance": {"maxSteps": "file"}}),
        "SM_HOSTS": '["algo-1","algo-2"]', "SM_CURRENT_HOST": "algo-1", "SM_NUM_GPUS": "4",
        "SM_CHANNEL_DATASET": str(tmp_path / "elsewhere"), "SM_OUTPUT_DIR": str(tmp_path / "out"),
        "SM_MASTER_PORT": "29500", "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY": str(tmp_path / "wp"),
        "GR00T_SM_CHECKPOINT_DIR": str(tmp_path / "ck"), "GR00T_SM_NPROC_PER_NODE": "2",
    }
    env = read_training_env(environ)
    # SM_HPS holds decoded JSON values: they come back as the strings the launcher wrote
    assert env.hyperparameters == {"maxSteps": "20", "tuneLlm": "true", "dataConfig": "so100",
                                   "gr00tProvenance": '{"maxSteps":"file"}'}
    assert env.hosts == ("algo-1", "algo-2") and env.num_gpus == 4 and env.master_port == 29500
    assert env.channels["dataset"] == tmp_path / "elsewhere"
    assert env.failure_file == tmp_path / "out" / "failure"
    # TensorBoardOutputConfig.LocalPath is a fixed path under /opt/ml, not under SM_OUTPUT_DIR
    assert env.tensorboard_dir == tmp_path / "output" / "tensorboard"
    assert env.warmpool_cache_dir == tmp_path / "wp" and env.checkpoint_dir == tmp_path / "ck" and env.nproc_override == 2


def test_tensorboard_folder_is_where_the_launched_request_says():
    from launcher.orchestration.request import TENSORBOARD_LOCAL_PATH

    assert read_training_env({}).tensorboard_dir == Path(TENSORBOARD_LOCAL_PATH) == Path("/opt/ml/output/tensorboard")


def test_nothing_at_all_gives_a_single_local_host(tmp_path):
    env = read_training_env({}, base_dir=tmp_path)
    assert env.hyperparameters == {} and env.hosts == ("algo-1",) and env.channels == {}


@pytest.mark.parametrize(
    "files,environ,match",
    [
        ({"hyperparameters.json": "{not json"}, {}, "hyperparameters.json is not valid JSON"),
        ({"hyperparameters.json": "[1, 2]"}, {}, "must hold a JSON object of hyperparameters"),
        ({}, {"SM_HPS": "{"}, "SM_HPS is not valid JSON"),
        ({"resourceconfig.json": {"current_host": "algo-9", "hosts": ["algo-1"]}}, {}, "algo-9.*not in the job's host list"),
        ({}, {"SM_NUM_GPUS": "many"}, "SM_NUM_GPUS must be an integer"),
    ],
)
def test_unreadable_input_is_a_user_error(tmp_path, files, environ, match):
    for name, data in files.items():
        _write(tmp_path, name, data)
    with pytest.raises(ConfigError, match=match):
        read_training_env(environ, base_dir=tmp_path)


def test_gpu_count_from_driver_folders(tmp_path):
    for i in range(2):
        (tmp_path / "driver" / "nvidia" / "gpus" / f"0000:0{i}:00.0").mkdir(parents=True)
    assert count_gpus({}, proc_root=tmp_path) == 2
    assert count_gpus({}, proc_root=tmp_path / "none") == 0


@pytest.mark.parametrize("raw,text", [("x", "x"), ('"x"', "x"), (3, "3"), (False, "false"), ([1], "[1]"), ('"[1"', "[1"), ('"a\\"', '"a\\"')])
def test_hyperparameter_strings(raw, text):
    assert hyperparameter_string(raw) == text
