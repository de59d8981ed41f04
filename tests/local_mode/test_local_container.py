"""``gr00t-sm local`` with the container runner: SageMaker SDK local mode running the project's image.

One container, and two (instanceCount 2: torchrun across algo-1 and algo-2 on CPU, one set of outputs).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from local_mode.docker_env import SDK_NETWORK, network_exists
from tests.local_mode.assets import REPO_ROOT, SHORT_RUN, make_asset, run_local_cli

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _containers_of(image: str) -> list[str]:
    proc = subprocess.run(["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True)
    return proc.stdout.split()


def _kept_job_log(kept) -> str:
    return (kept / "_logs" / "job.log").read_text()


def test_one_container_job_succeeds_and_leaves_nothing_behind(training_image, tmp_path):
    asset = make_asset(tmp_path / "asset", SHORT_RUN)
    run = run_local_cli(str(asset), "--runner", "container", "--keep", str(tmp_path / "kept"))
    assert run.code == 0, run.out[-4000:] + run.err[-4000:]
    assert "State machine: SUCCEEDED (runner: container)" in run.out
    assert re.search(r"(✓|ok) image\s+gr00t-sm-train:[0-9a-f]{16}", run.out)
    (folder,) = [p for p in asset.iterdir() if p.name.startswith("gr00tOutput_")]
    summary = json.loads((folder / "run_summary.json").read_text())
    assert summary["global_step"] == 6 and summary["instance"]["hosts"] == 1
    log = _kept_job_log(tmp_path / "kept")
    assert "algo-1 | " in log and "algo-2 | " not in log
    assert _containers_of(training_image) == [] and not network_exists(SDK_NETWORK)


def test_two_instances_train_as_one_torchrun_job_with_one_set_of_outputs(training_image, tmp_path):
    asset = make_asset(tmp_path / "asset", {**SHORT_RUN, "instanceCount": 2}, episodes=4)
    run = run_local_cli(str(asset), "--runner", "container", "--keep", str(tmp_path / "kept"))
    assert run.code == 0, run.out[-4000:] + run.err[-4000:]
    assert "on 2 container(s)" in run.out

    log = _kept_job_log(tmp_path / "kept")
    # both hosts started a trainer and finished training: with --nnodes=2 torchrun's rendezvous at algo-1 only
    # lets training start once both nodes joined, so neither finishes alone
    for host in ("algo-1", "algo-2"):
        assert re.search(rf"^{host} \| \[gr00t-sm\] trainer started pid=", log, re.M), f"{host} started no trainer"
        assert re.search(rf"^{host} \| \[gr00t-sm\] phase=training seconds=", log, re.M), f"{host} did not train"

    (folder,) = [p for p in asset.iterdir() if p.name.startswith("gr00tOutput_")]
    summary = json.loads((folder / "run_summary.json").read_text())
    assert summary["instance"]["hosts"] == 2 and summary["global_step"] == 6
    assert json.loads((folder / "train_result.json").read_text())["world_size"] == 2  # one DDP job over both hosts
    # one set of outputs: each checkpoint once, written by the leader only
    kept_files = [p for p in (tmp_path / "kept" / "vams-local-assets").rglob("*") if p.is_file()]
    assert len([p for p in kept_files if p.name == "run_summary.json"]) == 1
    assert re.search(r"^algo-2 \| \[gr00t-sm\] follower host finished", log, re.M)
    assert _containers_of(training_image) == [] and not network_exists(SDK_NETWORK)


def test_sigterm_mid_training_removes_the_containers_and_the_network(training_image, tmp_path):
    """ModelTrainer.train swallows KeyboardInterrupt (its telemetry wrapper returns from ``finally``): local mode
    must still stop, clean up and exit 130 rather than report the job as completed."""
    asset = make_asset(tmp_path / "asset", {**SHORT_RUN, "maxSteps": 400, "saveSteps": 400})
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "local", str(asset), "--runner", "container"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "training   step" in line:
            break
    assert _containers_of(training_image), "the job's container should be running"
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=180)[0]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "State machine: SUCCEEDED" not in rest and "gr00t-sm: interrupted" in rest
    assert _containers_of(training_image) == [] and not network_exists(SDK_NETWORK)
