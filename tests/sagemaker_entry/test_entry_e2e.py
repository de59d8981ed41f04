"""``python -m sagemaker_entry`` end to end in a plain process: SM_* variables point at temporary folders, S3 and
Secrets Manager are a moto server on loopback, the builtin engine trains with 2 ranks under torchrun on CPU."""

from __future__ import annotations

import json
import re
import signal
import sys
import textwrap
import time
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from gr00t_core import metrics
from tests.entry_jobs import BUCKET, METADATA_URI, PREVIEW_URI, free_port, make_job, read_only, writable
from tests.sagemaker_entry.fakehub import FakeHub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint):
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) if _bucket_exists(client) else []:
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    if not _bucket_exists(client):
        client.create_bucket(Bucket=BUCKET)
    return client


def _bucket_exists(client) -> bool:
    return BUCKET in {b["Name"] for b in client.list_buckets().get("Buckets", [])}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from gr00t_data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("channel") / "so100"
    generate_dataset(root, layout="so100_dualcam", episodes=4, frames_per_episode=40, width=64, height=48)
    listing = read_only(root)
    yield root, listing
    writable(root)


@pytest.fixture
def bare_dataset(tmp_path):
    """Enough of a dataset for the entry to find it; for failures that happen before preparation."""
    root = tmp_path / "bare"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v2.1"}))
    return root


def _objects(s3, prefix: str) -> dict[str, dict]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"][len(prefix):]] = obj
    return found


def _json(s3, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _prefix(job) -> str:
    return job.identity.output_prefix_uri.split(f"{BUCKET}/", 1)[1]


def _failure(job) -> str:
    return job.failure.read_text().strip()


# --- the happy path --------------------------------------------------------------------------------------------
def test_builtin_two_ranks_end_to_end(tmp_path, s3, dataset, moto_endpoint):
    source, listing = dataset
    earlier = "pipelines/gr00t/job-1/output/exec-1/files/gr00tOutput_N1.5-3B_trainingjob_20250101T000000_old/checkpoint-9/x.bin"
    s3.put_object(Bucket=BUCKET, Key=earlier, Body=b"earlier run")
    job = make_job(tmp_path, source, endpoint=moto_endpoint)

    printed = job.run("--print-command")
    assert printed.returncode == 0, printed.stderr
    command = json.loads(printed.stdout)
    assert command["argv"][1:4] == ["-m", "torch.distributed.run", "--nproc_per_node=2"]
    assert command["argv"][-3:-1] == ["sagemaker_entry.builtin.train", "--request"]
    assert not (tmp_path / "opt_ml" / "work").exists()  # a dry run prepares nothing

    done = job.run()
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert not job.failure.exists()

    # the channel was never modified; the working copy got modality.json and stats.json
    assert [(str(p.relative_to(source)), p.stat().st_size if p.is_file() else -1) for p in sorted(source.rglob("*"))] == listing
    work = job.base / "work" / "dataset" / "meta"
    assert (work / "modality.json").is_file() and (work / "stats.json").is_file()

    prefix = _prefix(job)
    objects = _objects(s3, prefix)
    for name in ("checkpoint-2/.complete", "checkpoint-4/.complete", "train_result.json", "loss_curve.png",
                 "resolved_config.json", "run_summary.json"):
        assert name in objects, sorted(objects)
    assert not any(k.startswith(".gr00t") for k in objects)

    summary = _json(s3, prefix + "run_summary.json")
    assert summary["status"] == "completed" and summary["global_step"] == 4 and summary["engine"] == "builtin"
    assert isinstance(summary["final_loss"], float) and summary["eval"]
    # the final checkpoint answered one real frame the way a user loads it, and the card says so
    check = summary["inference_check"]
    assert check["ok"] and check["checkpoint"] == "checkpoint-4" and check["action_shapes"] == check["expected_shapes"]
    card = s3.get_object(Bucket=BUCKET, Key=prefix + "README.md")["Body"].read().decode()
    assert card.startswith("---\n") and "load_policy(" in card and "checkpoint-4" in card
    assert set(summary["phase_seconds"]) >= {"setup", "dataset", "model", "training"}
    assert summary["model_cache"]["tier"].startswith("none") and summary["instance"]["processes_per_host"] == 2
    assert summary["objects"] == len(objects)
    # TensorBoardOutputConfig.LocalPath under this job's /opt/ml: rank 0's training curves and the evaluation
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(job.base / "output" / "tensorboard"))
    events.Reload()
    assert events.Scalars("train/loss")[-1].step == 4 and events.Scalars("train/loss")[-1].value == pytest.approx(
        summary["train_result"]["final_loss"], rel=1e-6)
    assert [e.step for e in events.Scalars("eval/open_loop_mse")] == [4]
    resolved = _json(s3, prefix + "resolved_config.json")
    assert resolved["config"]["maxSteps"] == 4 and resolved["provenance"]["maxSteps"] == "run"

    meta_key = METADATA_URI.split(f"{BUCKET}/", 1)[1] + "asset.metadata.json"
    rows = {r["metadataKey"]: r["metadataValue"] for r in _json(s3, meta_key)["metadata"]}
    assert rows["gr00tOutputFolder"] == job.identity.output_folder and rows["gr00tSteps"] == "4"
    previews = PREVIEW_URI.split(f"{BUCKET}/", 1)[1]
    assert [s3.head_object(Bucket=BUCKET, Key=previews + k)["ContentType"] for k in _objects(s3, previews)] == ["image/png"]
    assert s3.get_object(Bucket=BUCKET, Key=earlier)["Body"].read() == b"earlier run"  # never touched

    # log: the builtin's lines match the MetricDefinitions regexes; phases are reported; random init said so
    found = {}
    for line in log.splitlines():
        found.update(metrics.extract(line))
    assert {"train:loss", "train:grad_norm", "train:learning_rate", "train:epoch", "train:step",
            "train:samples_per_second", "phase:dataset_seconds", "phase:model_seconds", "phase:training_seconds",
            "phase:upload_seconds"} <= set(found)
    assert "random initialization" in log and "copied checkpoint-2" in log
    assert log.count("dataset working copy") == 1  # prepared once per node, before torchrun (2 ranks)


# --- SIGTERM mid-run, then the restarted job resumes ---------------------------------------------------------------
def test_sigterm_mid_run_then_resume(tmp_path, s3, dataset, moto_endpoint):
    source, _ = dataset
    # The signal follows the trainer's own progress (its step-10 line; checkpoint-10 is saved in that same step),
    # not the background copy: on a loaded moto server the copy once lagged until the run had reached maxSteps.
    job = make_job(tmp_path, source, endpoint=moto_endpoint, parameters={"maxSteps": 120, "saveSteps": 10, "batchSize": 16})
    proc = job.start()
    lines: list[str] = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[gr00t-sm] step=10 ") or time.monotonic() > deadline:
            break
    assert any(ln.startswith("[gr00t-sm] step=10 ") for ln in lines), "".join(lines[-50:])
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=150)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-4000:]
    assert time.monotonic() - stopped_at < 120
    prefix = _prefix(job)
    summary = _json(s3, prefix + "run_summary.json")
    assert summary["status"] == "interrupted"
    interrupted_step = summary["global_step"]
    assert 10 <= interrupted_step < 120
    first = _objects(s3, prefix)
    assert f"checkpoint-{interrupted_step}/.complete" in first  # the step running at SIGTERM was saved and copied

    # the restarted job (same checkpoint folder, as SageMaker restores it) continues to maxSteps
    resumed = job.run(extra_env={"SM_MASTER_PORT": str(free_port())}, timeout=900)
    log2 = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log2[-4000:]
    assert f"resuming from {job.checkpoints / f'checkpoint-{interrupted_step}'}" in log2
    assert "checkpoint-10 was already copied by an earlier attempt" in log2
    after = _objects(s3, prefix)
    assert after["checkpoint-10/model.safetensors"]["LastModified"] == first["checkpoint-10/model.safetensors"]["LastModified"]
    summary2 = _json(s3, prefix + "run_summary.json")
    assert summary2["status"] == "completed" and summary2["global_step"] == 120
    assert summary2["resumed_from_step"] == interrupted_step and summary2["output_folder"] == job.identity.output_folder


# --- bad input and faults ---------------------------------------------------------------------------------------
FAKE_GR00T = textwrap.dedent("""
    # Stands in for Isaac-GR00T's scripts/gr00t_finetune.py (which needs CUDA): checks what it is given, then fails
    # the way a real trainer crash does.
    import argparse, os, sys
    p = argparse.ArgumentParser()
    for flag in ("--dataset-path", "--output-dir", "--data-config", "--base-model-path", "--report-to"):
        p.add_argument(flag)
    for flag in ("--batch-size", "--max-steps", "--num-gpus", "--save-steps", "--lora-rank", "--lora-alpha",
                 "--dataloader-num-workers", "--gradient-accumulation-steps"):
        p.add_argument(flag, type=int)
    for flag in ("--learning-rate", "--weight-decay", "--warmup-ratio", "--lora-dropout"):
        p.add_argument(flag, type=float)
    p.add_argument("--embodiment-tag"); p.add_argument("--video-backend")
    for flag in ("tune-llm", "tune-visual", "tune-projector", "tune-diffusion-model", "resume"):
        p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction)
    args = p.parse_args()
    assert os.environ["IS_TORCHRUN"] == "1" and os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.path.isfile(os.path.join(args.base_model_path, "config.json"))
    print("fake gr00t parsed", vars(args), flush=True)
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
""")


def _fake_gr00t(tmp_path: Path) -> dict[str, str]:
    repo = tmp_path / "Isaac-GR00T"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "gr00t_finetune.py").write_text(FAKE_GR00T)
    return {"GR00T_SM_GR00T_REPO": str(repo), "GR00T_SM_GR00T_PYTHON": sys.executable, "SM_NUM_GPUS": "1",
            "GR00T_SM_NPROC_PER_NODE": ""}


def _assert_user_failure(done, job, *expected: str) -> str:
    log = done.stdout + done.stderr
    assert done.returncode == 2, log[-3000:]
    reason = _failure(job)
    assert "\n" not in reason and len(reason) <= 1024
    for text in expected:
        assert re.search(text, reason), reason
    assert "Traceback" not in log  # user errors carry no traceback
    return reason


def test_missing_dataset_channel(tmp_path, moto_endpoint):
    job = make_job(tmp_path, None, endpoint=moto_endpoint, channels=())
    _assert_user_failure(job.run(), job, r"^setup \(reading the job's configuration\): .*no 'dataset' input channel")


def test_unreadable_hyperparameters(tmp_path, bare_dataset, moto_endpoint):
    job = make_job(tmp_path, bare_dataset, endpoint=moto_endpoint)
    (job.base / "input" / "config" / "hyperparameters.json").write_text("{'maxSteps': 4")
    _assert_user_failure(job.run(), job, r"^setup .*hyperparameters.json is not valid JSON")


def test_bad_hyperparameter_value(tmp_path, bare_dataset, moto_endpoint):
    job = make_job(tmp_path, bare_dataset, endpoint=moto_endpoint)
    path = job.base / "input" / "config" / "hyperparameters.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "maxSteps": "many"}))
    _assert_user_failure(job.run(), job, r"maxSteps = 'many' from training job hyperparameters: expected an integer")


def test_gr00t_engine_not_installed(tmp_path, bare_dataset, moto_endpoint):
    job = make_job(tmp_path, bare_dataset, endpoint=moto_endpoint, parameters={"engine": "isaac-gr00t"})
    _assert_user_failure(job.run(), job, r"^setup .*Isaac-GR00T is not installed in this image.*INSTALL_GR00T=true")


def test_model_that_cannot_be_fetched(tmp_path, dataset, moto_endpoint):
    job = make_job(tmp_path, dataset[0], endpoint=moto_endpoint, parameters={"engine": "isaac-gr00t"},
                   extra_env={**_fake_gr00t(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9"})
    _assert_user_failure(job.run(), job, r"^model \(fetching the base model\): .*unreachable.*pre-fill the model cache")


def test_token_secret_missing(tmp_path, dataset, moto_endpoint):
    with FakeHub({"config.json": b"{}"}) as hub:
        job = make_job(tmp_path, dataset[0], endpoint=moto_endpoint, parameters={"engine": "isaac-gr00t"},
                       identity={"hf_token_secret_id": "gr00t/hf-token-missing"},
                       extra_env={**_fake_gr00t(tmp_path), "HF_ENDPOINT": hub.url})
        _assert_user_failure(job.run(), job, r"^model .*secret 'gr00t/hf-token-missing' does not exist")


def test_wrong_token_then_trainer_crash_with_the_right_one(tmp_path, dataset, moto_endpoint):
    sm = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    sm.create_secret(Name="gr00t/hf-wrong", SecretString="hf_wrong_value")
    sm.create_secret(Name="gr00t/hf-good", SecretString='{"token": "hf_good"}')
    with FakeHub({"config.json": b"{}", "model.safetensors": b"\0" * 1000}) as hub:
        extra = {**_fake_gr00t(tmp_path), "HF_ENDPOINT": hub.url}
        job = make_job(tmp_path / "a", dataset[0], endpoint=moto_endpoint, parameters={"engine": "isaac-gr00t"},
                       identity={"hf_token_secret_id": "gr00t/hf-wrong"}, extra_env=extra)
        done = job.run()
        reason = _assert_user_failure(done, job, r"^model .*HTTP 401.*missing, wrong or expired")
        assert "hf_wrong_value" not in reason + done.stdout + done.stderr

        job = make_job(tmp_path / "b", dataset[0], endpoint=moto_endpoint, parameters={"engine": "isaac-gr00t"},
                       identity={"hf_token_secret_id": "gr00t/hf-good"}, extra_env=extra)
        done = job.run()
    log = done.stdout + done.stderr
    assert done.returncode == 1, log[-3000:]
    assert "fake gr00t parsed" in log and "hf_good" not in log
    reason = _failure(job)
    assert reason.startswith("training (training): the trainer exited with code 1: RuntimeError: CUDA out of memory")
    assert len(reason) <= 1024


def test_output_bucket_missing_says_what_was_not_copied(tmp_path, dataset, moto_endpoint):
    job = make_job(tmp_path, dataset[0], endpoint=moto_endpoint, parameters={"maxSteps": 2})
    hps_path = job.base / "input" / "config" / "hyperparameters.json"
    hps = json.loads(hps_path.read_text())
    hps["outputS3AssetFilesPath"] = "s3://no-such-output-bucket/files/"
    hps_path.write_text(json.dumps(hps))
    done = job.run()
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    reason = _failure(job)
    assert reason.startswith("upload (copying outputs to the asset):")
    assert "were not copied to s3://no-such-output-bucket/" in reason and "checkpoint-2" in reason
