"""``gr00t-sm local`` end to end with the process runner: success, and the bad inputs a VAMS user can make."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.local_mode.assets import REPO_ROOT, SHORT_RUN, entry_processes, make_asset, run_local_cli

pytestmark = pytest.mark.slow


def test_local_run_trains_and_registers_the_outputs_in_the_asset(tmp_path):
    asset = make_asset(tmp_path / "so101_asset", SHORT_RUN)
    before = entry_processes()
    run = run_local_cli(str(asset), "--runner", "process", "--keep", str(tmp_path / "kept"))
    assert run.code == 0, run.out[-4000:] + run.err[-4000:]
    assert "State machine: SUCCEEDED (runner: process)" in run.out

    # live progress: every phase, and a line per logged step with its loss
    for phase in ("runner", "emulator", "asset", "preflight", "launch", "job", "callback", "register"):
        assert re.search(rf"^\s*[\d.]+s ✓ {phase}\b", run.out, re.M), f"step {phase} missing:\n{run.out}"
    for phase in ("dataset", "model", "training", "upload"):  # the job's phases, from its log as they end
        assert re.search(rf"^\s*[\d.]+s • {phase}\s+[\d.]+ s", run.out, re.M), f"job phase {phase} missing:\n{run.out}"
    assert re.search(r"training\s+step 6/6\s+loss \d+\.\d{4}", run.out)

    # outputs: registered into the asset folder, with the summary the end of the output points at
    (folder,) = [p for p in asset.iterdir() if p.name.startswith("gr00tOutput_")]
    assert run.line("Output folder:") == f"Output folder: {folder}"
    summary = json.loads((folder / "run_summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_step"] == 6 and summary["engine"] == "builtin"
    assert run.line("Final loss:") == f"Final loss: {summary['final_loss']:.4f}"
    assert run.line("Run summary:") == f"Run summary: {folder / 'run_summary.json'}"
    assert (folder / "checkpoint-3").is_dir() and (folder / "checkpoint-6").is_dir()
    listed = [line.strip() for line in run.out.split("Output folder:")[1].splitlines()[2:] if line.startswith("  ")]
    assert re.match(r"checkpoint-6/  \(\d+ files, [\d.]+ [KM]B\)$", next(x for x in listed if x.startswith("checkpoint-6/")))
    assert any(re.match(r"run_summary\.json  \([\d.]+ (B|KB)\)$", x) for x in listed)

    # --keep: one folder per bucket, keys as paths; the VAMS metadata file is there too
    kept = tmp_path / "kept" / "vams-local-assets"
    files = [p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()]
    assert any(f.endswith("/gr00t_config.json") for f in files)
    assert any(re.search(r"/output/[^/]+/files/gr00tOutput_[^/]+/run_summary\.json$", f) for f in files)
    assert any(f.endswith("/metadata/asset.metadata.json") for f in files)
    assert entry_processes() <= before  # nothing left running


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_asset_dir", r"does not exist"),
        ("no_dataset", r"dataset"),
        ("bad_config", r"maxSteps"),
    ],
)
def test_bad_input_fails_the_state_machine_with_the_vams_reason(tmp_path, case, expected):
    if case == "missing_asset_dir":
        asset = tmp_path / "nowhere"
    elif case == "no_dataset":
        asset = make_asset(tmp_path / "asset", SHORT_RUN, dataset=False)
    else:
        asset = make_asset(tmp_path / "asset", {**SHORT_RUN, "maxSteps": -5}, episodes=2, frames=20)
    before = entry_processes()
    run = run_local_cli(str(asset), "--runner", "process")
    assert run.code == 1, run.out + run.err
    assert "State machine: FAILED (runner: process)" in run.out
    reason = run.line("Reason:")
    assert reason.startswith("Reason: Gr00t."), run.out
    assert re.search(expected, run.out), run.out
    assert "Traceback" not in run.out + run.err
    assert not [p for p in tmp_path.rglob("gr00tOutput_*")]  # nothing registered for a failed run
    assert entry_processes() <= before


def test_a_job_that_fails_in_training_fails_the_state_machine_with_the_jobs_reason(tmp_path):
    """Past preflight (which reads only meta files) a broken video stops the job: SageMaker's FailureReason
    reaches the workflow through the job-events Lambda."""
    asset = make_asset(tmp_path / "asset", SHORT_RUN)
    video = sorted((asset / "dataset" / "videos").rglob("episode_000000.mp4"))[0]
    video.write_bytes(b"not a video")
    run = run_local_cli(str(asset), "--runner", "process")
    assert run.code == 1, run.out + run.err
    assert "✗ job        Failed" in run.out
    assert re.search(r"algo-1: .*episode_000000\.mp4", run.out)  # the live view shows the job's error
    reason = run.line("Reason:")
    assert reason.startswith("Reason: Gr00t.TrainingFailed: SageMaker training job gr00t-") and "AlgorithmError: " in reason
    assert "episode_000000.mp4" in reason
    # the steps in the order they happened: the job runs after the launch Lambda answered
    order = [m.group(1) for m in re.finditer(r"^\s*[\d.]+s \S (\w+)", run.out, re.M)]
    assert order.index("preflight") < order.index("launch") < order.index("job") < order.index("callback")
    assert run.line("Partial outputs (not registered into the asset):").endswith("/")
    assert not list(asset.glob("gr00tOutput_*"))


def test_ctrl_c_stops_the_job_and_the_emulator(tmp_path):
    asset = make_asset(tmp_path / "asset", {**SHORT_RUN, "maxSteps": 400, "saveSteps": 400})
    before = entry_processes()
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "local", str(asset), "--runner", "process"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until training runs
        lines.append(line)
        if "training   step" in line:
            break
    port = next(re.search(r"moto on http://127\.0\.0\.1:(\d+)", x).group(1) for x in lines if "moto on" in x)
    assert entry_processes() - before, "the job should be running"
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, "".join(lines) + rest
    assert "gr00t-sm: interrupted" in rest
    deadline = time.monotonic() + 30
    while entry_processes() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not entry_processes() - before
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(port))) != 0  # the emulator is gone
    assert not list(asset.glob("gr00tOutput_*"))
