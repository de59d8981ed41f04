"""The training image: what goes into it, that it builds offline on the Debian base, and that it starts the entry."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from gr00t_data.synthetic import generate_dataset
from local_mode import docker_env
from local_mode.emulator import AwsEmulator
from local_mode.image import DOCKERFILE, REPO_ROOT, content_hash, context_paths


def _copy_sources() -> list[str]:
    """Every path the Dockerfile COPYs from the build context."""
    sources = []
    for line in (REPO_ROOT / DOCKERFILE).read_text().splitlines():
        match = re.match(r"^COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if match:
            sources += match.group(1).split()
    return sources


def test_every_copied_path_is_in_the_build_context():
    allowed = context_paths()
    for source in _copy_sources():
        assert any(source.rstrip("/") == a or source.startswith(a.rstrip("/") + "/") for a in allowed), source
    # and the context holds nothing the image does not use (it is uploaded on every build)
    assert set(allowed) <= {s.rstrip("/") for s in _copy_sources()}


def test_image_tag_changes_with_the_sources(tmp_path):
    repo = tmp_path / "repo"
    (repo / "container").mkdir(parents=True)
    (repo / "container" / "Dockerfile").write_text("FROM x\n")
    (repo / ".dockerignore").write_text("*\n!pkg\n!requirements.txt\n**/__pycache__\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "a.py").write_text("A = 1\n")
    (repo / "requirements.txt").write_text("numpy==2\n")
    first = content_hash(repo, "sha256:base")
    (repo / "pkg" / "__pycache__").mkdir()
    (repo / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    (repo / "notes.txt").write_text("outside the context")
    assert content_hash(repo, "sha256:base") == first
    (repo / "pkg" / "a.py").write_text("A = 2\n")
    assert content_hash(repo, "sha256:base") != first
    assert content_hash(repo, "sha256:other") != content_hash(repo, "sha256:base")


def test_dockerfile_production_path_pins_isaac_gr00t_n15():
    text = (REPO_ROOT / DOCKERFILE).read_text()
    assert "ARG BASE_IMAGE=" in text and "ARG INSTALL_GR00T=false" in text
    assert "GR00T_COMMIT=4af2b622892f7dcb5aae5a3fb70bcb02dc217b96" in text
    assert 'pip install -e ".[base]"' in text and "flash-attn==" in text
    assert 'ENTRYPOINT ["/usr/local/bin/train"]' in text


@pytest.mark.docker
def test_image_runs_the_entry_for_train_and_for_no_argument(training_image, tmp_path):
    inspect = json.loads(subprocess.run(["docker", "image", "inspect", training_image], capture_output=True, text=True, check=True).stdout)[0]
    assert inspect["Config"]["Entrypoint"] == ["/usr/local/bin/train"]
    size_gb = inspect["Size"] / 1e9
    assert size_gb < 2.5, f"the CPU image grew to {size_gb:.2f} GB"

    # --print-command with a minimal job layout: what SageMaker would start, in the container
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    generate_dataset(tmp_path / "input" / "data" / "dataset", episodes=2, frames_per_episode=20)
    hps = {"engine": "builtin", "maxSteps": "4", "saveSteps": "2", "outputS3AssetFilesPath": "s3://b/files/",
           "outputFolderName": "gr00tOutput_x_trainingjob_20260101T000000_abc"}
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))
    (config / "inputdataconfig.json").write_text(json.dumps({"dataset": {"TrainingInputMode": "File"}}))
    mount = ["-v", f"{tmp_path / 'input'}:/opt/ml/input"]
    for args in (["train", "--print-command"], ["--print-command"]):
        proc = subprocess.run(["docker", "run", "--rm", *mount, training_image, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        command = json.loads(proc.stdout[proc.stdout.index("{"):])
        argv = command["argv"]
        assert argv[0].startswith("/opt/venv/") and argv[1:3] == ["-m", "torch.distributed.run"]
        assert "--nnodes=1" in argv and argv[argv.index("-m", 3) + 1] == "sagemaker_entry.builtin.train"

    # no argument at all (SDK local mode) and no job files: the entry starts and explains, exit code non-zero
    proc = subprocess.run(["docker", "run", "--rm", training_image], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "dataset" in (proc.stdout + proc.stderr)


@pytest.mark.docker
def test_containers_reach_the_emulator_on_the_sdk_network(docker_status, training_image):
    """Training containers talk to moto on the host: through the docker bridge's gateway address."""
    host = docker_env.host_address_for_containers(docker_status)
    network = f"gr00t-sm-test-{id(host)}"
    subprocess.run(["docker", "network", "create", network], capture_output=True, check=True)
    try:
        with AwsEmulator(container_host=host) as emu:
            emu.client("s3").create_bucket(Bucket="reach-test")
            env = emu.env(for_containers=True)
            script = "import boto3; print(sorted(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']))"
            proc = subprocess.run(
                ["docker", "run", "--rm", "--network", network, *sum((["-e", f"{k}={v}"] for k, v in env.items()), []),
                 "--entrypoint", "python", training_image, "-c", script],
                capture_output=True, text=True, timeout=120,
            )
            assert proc.returncode == 0, proc.stderr[-2000:]
            assert "['reach-test']" in proc.stdout
    finally:
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


@pytest.mark.docker
def test_a_finished_follower_waits_for_the_leader_in_multi_container_local_mode(training_image, tmp_path):
    """docker compose stops all containers when the first exits: a follower must not exit before the leader."""
    generate_dataset(tmp_path / "dataset", episodes=2, frames_per_episode=20)
    hps = {"engine": "builtin", "maxSteps": "4", "saveSteps": "2", "outputS3AssetFilesPath": "s3://b/files/",
           "outputFolderName": "gr00tOutput_x_trainingjob_20260101T000000_abc"}

    def start(host: str) -> str:
        env = {"GR00T_SM_FOLLOWERS_WAIT": "1", "SM_CURRENT_HOST": host, "SM_HOSTS": json.dumps(["algo-1", "algo-2"]),
               "SM_HPS": json.dumps(hps), "SM_CHANNEL_DATASET": "/data"}
        args = sum((["-e", f"{k}={v}"] for k, v in env.items()), [])
        proc = subprocess.run(["docker", "run", "-d", *args, "-v", f"{tmp_path / 'dataset'}:/data", training_image, "--print-command"],
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip()

    leader, follower = start("algo-1"), start("algo-2")
    try:
        leader_code = subprocess.run(["docker", "wait", leader], capture_output=True, text=True, timeout=120).stdout.strip()
        assert leader_code == "0"
        deadline_logs = ""
        for _ in range(60):  # the follower printed its command and now waits
            deadline_logs = subprocess.run(["docker", "logs", follower], capture_output=True, text=True).stdout
            if "waiting for the leader" in deadline_logs:
                break
            subprocess.run(["sleep", "1"])
        assert "follower host finished; waiting for the leader host" in deadline_logs
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", follower], capture_output=True, text=True).stdout
        assert state.strip() == "true"
        subprocess.run(["docker", "stop", "-t", "20", follower], capture_output=True, check=True, timeout=60)  # compose's abort
        code = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", follower], capture_output=True, text=True).stdout
        assert code.strip() == "0"  # the follower's own result: success
    finally:
        subprocess.run(["docker", "rm", "-f", leader, follower], capture_output=True)
