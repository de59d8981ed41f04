"""``gr00t-sm preflight`` end to end on an asset of the SO-101 table-cleanup size.

Setting: 80 episodes, 47,513 frames, so100_dualcam (2 cameras, small h264 videos), a raw LeRobot v2.1 dataset
(no modality.json, no stats.json) under ``dataset/`` plus a gr00t_config.json. Each timed run is a fresh
``python -m launcher.cli preflight ASSET --json`` on a fresh copy of the raw asset (so it resolves the config,
checks every meta/parquet/video file, decodes one frame per camera and writes modality.json and stats.json);
the copy is not timed. ``prepared`` times a second preflight of an already prepared asset.

Baselines measured in the same run, each in a fresh interpreter:

* ``imports``: ``import launcher.cli, gr00t_data.preflight`` and nothing else (the floor of any preflight);
* ``gr00t_stats``: GR00T's own stats.json recomputation (pandas concat, :func:`bench_stats.pandas_stats`), the
  work GR00T does at start when stats.json is missing.

Target (issue 2): <= 5 s end to end. Run: ``.venv/bin/python -m benchmarks.bench_preflight [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_stats import ROOT, make_dataset

TARGET_S = 5.0
CONFIG = {"engine": "builtin", "instanceType": "local_cpu", "dataConfig": "so100_dualcam", "maxSteps": 50, "batchSize": 8}


def _timed(argv: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(argv[:4])} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def _preflight(asset: Path) -> tuple[float, dict[str, Any]]:
    elapsed, out = _timed([sys.executable, "-m", "launcher.cli", "preflight", str(asset), "--json"])
    return elapsed, json.loads(out)


def run(work: Path, raw_asset: Path, repeats: int) -> dict[str, Any]:
    fresh: list[float] = []
    report: dict[str, Any] = {}
    for i in range(repeats):
        asset = Path(shutil.copytree(raw_asset, work / f"run-{i}"))
        seconds, report = _preflight(asset)
        fresh.append(seconds)
    prepared = statistics.median(_preflight(work / "run-0")[0] for _ in range(repeats))
    imports = statistics.median(
        _timed([sys.executable, "-c", "import launcher.cli, gr00t_data.preflight"])[0] for _ in range(repeats)
    )
    stats_code = (
        "from pathlib import Path\nfrom benchmarks.bench_stats import pandas_stats\n"
        "from gr00t_data.stats import episode_parquet_files\n"
        f"pandas_stats(episode_parquet_files(Path({str(raw_asset / 'dataset')!r})))\n"
    )
    gr00t_stats = statistics.median(_timed([sys.executable, "-c", stats_code])[0] for _ in range(repeats))
    ours = statistics.median(fresh)
    dataset = report["dataset"]
    return {
        "episodes": dataset["episodes"],
        "frames": dataset["frames"],
        "video_files": dataset["episodes"] * len(dataset["cameras"]),
        "prepared_files": dataset["prepared"],
        "errors": report["errors"],
        "preflight_s": round(ours, 3),
        "preflight_runs_s": [round(s, 3) for s in fresh],
        "preflight_prepared_asset_s": round(prepared, 3),
        "imports_baseline_s": round(imports, 3),
        "gr00t_stats_baseline_s": round(gr00t_stats, 3),
        "preflight_vs_imports": round(ours / imports, 2),
        "preflight_vs_gr00t_stats": round(ours / gr00t_stats, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-preflight-"))
    try:
        start = time.perf_counter()
        raw = work / "raw-asset"
        make_dataset(raw / "dataset", videos=True)
        (raw / "gr00t_config.json").write_text(json.dumps(CONFIG))
        generated = time.perf_counter() - start
        result = {"dataset_generation_s": round(generated, 1), **run(work, raw, args.repeats)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    ok = not result["errors"] and result["preflight_s"] <= TARGET_S
    print(
        f"preflight of {result['episodes']} episodes / {result['frames']} frames / {result['video_files']} videos: "
        f"{result['preflight_s']} s ({'meets' if ok else 'MISSES'} the <= {TARGET_S} s target); "
        f"{result['preflight_vs_imports']} x the bare imports ({result['imports_baseline_s']} s), "
        f"{result['preflight_vs_gr00t_stats']} x GR00T's own stats recomputation ({result['gr00t_stats_baseline_s']} s); "
        f"already prepared: {result['preflight_prepared_asset_s']} s"
    )
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
