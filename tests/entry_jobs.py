"""A SageMaker training job laid out in temporary folders, for running ``python -m sagemaker_entry`` as a plain
process: /opt/ml files under a base folder, SM_* variables pointing at them, S3 on a moto server on loopback.

Used by the end-to-end tests and by benchmarks/bench_entry.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_core.naming import output_folder_name
from gr00t_core.resolution import PROVENANCE_HYPERPARAMETER, resolve
from gr00t_core.run import RunIdentity

REPO_ROOT = Path(__file__).resolve().parents[1]
BUCKET = "vams-assets"
FILES_URI = f"s3://{BUCKET}/pipelines/gr00t/job-1/output/exec-1/files/"
METADATA_URI = f"s3://{BUCKET}/pipelines/gr00t/job-1/output/exec-1/metadata/"
PREVIEW_URI = f"s3://{BUCKET}/pipelines/gr00t/job-1/output/exec-1/previews/"
JOB_NAME = "gr00t-asset-1-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """A moto server in its own process on loopback (benchmarks: its CPU work stays out of the measuring
    process's interpreter lock); returns the process and its endpoint URL once it answers."""
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)  # noqa: S310 - loopback
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    }


@dataclass
class Job:
    base: Path  # the /opt/ml stand-in
    channel: Path  # the dataset channel
    env: dict[str, str]
    identity: RunIdentity
    hyperparameters: dict[str, str] = field(default_factory=dict)

    @property
    def checkpoints(self) -> Path:
        return self.base / "checkpoints"

    @property
    def failure(self) -> Path:
        return self.base / "output" / "failure"

    def run(self, *args: str, timeout: float = 600, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sagemaker_entry", *args], env={**self.env, **(extra_env or {})}, cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "sagemaker_entry", *args], env=self.env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )


def make_job(
    root: Path, dataset: Path | None, *, endpoint: str, parameters: dict[str, Any] | None = None,
    identity: dict[str, str] | None = None, channels: tuple[str, ...] = ("dataset",), extra_env: dict[str, str] | None = None,
) -> Job:
    """Lay out /opt/ml under ``root/opt_ml``; ``dataset`` becomes the (read-only) dataset channel."""
    base = root / "opt_ml"
    config_dir = base / "input" / "config"
    config_dir.mkdir(parents=True)
    params = {"engine": "builtin", "instanceType": "local_cpu", "maxSteps": 4, "saveSteps": 2, "batchSize": 4,
              "dataloaderNumWorkers": 0, "evalEpisodes": 1, **(parameters or {})}
    resolved = resolve(run={k: str(v) for k, v in params.items()})
    run_identity = RunIdentity(
        asset_id="asset-1", database_id="db-1", output_files_uri=FILES_URI, output_metadata_uri=METADATA_URI,
        output_preview_uri=PREVIEW_URI, output_folder=output_folder_name(resolved["baseModelPath"], JOB_NAME),
        **(identity or {}),
    )
    hps = {**resolved.to_strings(), **run_identity.to_hyperparameters(), PROVENANCE_HYPERPARAMETER: resolved.provenance_json()}
    (config_dir / "hyperparameters.json").write_text(json.dumps(hps))
    (config_dir / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "lo"}))
    (config_dir / "inputdataconfig.json").write_text(json.dumps({c: {"TrainingInputMode": "File"} for c in channels}))
    channel = base / "input" / "data" / "dataset"
    if dataset is not None and "dataset" in channels:
        channel.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dataset, channel)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_", "SAGEMAKER_", "GR00T_SM_", "HF_"))
    }
    env.update(aws_env(endpoint))
    env.update({
        "SAGEMAKER_BASE_DIR": str(base), "SM_NUM_GPUS": "0", "TRAINING_JOB_NAME": JOB_NAME,
        "GR00T_SM_NPROC_PER_NODE": "2", "GR00T_SM_GR00T_REPO": str(root / "no-gr00t"),
        "GR00T_SM_GR00T_PYTHON": str(root / "no-gr00t" / "python"), "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "OMP_NUM_THREADS": "1", "SM_MASTER_PORT": str(free_port()),
        **(extra_env or {}),
    })
    return Job(base, channel, env, run_identity, hps)


def read_only(folder: Path) -> list[tuple[str, int]]:
    """Make a folder tree read-only (as an FSx/EFS ``ro`` channel is); returns its listing to compare later."""
    listing = []
    for path in sorted(folder.rglob("*")):
        listing.append((str(path.relative_to(folder)), path.stat().st_size if path.is_file() else -1))
    for path in [*sorted(folder.rglob("*"), reverse=True), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return listing


def writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
