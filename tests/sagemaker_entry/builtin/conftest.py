"""Shared fixtures: small synthetic LeRobot datasets (real mp4s) and a tiny model so each training takes seconds."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from gr00t_data.prepare import prepare_dataset
from gr00t_data.synthetic import generate_dataset
from sagemaker_entry.builtin.train import main

# A policy small enough to train a few dozen steps in about a second on one core.
TINY = {
    "image_size": 32,
    "patch_size": 16,
    "vision_hidden_size": 32,
    "vision_layers": 1,
    "hidden_size": 64,
    "layers": 2,
    "heads": 4,
    "logging_steps": 2,
    "frame_cache_mb": 16,
}
QUICK = {"maxSteps": 12, "batchSize": 8, "saveSteps": 6, "learningRate": 1e-3, "dataloaderNumWorkers": 0}


@pytest.fixture(autouse=True, scope="module")
def _one_cpu_thread():
    """One intra-op thread (the engine then keeps it): on a small shared machine two competing threads are
    several times slower than one, and test subprocesses inherit the setting."""
    before = torch.get_num_threads()
    patch = pytest.MonkeyPatch()
    patch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    patch.undo()


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 episodes x 40 frames, two cameras (so100_dualcam), prepared as the container entry does it
    (preparation adds meta/modality.json and meta/stats.json)."""
    root = generate_dataset(tmp_path_factory.mktemp("builtin") / "dataset", episodes=4, frames_per_episode=40)
    prepare_dataset(root, "so100_dualcam")
    return root


@pytest.fixture
def dataset_copy(dataset_dir: Path, tmp_path: Path) -> Path:
    """A private copy a test may damage."""
    return Path(shutil.copytree(dataset_dir, tmp_path / "dataset"))


def write_request(folder: Path, dataset: Path, config: dict[str, Any] | None = None, **extra: Any) -> Path:
    request = {
        "dataset_dir": str(dataset),
        "output_dir": str(folder / "out"),
        "config": {**QUICK, **(config or {})},
        "base_model_dir": None,
        "resume_from_checkpoint": None,
        "engine_options": dict(TINY),
    }
    request.update({k: (str(v) if isinstance(v, Path) else v) for k, v in extra.items()})
    path = folder / "request.json"
    path.write_text(json.dumps(request))
    return path


def run_entry(request: Path) -> tuple[int, str, str]:
    """``python -m sagemaker_entry.builtin.train --request FILE`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--request", str(request)])
    return code, out.getvalue(), err.getvalue()
