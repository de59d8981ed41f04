"""Tiny synthetic datasets shared by the gr00t_data tests (2-3 episodes, 20 frames, 32x24 video)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gr00t_data.synthetic import generate_dataset

TINY = {"episodes": 2, "frames_per_episode": 20, "width": 32, "height": 24}


@pytest.fixture(scope="session")
def _pristine_dualcam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("pristine") / "dataset", layout="so100_dualcam", **TINY)


@pytest.fixture
def dualcam(tmp_path: Path, _pristine_dualcam: Path) -> Path:
    """A fresh copy of a raw v2.1 so100_dualcam dataset (no modality.json, no stats.json) to modify freely."""
    return Path(shutil.copytree(_pristine_dualcam, tmp_path / "dataset"))
