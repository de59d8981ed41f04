"""Launch Lambda start-up and invocation time, and the size of its deployment package.

Against a moto server in its own process (so moto's CPU work is not counted in the measured process), with a
ready asset in S3 (gr00t_config.json + LeRobot meta files) and the task-token table:

* ``cold``: a fresh interpreter imports ``lambda_handler.launch`` and handles one VAMS event (first boto3
  clients, SageMaker service model, S3 reads, CreateTrainingJob, token write), as a Lambda cold start does.
  Baseline, same run: a fresh interpreter that imports boto3 and makes the same AWS calls by hand.
* ``warm``: further invocations in the same process (median). Baseline: the same AWS calls by hand, warm.
* ``package``: the Lambda code + its dependencies without boto3/botocore (deploy/package_lambda.py), unzipped
  and zipped.

Targets (issue 5): cold < 1 s, warm < 150 ms, package < 10 MB.
Run: ``.venv/bin/python -m benchmarks.bench_lambda [--warm-runs 15]``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(endpoint: str) -> dict[str, str]:
    from tests.aws_env import settings, settings_env

    return {
        **os.environ,
        **settings_env(settings()),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "PYTHONPATH": str(ROOT),
    }


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    import boto3

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    for _ in range(300):
        try:
            s3.list_buckets()
            return proc, url
        except Exception:  # noqa: BLE001 - server still starting
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _prepare(endpoint: str) -> None:
    import boto3

    from tests.aws_env import ASSET_BUCKET, ASSET_ROOT, TOKEN_TABLE, dataset_meta

    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket=ASSET_BUCKET)
    for rel, data in dataset_meta().items():
        s3.put_object(Bucket=ASSET_BUCKET, Key=f"{ASSET_ROOT}dataset/{rel}", Body=data)
    s3.put_object(Bucket=ASSET_BUCKET, Key=f"{ASSET_ROOT}gr00t_config.json", Body=b'{"maxSteps": 2000}')
    boto3.client("dynamodb", **kw).create_table(
        TableName=TOKEN_TABLE,
        KeySchema=[{"AttributeName": "jobName", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobName", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _event(run: int) -> dict[str, Any]:
    """The sample VAMS event, each run with its own execution (a new job, as a new workflow run would be)."""
    event = json.loads((ROOT / "tests" / "events" / "vams_event.json").read_text())
    body = copy.deepcopy(event["body"])
    for key in ("outputS3AssetFilesPath", "outputS3AssetPreviewPath", "outputS3AssetMetadataPath"):
        body[key] = body[key].replace("/output/", f"/output/bench-{run}-")
    body["TaskToken"] = f"bench-token-{run}"
    return {"body": body}


# ------------------------------------------------------------------ measured in child processes

_HANDLER_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from lambda_handler.launch import handler
t_import = time.perf_counter() - t0
from benchmarks.bench_lambda import _event
from tests.aws_env import FakeLambdaContext
import io, contextlib
times = []
for run in range({runs}):
    event = _event({offset} + run)
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        outcome = handler(event, FakeLambdaContext())
    times.append(time.perf_counter() - t1)
    assert outcome["status"] == "LAUNCHED", outcome
print(json.dumps({{"import": t_import, "total_first": time.perf_counter() - t0, "invocations": times}}))
"""

# The AWS calls a launch makes, by hand: the floor any implementation pays.
_BASELINE_CHILD = """
import json, time
t0 = time.perf_counter()
import boto3
t_import = time.perf_counter() - t0
from tests.aws_env import ASSET_BUCKET, ASSET_ROOT, TOKEN_TABLE
from tests.requests_util import request_for
times = []
clients = {{}}
template = request_for()  # built once, outside the timing: the baseline makes the calls, not the request
for run in range({runs}):
    t1 = time.perf_counter()
    if not clients:
        clients = {{s: boto3.client(s) for s in ("s3", "sagemaker", "dynamodb")}}
    s3, sm, db = clients["s3"], clients["sagemaker"], clients["dynamodb"]
    s3.get_object(Bucket=ASSET_BUCKET, Key=ASSET_ROOT + "gr00t_config.json")["Body"].read()
    s3.list_objects_v2(Bucket=ASSET_BUCKET, Prefix=ASSET_ROOT + "dataset/", MaxKeys=1)
    for name in ("info.json", "modality.json", "episodes.jsonl", "tasks.jsonl"):
        s3.get_object(Bucket=ASSET_BUCKET, Key=ASSET_ROOT + "dataset/meta/" + name)["Body"].read()
    request = dict(template, TrainingJobName="baseline-{offset}-" + str(run))
    try:
        sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
    except sm.exceptions.ClientError:
        pass
    sm.create_training_job(**request)
    db.put_item(TableName=TOKEN_TABLE, Item={{"jobName": {{"S": request["TrainingJobName"]}}, "taskToken": {{"S": "t"}}}})
    times.append(time.perf_counter() - t1)
print(json.dumps({{"import": t_import, "total_first": time.perf_counter() - t0, "invocations": times}}))
"""


def _child(code: str, env: dict[str, str], runs: int, offset: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", code.format(runs=runs, offset=offset)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _package_sizes() -> dict[str, float]:
    spec = importlib.util.spec_from_file_location("package_lambda", ROOT / "deploy" / "package_lambda.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        code_only = module.build(Path(tmp) / "code")
        full = module.build(Path(tmp) / "full", with_deps=True)
        archive = module.zip_directory(full, Path(tmp) / "lambda.zip")
        return {
            "code_mb": round(module.directory_size(code_only) / 1e6, 3),
            "with_dependencies_unzipped_mb": round(module.directory_size(full) / 1e6, 2),
            "with_dependencies_zipped_mb": round(archive.stat().st_size / 1e6, 2),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-runs", type=int, default=15)
    args = parser.parse_args(argv)

    proc, endpoint = _start_moto()
    try:
        _prepare(endpoint)
        env = _environment(endpoint)
        ours = _child(_HANDLER_CHILD, env, args.warm_runs + 1, 0)
        base = _child(_BASELINE_CHILD, env, args.warm_runs + 1, 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    def cold(r: dict[str, Any]) -> float:
        return r["import"] + r["invocations"][0]

    ours_warm = statistics.median(ours["invocations"][1:])
    base_warm = statistics.median(base["invocations"][1:])
    result = {
        "cold_s": round(cold(ours), 3),
        "cold_import_s": round(ours["import"], 3),
        "cold_first_invocation_s": round(ours["invocations"][0], 3),
        "cold_baseline_s": round(cold(base), 3),
        "cold_vs_baseline": round(cold(ours) / cold(base), 2),
        "warm_ms": round(ours_warm * 1000, 1),
        "warm_baseline_ms": round(base_warm * 1000, 1),
        "warm_vs_baseline": round(ours_warm / base_warm, 2),
        "package": _package_sizes(),
    }
    print(json.dumps(result, indent=2))
    ok = result["cold_s"] < 1.0 and result["warm_ms"] < 150 and result["package"]["with_dependencies_zipped_mb"] < 10
    print(
        f"cold {result['cold_s']} s ({result['cold_vs_baseline']} x hand-made calls), warm {result['warm_ms']} ms "
        f"({result['warm_vs_baseline']} x), package {result['package']['with_dependencies_zipped_mb']} MB zipped / "
        f"{result['package']['with_dependencies_unzipped_mb']} MB unzipped: {'meets' if ok else 'misses'} the targets "
        "(< 1 s, < 150 ms, < 10 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
