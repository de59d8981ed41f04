"""Entry overhead: from ``python -m sagemaker_entry`` starting to the trainer process starting.

Setting: a 47,513-frame so100_dualcam dataset (parquet-heavy, tiny videos) as a read-only channel, the base
model already in the warm-pool cache, S3 on a moto server on loopback. The engine is ``isaac-gr00t`` pointed at a
stand-in ``scripts/gr00t_finetune.py`` that exits at once (the real one needs CUDA); what is measured ends when
the entry has started torchrun (its ``[gr00t-sm] trainer started ... at=T`` line), so the trainer does not matter.

Baselines measured in the same run:

* ``interpreter_and_imports``: ``python -c "import sagemaker_entry.main"``, the floor of any entry;
* ``copy_then_prepare``: a fresh interpreter that copies the whole channel and prepares the copy in place
  (the work a naive entry does before it could start a trainer).

Target: overhead <= 5 s. Run: ``.venv/bin/python -m benchmarks.bench_entry [--frames 47513]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._support import moto_workspace
from sagemaker_entry.model_cache import RECORD, cache_key
from tests.entry_jobs import BUCKET, REPO_ROOT, make_job

FAKE_TRAINER = "import sys\nprint('stand-in trainer started', flush=True)\nsys.exit(0)\n"
MODEL = "nvidia/GR00T-N1.5-3B"


def _episode_lengths(frames: int, per_episode: int = 500) -> list[int]:
    full, rest = divmod(frames, per_episode)
    return [per_episode] * full + ([rest] if rest else [])


def _make_dataset(root: Path, frames: int) -> Path:
    from gr00t_data.synthetic import generate_dataset

    lengths = _episode_lengths(frames)
    return generate_dataset(root, layout="so100_dualcam", episodes=len(lengths), episode_lengths=lengths,
                            width=32, height=32)


def _prefill_model(cache_root: Path) -> None:
    entry = cache_root / "gr00t-models" / cache_key(MODEL, "main")
    entry.mkdir(parents=True)
    (entry / "config.json").write_text("{}")
    (entry / "model.safetensors").write_bytes(b"\0" * 1024 * 1024)
    (entry / RECORD).write_text(json.dumps({"files": {"config.json": 2, "model.safetensors": 1024 * 1024}}))


def _entry_once(work: Path, dataset: Path, endpoint: str, index: int) -> dict[str, float]:
    root = work / f"job-{index}"
    repo = root / "Isaac-GR00T"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "gr00t_finetune.py").write_text(FAKE_TRAINER)
    _prefill_model(root / "warmpool")
    job = make_job(root, dataset, endpoint=endpoint, parameters={"engine": "isaac-gr00t", "maxSteps": 1, "saveSteps": 1},
                   extra_env={"GR00T_SM_GR00T_REPO": str(repo), "GR00T_SM_GR00T_PYTHON": sys.executable,
                              "SM_NUM_GPUS": "1", "GR00T_SM_NPROC_PER_NODE": "",
                              "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY": str(root / "warmpool")})
    started = time.time()
    done = job.run(timeout=600)
    log = done.stdout + done.stderr
    match = re.search(r"\[gr00t-sm\] trainer started pid=\d+ at=([0-9.]+)", log)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"entry failed (exit {done.returncode}):\n{log[-3000:]}")
    phases = {m.group(1): float(m.group(2)) for m in re.finditer(r"phase=(\w+) seconds=([0-9.]+)", log)}
    tier = re.search(r"served by tier '([^']+)'", log)
    assert tier and tier.group(1) == "warm-pool cache", log[-2000:]
    shutil.rmtree(root, ignore_errors=True)
    return {"overhead_s": float(match.group(1)) - started, **{f"{k}_s": v for k, v in phases.items()}}


def _fresh_interpreter(code: str) -> float:
    started = time.time()
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
    return time.time() - started


def _imports_floor() -> float:
    return _fresh_interpreter("import sagemaker_entry.main")


def _copy_then_prepare(work: Path, dataset: Path) -> float:
    """A naive entry: a fresh interpreter copies the whole channel and prepares the copy in place."""
    target = work / "naive"
    elapsed = _fresh_interpreter(
        "import shutil, sagemaker_entry.main\n"
        "from pathlib import Path\n"
        "from gr00t_data.prepare import prepare_dataset\n"
        f"shutil.copytree({str(dataset)!r}, {str(target)!r})\n"
        f"prepare_dataset(Path({str(target)!r}), 'so100_dualcam')\n"
    )
    shutil.rmtree(target)
    return elapsed


def run(frames: int, repeats: int) -> dict[str, object]:
    with moto_workspace("bench-entry-", BUCKET) as (work, endpoint):
        t = time.time()
        dataset = _make_dataset(work / "channel", frames)
        generated = time.time() - t
        runs = [_entry_once(work, dataset, endpoint, i) for i in range(repeats)]
        overhead = statistics.median(r["overhead_s"] for r in runs)
        floor = statistics.median(_imports_floor() for _ in range(repeats))
        naive = statistics.median(_copy_then_prepare(work, dataset) for _ in range(repeats))
        return {
            "frames": frames,
            "dataset_files": sum(1 for p in dataset.rglob("*") if p.is_file()),
            "dataset_mb": round(sum(p.stat().st_size for p in dataset.rglob("*") if p.is_file()) / 1e6, 1),
            "dataset_generation_s": round(generated, 1),
            "overhead_s": round(overhead, 3),
            "phases_s": {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0] if k != "overhead_s"},
            "interpreter_and_imports_s": round(floor, 3),
            "copy_then_prepare_s": round(naive, 3),
            "overhead_vs_imports": round(overhead / floor, 2),
            "overhead_vs_copy_then_prepare": round(overhead / naive, 3),
            "samples_s": [round(r["overhead_s"], 3) for r in runs],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=47_513)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result = run(args.frames, args.repeats)
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["overhead_s"] <= 5 else "MISSES"
    print(f"entry overhead to trainer start: {result['overhead_s']} s ({verdict} the <= 5 s target); "
          f"{result['overhead_vs_copy_then_prepare']} x a naive copy-then-prepare of the dataset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
