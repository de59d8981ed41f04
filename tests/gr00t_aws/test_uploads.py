"""S3 transfers against moto: multipart batches, whole-batch retries on transient faults, permanent errors."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from gr00t_aws import uploads
from gr00t_core.errors import UploadError


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        client.create_bucket(Bucket="out")
        yield client


def _files(tmp_path, sizes):
    items = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(bytes([i % 251]) * size)
        items.append(uploads.UploadItem(path, f"run/f{i}.bin"))
    return items


def _fail_first(client, operation, times):
    state = {"left": times}

    def fail(**_):
        if state["left"] > 0:
            state["left"] -= 1
            raise EndpointConnectionError(endpoint_url="http://s3.test")

    client.meta.events.register(f"before-send.s3.{operation}", fail)
    return state


def test_parse_and_join():
    assert uploads.parse_s3_uri("s3://b/p/q/") == ("b", "p/q/")
    assert uploads.join_key("p/q/", "a.txt") == "p/q/a.txt" and uploads.join_key("", "a.txt") == "a.txt"
    with pytest.raises(ValueError, match="must be an s3://bucket/key URI"):
        uploads.parse_s3_uri("/local/path")


def test_multipart_batch_lands_intact(tmp_path, s3):
    items = _files(tmp_path, [6 * uploads.MIB, 10])
    done = []
    sent = uploads.upload_batch(s3, "out", items, config=uploads.transfer_config(chunk_mib=5), on_uploaded=done.append)
    assert sent == 6 * uploads.MIB + 10 and sorted(i.key for i in done) == ["run/f0.bin", "run/f1.bin"]
    head = s3.head_object(Bucket="out", Key="run/f0.bin")
    assert head["ContentLength"] == 6 * uploads.MIB and "-2" in head["ETag"]  # two parts


def test_transient_failure_is_retried_without_resending_what_landed(tmp_path, s3):
    items = _files(tmp_path, [100, 200, 300])
    _fail_first(s3, "PutObject", 2)
    sleeps, done = [], []
    uploads.upload_batch(s3, "out", items, workers=1, sleep=sleeps.append, on_uploaded=done.append)
    assert len(done) == 3 and len(sleeps) >= 1  # every file landed once, after a backoff
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="out")["Contents"]} == {"run/f0.bin", "run/f1.bin", "run/f2.bin"}


def test_persistent_failure_names_what_was_not_copied(tmp_path, s3):
    items = _files(tmp_path, [100, 200])
    _fail_first(s3, "PutObject", 100)
    with pytest.raises(UploadError, match=r"2 of 2 checkpoint files were not copied to s3://out/ \(run/f0.bin, run/f1.bin\)"):
        uploads.upload_batch(s3, "out", items, sleep=lambda s: None, what="checkpoint files")


def test_permanent_error_stops_at_once(tmp_path, s3):
    sleeps = []
    with pytest.raises(UploadError, match="NoSuchBucket"):
        uploads.upload_batch(s3, "missing-bucket", _files(tmp_path, [10]), sleep=sleeps.append)
    assert sleeps == []


def test_prefix_download_list_delete(tmp_path, s3):
    uploads.upload_batch(s3, "out", _files(tmp_path, [10, 20]))
    s3.put_object(Bucket="out", Key="other/keep.txt", Body=b"x")
    assert uploads.list_prefix(s3, "s3://out/run") == {"f0.bin": 10, "f1.bin": 20}
    got = uploads.download_prefix(s3, "s3://out/run/", tmp_path / "dl")
    assert got == 30 and (tmp_path / "dl" / "f1.bin").read_bytes() == bytes([1]) * 20
    assert uploads.delete_prefix(s3, "s3://out/run/") == 2
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="out")["Contents"]] == ["other/keep.txt"]
