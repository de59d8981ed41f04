"""Small assets for the local-mode tests and a way to run ``gr00t-sm local`` as users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from local_mode.image import REPO_ROOT

# A run that trains for real but briefly: two checkpoints, a handful of CPU steps.
SHORT_RUN = {"engine": "builtin", "maxSteps": 6, "saveSteps": 3, "batchSize": 4, "dataloaderNumWorkers": 0, "evalEpisodes": 0}


def make_asset(root: Path, config: dict[str, Any] | str | None = None, *, dataset: bool = True, episodes: int = 3,
               frames: int = 30) -> Path:
    from gr00t_data.synthetic import generate_dataset

    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "gr00t_config.json").write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
    if dataset:
        generate_dataset(root / "dataset", episodes=episodes, frames_per_episode=frames)
    return root


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def line(self, prefix: str) -> str:
        """The first output line starting with ``prefix`` (after stripping), or ''."""
        for line in self.out.splitlines():
            if line.strip().startswith(prefix):
                return line.strip()
        return ""


def run_local_cli(*args: str, timeout: float = 600) -> CliRun:
    """``gr00t-sm local ...`` in its own process, exactly as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "local", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT, env=env)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def entry_processes() -> set[int]:
    """Training-entry processes started by local mode (their working folder is a local-mode job folder)."""
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
        except (psutil.Error, TypeError):
            continue
        if "sagemaker_entry" in cmd and "gr00t-sm-local-" in cwd:
            found.add(proc.info["pid"])
    return found
