"""Checkpoint completion, resume clean-up, background uploads with a manifest (moto S3)."""

import json
import time

import boto3
import pytest
from moto import mock_aws

from gr00t_core.errors import UploadError
from sagemaker_entry.checkpoints import MANIFEST_NAME, CompletionWatch, UploadManifest, prepare_resume
from sagemaker_entry.outputs import OutputPublisher
from sagemaker_entry.reports import asset_metadata

PREFIX = "s3://assets/pipelines/p/j/output/e/files/gr00tOutput_N1.5-3B_trainingjob_20260101T000000_abc/"


def _checkpoint(root, step, *, complete=True, marker=".complete", files=2):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    for i in range(files):
        (folder / f"part{i}.bin").write_bytes(b"w" * (1000 + step))
    if complete:
        (folder / marker).write_text("")
    return folder


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="assets")
        yield client


def _keys(s3, prefix="pipelines/"):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="assets", Prefix=prefix).get("Contents", []))


def _count_puts(s3):
    calls = []
    s3.meta.events.register("before-send.s3.PutObject", lambda **kw: calls.append(kw["request"].url))
    return calls


def test_gr00t_checkpoint_is_complete_once_trainer_state_is_stable(tmp_path):
    now = [0.0]
    watch = CompletionWatch("isaac-gr00t", stable_seconds=3, clock=lambda: now[0])
    ckpt = _checkpoint(tmp_path, 10, complete=False)
    assert not watch.is_complete(ckpt)
    (ckpt / "trainer_state.json").write_text("{}")
    assert not watch.is_complete(ckpt)  # first sight: start the clock
    now[0] = 2
    assert not watch.is_complete(ckpt)
    (ckpt / "rng_state.pth").write_text("still writing")
    now[0] = 4
    assert not watch.is_complete(ckpt)  # changed: clock restarts
    now[0] = 8
    assert watch.is_complete(ckpt)


def test_resume_picks_latest_complete_and_drops_torn_ones(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4)
    _checkpoint(tmp_path, 6, complete=False)
    assert prepare_resume(tmp_path, "builtin", dry_run=True).removed == ["checkpoint-6"]
    assert (tmp_path / "checkpoint-6").exists()
    state = prepare_resume(tmp_path, "builtin")
    assert state.latest == tmp_path / "checkpoint-4" and state.step == 4 and not (tmp_path / "checkpoint-6").exists()
    assert prepare_resume(tmp_path / "none", "builtin").latest is None


def test_checkpoints_upload_in_the_background_and_only_once(tmp_path, s3):
    ck = tmp_path / "checkpoints"
    _checkpoint(ck, 1)
    manifest = UploadManifest(ck / MANIFEST_NAME, PREFIX)
    pub = OutputPublisher(s3, PREFIX, ck, manifest, engine="builtin", poll_seconds=0.05)
    pub.start()
    deadline = time.monotonic() + 20
    while "checkpoint-1" not in pub.stats.checkpoints and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "checkpoint-1" in pub.stats.checkpoints  # while "training" is still going on
    _checkpoint(ck, 2, complete=False)  # being written when training stops: never uploaded
    (ck / "train_result.json").write_text(json.dumps({"global_step": 2}))
    pub.finish()
    base = PREFIX.split("assets/")[1]
    assert _keys(s3) == sorted(f"{base}{k}" for k in [
        "checkpoint-1/.complete", "checkpoint-1/part0.bin", "checkpoint-1/part1.bin", "train_result.json"])
    saved = json.loads((ck / MANIFEST_NAME).read_text())
    assert saved["output_prefix"] == PREFIX and len(saved["files"]) == 4

    # a restarted job (spot): same manifest, one more checkpoint -> only the new files are sent
    _checkpoint(ck, 3)
    puts = _count_puts(s3)
    again = OutputPublisher(s3, PREFIX, ck, UploadManifest(ck / MANIFEST_NAME, PREFIX), engine="builtin")
    again.finish()
    assert len(puts) == 3 and all("checkpoint-3" in u for u in puts)
    assert again.stats.checkpoints == ["checkpoint-1", "checkpoint-3"]


def test_manifest_of_another_output_folder_is_ignored(tmp_path):
    UploadManifest(tmp_path / "m.json", "s3://a/old/")
    m = UploadManifest(tmp_path / "m.json", "s3://a/old/")
    m.record("x", "1")
    m.save()
    assert UploadManifest(tmp_path / "m.json", "s3://a/old/").uploaded("x", "1")
    assert not UploadManifest(tmp_path / "m.json", "s3://a/new/").uploaded("x", "1")


def test_rewritten_top_level_file_is_sent_again_but_a_restored_checkpoint_is_not(tmp_path, s3):
    ck = tmp_path / "checkpoints"
    ckpt = _checkpoint(ck, 1)
    (ck / "train_result.json").write_text('{"interrupted": true }')
    OutputPublisher(s3, PREFIX, ck, UploadManifest(ck / MANIFEST_NAME, PREFIX), engine="builtin").finish()
    import os

    for path in ckpt.iterdir():  # SageMaker's restore: same files, new mtimes
        os.utime(path, ns=(1, 1))
    time.sleep(0.01)
    (ck / "train_result.json").write_text('{"interrupted": false}')  # same size, new content
    puts = _count_puts(s3)
    OutputPublisher(s3, PREFIX, ck, UploadManifest(ck / MANIFEST_NAME, PREFIX), engine="builtin").finish()
    assert len(puts) == 1 and puts[0].endswith("train_result.json")


def test_object_count_warnings(tmp_path, s3):
    ck = tmp_path / "checkpoints"
    _checkpoint(ck, 1, files=30)
    pub = OutputPublisher(s3, PREFIX, ck, UploadManifest(ck / MANIFEST_NAME, PREFIX), engine="builtin",
                          expected_checkpoints=40)
    pub.finish()
    assert any("about 1250 objects" in w and "raise saveSteps" in w for w in pub.stats.warnings)


def test_permanent_upload_failure_lists_what_was_not_copied(tmp_path, s3):
    ck = tmp_path / "checkpoints"
    _checkpoint(ck, 1)
    bad = "s3://no-such-bucket/files/gr00tOutput_x/"
    pub = OutputPublisher(s3, bad, ck, UploadManifest(ck / MANIFEST_NAME, bad), engine="builtin", sleep=lambda s: None)
    with pytest.raises(UploadError, match="3 of 3 files of checkpoint-1 were not copied to s3://no-such-bucket/"):
        pub.finish()


def test_asset_metadata_is_in_vams_format():
    doc = asset_metadata({"output_folder": "gr00tOutput_x", "status": "completed", "global_step": 8, "final_loss": 0.25,
                          "instance": {"type": "ml.g6e.4xlarge"}, "eval": {"mse": 0.1, "baseline_mse": 0.3}})
    assert doc["type"] == "metadata" and doc["updateType"] == "update"
    rows = {r["metadataKey"]: r["metadataValue"] for r in doc["metadata"]}
    assert rows == {"gr00tOutputFolder": "gr00tOutput_x", "gr00tStatus": "completed", "gr00tSteps": "8",
                    "gr00tFinalLoss": "0.25", "gr00tInstanceType": "ml.g6e.4xlarge", "gr00tEvalMse": "0.1",
                    "gr00tEvalBaselineMse": "0.3"}
    assert all(r["metadataValueType"] == "string" for r in doc["metadata"])


def test_transient_put_failures_during_a_checkpoint_upload_are_retried(tmp_path):
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        s3.create_bucket(Bucket="assets")
        failures = {"left": 2}

        def flaky(**_):
            if failures["left"]:
                failures["left"] -= 1
                raise EndpointConnectionError(endpoint_url="http://s3.test")

        s3.meta.events.register("before-send.s3.PutObject", flaky)
        ck = tmp_path / "checkpoints"
        _checkpoint(ck, 1)
        pub = OutputPublisher(s3, PREFIX, ck, UploadManifest(ck / MANIFEST_NAME, PREFIX), engine="builtin",
                              sleep=lambda s: None)
        pub.finish()
        assert failures["left"] == 0 and pub.stats.checkpoints == ["checkpoint-1"] and not pub.stats.errors
        assert len(_keys(s3)) == 3
