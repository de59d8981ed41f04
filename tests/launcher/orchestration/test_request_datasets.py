"""The launch request carries every dataset of datasetPath and a module:Class data config's file into the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.orchestration.limits import request_problems
from sagemaker_entry.engines import build_command
from tests.aws_env import ASSET_BUCKET, ASSET_ROOT
from tests.requests_util import request_for, send_through_stubber
from tests.sagemaker_entry.test_engines import MODEL, OUT, PY, REPO, REQ, _config, _layout


def _s3(channel: dict) -> str:
    return channel["DataSource"]["S3DataSource"]["S3Uri"]


def test_one_channel_per_dataset_the_first_keeps_the_name_dataset() -> None:
    r = request_for({"datasetPath": ["recordings/monday", "recordings/tuesday", "sim"]})
    channels = {c["ChannelName"]: _s3(c) for c in r["InputDataConfig"]}
    base = f"s3://{ASSET_BUCKET}/{ASSET_ROOT}"
    assert channels == {"dataset": f"{base}recordings/monday/", "dataset_2": f"{base}recordings/tuesday/",
                        "dataset_3": f"{base}sim/"}
    assert r["HyperParameters"]["datasetPath"] == "recordings/monday,recordings/tuesday,sim"
    send_through_stubber(r)  # the CreateTrainingJob service model accepts it
    assert request_problems(r) == []


def test_a_custom_data_config_module_travels_in_its_own_channel() -> None:
    r = request_for({"dataConfig": "my_robot_config:MyRobotConfig"})
    channels = {c["ChannelName"]: _s3(c) for c in r["InputDataConfig"]}
    assert channels["data_config"] == f"s3://{ASSET_BUCKET}/{ASSET_ROOT}my_robot_config.py"
    send_through_stubber(r)


def test_n15_gets_every_dataset_the_module_config_and_its_python_path(tmp_path: Path) -> None:
    config = _config(dataConfig="my_robot_config:MyRobotConfig")
    layout = _layout(config, ["algo-1"], "algo-1", gpus=1)
    channel = tmp_path / "input/data/data_config"
    cmd = build_command(config, python=PY, layout=layout, dataset_dir=Path("/w/dataset"), output_dir=OUT,
                        base_model_dir=MODEL, resume=False, gr00t_repo=REPO, request_file=REQ,
                        more_dataset_dirs=[Path("/w/dataset_2")], python_path=channel)
    argv = cmd.argv
    at = argv.index("--dataset-path")
    assert argv[at + 1 : at + 4] == ["/w/dataset", "/w/dataset_2", "--output-dir"]
    assert argv[argv.index("--data-config") + 1] == "my_robot_config:MyRobotConfig"
    assert cmd.env["PYTHONPATH"].split(":")[0] == str(channel)


def test_n16_refuses_several_datasets() -> None:
    config = _config(baseModelPath="nvidia/GR00T-N1.6-3B")
    with pytest.raises(ValueError, match="trains on one dataset"):
        build_command(config, python=PY, layout=_layout(config, ["algo-1"], "algo-1", gpus=1), dataset_dir=Path("/w/d"),
                      output_dir=OUT, base_model_dir=MODEL, resume=False, gr00t_repo=REPO, request_file=REQ,
                      more_dataset_dirs=[Path("/w/d2")])
