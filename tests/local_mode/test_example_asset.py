"""`make demo`: the example asset goes through the whole pipeline (on a copy: the repository stays clean)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.local_mode.assets import REPO_ROOT, run_local_cli

pytestmark = pytest.mark.slow
EXAMPLE = REPO_ROOT / "examples" / "so101_table_cleanup"


def test_the_example_asset_fine_tunes_and_its_loss_goes_down(tmp_path):
    asset = shutil.copytree(EXAMPLE, tmp_path / EXAMPLE.name, ignore=shutil.ignore_patterns("gr00tOutput_*"))
    run = run_local_cli(str(asset), "--runner", "process")
    assert run.code == 0, run.out[-4000:] + run.err[-4000:]
    (folder,) = [p for p in asset.iterdir() if p.name.startswith("gr00tOutput_")]
    summary = json.loads((folder / "run_summary.json").read_text())
    config = json.loads((EXAMPLE / "gr00t_config.json").read_text())
    assert summary["global_step"] == config["maxSteps"]
    result = json.loads((folder / "train_result.json").read_text())
    assert result["final_loss"] < result["initial_loss"]  # it learned something in a demo-sized run
