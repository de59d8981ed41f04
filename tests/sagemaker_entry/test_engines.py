"""Command lines of the trainer, table by table: N1.5 single-GPU, multi-GPU and 2-node; N1.6; builtin."""

from pathlib import Path

import pytest

from gr00t_core.engines import spec_for
from gr00t_core.resolution import resolve
from sagemaker_entry import engines
from sagemaker_entry.engines import NodeLayout, build_command, node_layout

PY = "/usr/bin/python3"
REPO = Path("/opt/Isaac-GR00T")
DATA = Path("/opt/ml/work/dataset")
OUT = Path("/opt/ml/checkpoints")
MODEL = Path("/opt/ml/sagemaker/warmpoolcache/gr00t-models/nvidia--GR00T-N1.5-3B--main")
REQ = Path("/opt/ml/work/trainer_request.json")


def _config(**overrides):
    values = {"engine": "isaac-gr00t", "instanceType": "ml.g6e.48xlarge", **overrides}
    return resolve(hyperparameters={k: str(v) for k, v in values.items()}).values


def _layout(config, hosts, current, gpus):
    return node_layout(engine=config["engine"], num_gpus_param=config["numGpus"], gpus_visible=gpus, hosts=hosts,
                       current_host=current, master_addr=hosts[0], master_port=7777, network_interface="eth0")


N15_TAIL = [
    "--dataset-path", str(DATA), "--output-dir", str(OUT), "--data-config", "so100_dualcam", "--batch-size", "32",
    "--max-steps", "6000", "--num-gpus", "{gpus}", "--save-steps", "2000", "--base-model-path", str(MODEL),
    "--no-tune-llm", "--no-tune-visual", "--tune-projector", "--tune-diffusion-model", "--no-resume",
    "--learning-rate", "0.0001", "--weight-decay", "1e-05", "--warmup-ratio", "0.05", "--lora-rank", "0",
    "--lora-alpha", "16", "--lora-dropout", "0.1", "--dataloader-num-workers", "8", "--gradient-accumulation-steps", "1",
    "--report-to", "tensorboard", "--embodiment-tag", "new_embodiment", "--video-backend", "torchvision_av",
]


@pytest.mark.parametrize(
    "num_gpus,hosts,current,torchrun,env",
    [
        # single GPU, one node: torchrun on loopback, IS_TORCHRUN so the script does not re-launch itself
        (1, ["algo-1"], "algo-1",
         ["--nproc_per_node=1", "--nnodes=1", "--node_rank=0", "--master_addr=127.0.0.1", "--master_port=7777"],
         {"IS_TORCHRUN": "1"}),
        # 8 GPUs, one node
        (8, ["algo-1"], "algo-1",
         ["--nproc_per_node=8", "--nnodes=1", "--node_rank=0", "--master_addr=127.0.0.1", "--master_port=7777"],
         {"IS_TORCHRUN": "1"}),
        # 2 nodes x 8 GPUs, seen from the second node: master is hosts[0], NCCL on the job's interface
        (8, ["algo-2", "algo-1"], "algo-2",
         ["--nproc_per_node=8", "--nnodes=2", "--node_rank=1", "--master_addr=algo-1", "--master_port=7777"],
         {"IS_TORCHRUN": "1", "NCCL_SOCKET_IFNAME": "eth0", "GLOO_SOCKET_IFNAME": "eth0"}),
    ],
)
def test_n15_argv_and_env(num_gpus, hosts, current, torchrun, env):
    config = _config(numGpus=num_gpus)
    layout = _layout(config, sorted(hosts), current, gpus=num_gpus)
    cmd = build_command(config, python=PY, layout=layout, dataset_dir=DATA, output_dir=OUT, base_model_dir=MODEL,
                        resume=False, gr00t_repo=REPO, request_file=REQ)
    tail = [t.replace("{gpus}", str(num_gpus)) for t in N15_TAIL]
    assert cmd.argv == [PY, "-m", "torch.distributed.run", *torchrun, str(REPO / "scripts/gr00t_finetune.py"), *tail]
    assert cmd.env == {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", **env}


def test_n15_booleans_lora_and_resume():
    config = _config(tuneLlm="true", tuneDiffusionModel="false", loraRank=32, loraAlpha=64, learningRate="3e-5")
    args = engines.gr00t_n15_args(config, dataset_dir=DATA, output_dir=OUT, base_model_dir=MODEL, num_gpus=1, resume=True)
    assert "--tune-llm" in args and "--no-tune-diffusion-model" in args and "--resume" in args
    assert "True" not in args and "False" not in args  # tyro booleans are flags, never values
    assert args[args.index("--lora-rank") + 1] == "32" and args[args.index("--lora-alpha") + 1] == "64"
    assert args[args.index("--learning-rate") + 1] == "3e-05"


def test_n16_uses_launch_finetune_with_a_global_batch():
    config = _config(baseModelPath="nvidia/GR00T-N1.6-3B", numGpus=4, batchSize=8, instanceType="ml.g6e.12xlarge")
    layout = _layout(config, ["algo-1", "algo-2"], "algo-1", gpus=4)
    cmd = build_command(config, python=PY, layout=layout, dataset_dir=DATA, output_dir=OUT, base_model_dir=MODEL,
                        resume=True, gr00t_repo=REPO, request_file=REQ)
    i = cmd.argv.index(str(REPO / "gr00t/experiment/launch_finetune.py"))
    args = cmd.argv[i + 1:]
    # experiment.py: per-device batch = global_batch_size // num_gpus (this node's GPUs): 8 per GPU x 4 GPUs
    assert args[args.index("--global-batch-size") + 1] == "32"
    assert args[args.index("--embodiment-tag") + 1] == "NEW_EMBODIMENT"
    assert args[args.index("--num-gpus") + 1] == "4"
    for removed in ("--data-config", "--batch-size", "--lora-rank", "--report-to", "--video-backend", "--resume"):
        assert removed not in args
    assert "IS_TORCHRUN" not in cmd.env and cmd.env["NCCL_SOCKET_IFNAME"] == "eth0"


@pytest.mark.parametrize(
    "gpus,override,expected",
    [(0, None, 1), (0, 2, 2), (4, None, 1), (4, 3, 3)],  # builtin: 1 per node on CPU, numGpus (1) on GPUs
)
def test_builtin_process_count(gpus, override, expected):
    config = _config(engine="builtin")
    layout = node_layout(engine="builtin", num_gpus_param=config["numGpus"], gpus_visible=gpus, hosts=["algo-1"],
                         current_host="algo-1", master_addr="algo-1", master_port=7777, network_interface="eth0",
                         nproc_override=override)
    assert layout.nproc_per_node == expected
    cmd = build_command(config, python=PY, layout=layout, dataset_dir=DATA, output_dir=OUT, base_model_dir=None,
                        resume=False, gr00t_repo=REPO, request_file=REQ)
    assert cmd.argv[-4:] == ["-m", "sagemaker_entry.builtin.train", "--request", str(REQ)]
    assert "IS_TORCHRUN" not in cmd.env


def test_secrets_are_redacted_in_printed_env():
    cmd = engines.Command(["x"], {"HF_TOKEN": "hf_abc", "MY_SECRET": "s", "AWS_SECRET_ACCESS_KEY": "k", "IS_TORCHRUN": "1",
                                  "TOKENIZERS_PARALLELISM": "false", "WANDB_API_KEY": "w"})
    assert cmd.printable()["env"] == {"HF_TOKEN": "***", "MY_SECRET": "***", "AWS_SECRET_ACCESS_KEY": "***", "IS_TORCHRUN": "1",
                                      "TOKENIZERS_PARALLELISM": "false", "WANDB_API_KEY": "***"}


def test_world_size():
    assert NodeLayout(8, 2, 0, "algo-1", 7777).world_size == 16


@pytest.mark.parametrize(
    "engine,base_model,expected",
    [
        # N1.5 reports to tensorboard without a logging_dir: transformers 4.x writes <output_dir>/runs/
        ("isaac-gr00t", "nvidia/GR00T-N1.5-3B", OUT / "runs"),
        # N1.6/N1.7 report to wandb or nothing: no events to copy
        ("isaac-gr00t", "nvidia/GR00T-N1.6-3B", None),
        ("isaac-gr00t", "nvidia/GR00T-N1.7-3B", None),
        # the builtin engine writes into the TensorBoard folder itself
        ("builtin", "nvidia/GR00T-N1.5-3B", None),
    ],
)
def test_where_each_engine_leaves_tensorboard_events_for_the_entry_to_copy(engine, base_model, expected):
    generation = spec_for({"engine": engine, "baseModelPath": base_model}).generation
    assert engines.trainer_tensorboard_dir(engine, generation, OUT) == expected
    if expected is not None:  # and the argv asks the trainer for them
        config = _config(engine=engine, baseModelPath=base_model)
        argv = build_command(config, python=PY, layout=_layout(config, ["algo-1"], "algo-1", gpus=1), dataset_dir=DATA,
                             output_dir=OUT, base_model_dir=MODEL, resume=False, gr00t_repo=REPO, request_file=REQ).argv
        assert argv[argv.index("--report-to") + 1] == "tensorboard" and argv[argv.index("--output-dir") + 1] == str(OUT)
