"""``--print-command`` wires the contract to the engines: what it prints for a 2-node N1.5 job, with no side effects."""

import json

from sagemaker_entry.main import main
from tests.entry_jobs import make_job


def _bare_dataset(root):
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text("{}")
    return root


def test_print_command_for_a_two_node_n15_job(tmp_path, capsys):
    job = make_job(tmp_path, _bare_dataset(tmp_path / "ds"), endpoint="http://127.0.0.1:9",
                   parameters={"engine": "isaac-gr00t", "numGpus": 4, "instanceType": "ml.g6e.12xlarge", "instanceCount": 2})
    (job.checkpoints / "checkpoint-20").mkdir(parents=True)
    (job.checkpoints / "checkpoint-20" / "trainer_state.json").write_text("{}")
    (job.checkpoints / "checkpoint-30").mkdir()  # torn: would be removed by a real run, not by a dry one
    env = {**job.env, "SM_HOSTS": '["algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-2", "SM_NUM_GPUS": "4",
           "SM_NETWORK_INTERFACE_NAME": "eth1", "SM_MASTER_PORT": "7777", "GR00T_SM_NPROC_PER_NODE": "",
           "HF_TOKEN": "hf_should_not_show", "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY": str(tmp_path / "wp")}
    assert main(["--print-command"], environ=env) == 0
    printed = json.loads(capsys.readouterr().out)
    argv, added = printed["argv"], printed["env"]
    assert argv[:8] == [env["GR00T_SM_GR00T_PYTHON"], "-m", "torch.distributed.run", "--nproc_per_node=4", "--nnodes=2",
                        "--node_rank=1", "--master_addr=algo-1", "--master_port=7777"]
    assert argv[8].endswith("scripts/gr00t_finetune.py")
    assert argv[argv.index("--num-gpus") + 1] == "4" and "--resume" in argv
    assert argv[argv.index("--base-model-path") + 1].startswith(str(tmp_path / "wp" / "gr00t-models"))
    assert added == {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1",
                     "IS_TORCHRUN": "1", "NCCL_SOCKET_IFNAME": "eth1", "GLOO_SOCKET_IFNAME": "eth1"}
    assert "hf_should_not_show" not in json.dumps(printed)
    assert (job.checkpoints / "checkpoint-30").exists() and not (job.base / "work").exists() and not job.failure.exists()
