"""Model cache tiers: order, atomic fill, S3 refresh, invalidation, lock between jobs, offline use."""

import json
import subprocess
import sys
import textwrap

import boto3
import pytest
from moto import mock_aws

from gr00t_core.errors import ModelFetchError
from sagemaker_entry.model_cache import RECORD, LocalTier, ModelCache, S3Tier, Tier, cache_key, entry_is_complete

MODEL = "nvidia/GR00T-N1.5-3B"
KEY = cache_key(MODEL, "main")


class FakeHub:
    """Stands in for huggingface_hub.snapshot_download (no network here): writes a small snapshot."""

    def __init__(self):
        self.calls = []

    def __call__(self, repo_id, revision, dest, token):
        self.calls.append((repo_id, revision, token))
        (dest / "config.json").parent.mkdir(parents=True, exist_ok=True)
        (dest / "config.json").write_text(json.dumps({"model": repo_id}))
        (dest / "model.safetensors").write_bytes(b"\0" * 4096)


def _prefill(root, key=KEY):
    entry = root / key
    entry.mkdir(parents=True)
    (entry / "config.json").write_text("{}")
    (entry / RECORD).write_text(json.dumps({"files": {"config.json": 2}}))
    return entry


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="cache")
        yield client


def test_cache_key_is_safe_and_revision_specific():
    assert KEY == "nvidia--GR00T-N1.5-3B--main"
    assert cache_key(MODEL, "v1.0/x y") == "nvidia--GR00T-N1.5-3B--v1.0-x-y"


def test_hub_download_lands_atomically_and_refreshes_s3(tmp_path, s3):
    hub = FakeHub()
    cache = ModelCache([LocalTier(Tier.WARM_POOL, tmp_path / "wp", True)], s3=S3Tier(s3, "s3://cache/models/"),
                       hub_fetch=hub, token_provider=lambda: "hf_secret")
    result = cache.fetch(MODEL, "main")
    assert result.tier == Tier.HUB and result.path == tmp_path / "wp" / KEY and entry_is_complete(result.path)
    assert hub.calls == [(MODEL, "main", "hf_secret")]
    assert not list((tmp_path / "wp").glob(".tmp-*"))  # the temp folder was renamed into place
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="cache")["Contents"]}
    assert keys == {f"models/{KEY}/config.json", f"models/{KEY}/model.safetensors", f"models/{KEY}/{RECORD}"}
    assert any("refreshed the S3" in n for n in result.notes)
    # second run: served by the warm-pool tier, the hub is not asked again
    again = cache.fetch(MODEL, "main")
    assert again.tier == Tier.WARM_POOL and len(hub.calls) == 1


def test_tiers_are_tried_in_order(tmp_path, s3):
    hub = FakeHub()
    channel = tmp_path / "channel"
    _prefill(channel)
    tiers = [LocalTier(Tier.WARM_POOL, tmp_path / "wp", True), LocalTier(Tier.CHANNEL, channel, False)]
    assert ModelCache(tiers, hub_fetch=hub).fetch(MODEL, "main").tier == Tier.CHANNEL
    # S3 copy serves a fresh instance before the hub
    fresh = ModelCache([LocalTier(Tier.SCRATCH, tmp_path / "scratch", True)], s3=S3Tier(s3, "s3://cache/m"), hub_fetch=hub)
    fresh.fetch(MODEL, "main")  # hub -> S3 refreshed
    other = ModelCache([LocalTier(Tier.SCRATCH, tmp_path / "scratch2", True)], s3=S3Tier(s3, "s3://cache/m"), hub_fetch=hub)
    result = other.fetch(MODEL, "main")
    assert result.tier == Tier.S3 and (result.path / "model.safetensors").stat().st_size == 4096
    assert len(hub.calls) == 1


def test_incomplete_entry_is_refilled(tmp_path):
    root = tmp_path / "wp"
    entry = _prefill(root)
    (entry / "config.json").unlink()  # half-deleted entry: its record no longer matches
    result = ModelCache([LocalTier(Tier.WARM_POOL, root, True)], hub_fetch=FakeHub()).fetch(MODEL, "main")
    assert result.tier == Tier.HUB and entry_is_complete(entry)


def test_invalidate_clears_every_tier(tmp_path, s3):
    hub = FakeHub()
    cache = ModelCache([LocalTier(Tier.WARM_POOL, tmp_path / "wp", True), LocalTier(Tier.CHANNEL, tmp_path / "fs", True)],
                       s3=S3Tier(s3, "s3://cache/m/"), hub_fetch=hub)
    _prefill(tmp_path / "fs")
    cache.fetch(MODEL, "main")  # served by the channel
    cache.s3.upload(KEY, tmp_path / "fs" / KEY)
    result = cache.fetch(MODEL, "main", invalidate=True)
    assert result.tier == Tier.HUB and len(hub.calls) == 1
    assert not (tmp_path / "fs" / KEY).exists()
    assert "cleared model_cache channel, S3 model cache" in result.notes[0]


def test_builtin_without_cached_model_starts_from_random_init(tmp_path):
    result = ModelCache([LocalTier(Tier.SCRATCH, tmp_path, True)], hub_fetch=None).fetch(MODEL, "main")
    assert result.path is None and result.tier == Tier.NONE


def test_local_directory_works_offline(tmp_path):
    (tmp_path / "my-model").mkdir()
    result = ModelCache([LocalTier(Tier.SCRATCH, tmp_path / "s", True)]).fetch(str(tmp_path / "my-model"), "main")
    assert result.tier == Tier.LOCAL_PATH and result.path == tmp_path / "my-model"
    with pytest.raises(ModelFetchError, match="no such folder exists"):
        ModelCache([LocalTier(Tier.SCRATCH, tmp_path / "s", True)]).fetch(str(tmp_path / "missing"), "main")


def _hold_lock(root, seconds, fill):
    code = textwrap.dedent(f"""
        import fcntl, json, os, sys, time, pathlib
        root = pathlib.Path({str(root)!r})
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".locks" / "{KEY}.lock", os.O_RDWR | os.O_CREAT)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep({seconds})
        if {fill}:
            tmp = root / ".tmp-other"
            tmp.mkdir()
            (tmp / "config.json").write_text("{{}}")
            (tmp / "{RECORD}").write_text(json.dumps({{"files": {{"config.json": 2}}}}))
            tmp.rename(root / "{KEY}")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_job_waits_for_the_lock_and_uses_the_entry_filled_by_the_first(tmp_path):
    root = tmp_path / "efs"
    other = _hold_lock(root, 1.5, fill=True)
    hub = FakeHub()
    result = ModelCache([LocalTier(Tier.CHANNEL, root, True)], hub_fetch=hub).fetch(MODEL, "main")
    other.wait()
    assert result.tier == Tier.CHANNEL and hub.calls == []


def test_lock_timeout_is_a_clear_error(tmp_path):
    root = tmp_path / "efs"
    other = _hold_lock(root, 30, fill=False)
    try:
        ticks = iter(range(0, 10_000, 100))
        cache = ModelCache([LocalTier(Tier.CHANNEL, root, True)], hub_fetch=FakeHub(), lock_timeout=250,
                           clock=lambda: next(ticks), sleep=lambda s: None)
        with pytest.raises(ModelFetchError, match="waiting for another job"):
            cache.fetch(MODEL, "main")
    finally:
        other.kill()
        other.wait()


# --- the real huggingface_hub client against a loopback hub ------------------------------------------------
from gr00t_aws.hf_hub import download_snapshot  # noqa: E402
from tests.sagemaker_entry.fakehub import FakeHub as LoopbackHub  # noqa: E402


def _hub_fetch(url):
    return lambda repo, rev, dest, token: download_snapshot(repo, rev, dest, token=token, endpoint=url)


def test_real_hub_client_download_fills_the_cache(tmp_path, s3):
    with LoopbackHub({"config.json": b"{}", "model.safetensors": b"\1" * 3000}) as hub:
        cache = ModelCache([LocalTier(Tier.SCRATCH, tmp_path, True)], s3=S3Tier(s3, "s3://cache/m/"),
                           hub_fetch=_hub_fetch(hub.url), token_provider=lambda: "hf_good")
        result = cache.fetch(MODEL, "main")
    assert result.tier == Tier.HUB
    assert sorted(p.name for p in result.path.iterdir()) == [RECORD, "config.json", "model.safetensors"]


@pytest.mark.parametrize("token,match", [("hf_wrong", "HTTP 401.*missing, wrong or expired"), (None, "HTTP 401")])
def test_wrong_or_missing_token_is_a_clear_error_and_never_shown(tmp_path, token, match):
    with LoopbackHub({"config.json": b"{}"}) as hub:
        cache = ModelCache([LocalTier(Tier.SCRATCH, tmp_path, True)], hub_fetch=_hub_fetch(hub.url), token_provider=lambda: token)
        with pytest.raises(ModelFetchError, match=match) as info:
            cache.fetch(MODEL, "main")
    assert "hf_wrong" not in str(info.value)
    assert not (tmp_path / KEY).exists() and not list(tmp_path.glob(".tmp-*"))


def test_unreachable_hub_says_how_to_work_offline(tmp_path):
    cache = ModelCache([LocalTier(Tier.SCRATCH, tmp_path, True)], hub_fetch=_hub_fetch("http://127.0.0.1:9"))
    with pytest.raises(ModelFetchError, match="unreachable.*pre-fill the model cache"):
        cache.fetch(MODEL, "main")


def test_builtin_engine_passes_over_models_it_cannot_use(tmp_path, s3):
    from sagemaker_entry.builtin.checkpoint import POLICY_FILE
    from sagemaker_entry.engines import BUILTIN_POLICY_FILE

    assert BUILTIN_POLICY_FILE == POLICY_FILE
    gr00t_copy = _prefill(tmp_path / "wp")  # a GR00T snapshot: no builtin policy file
    s3tier = S3Tier(s3, "s3://cache/m/")
    s3tier.upload(KEY, gr00t_copy)
    cache = ModelCache([LocalTier(Tier.WARM_POOL, tmp_path / "wp", True)], s3=s3tier, required_file=POLICY_FILE)
    result = cache.fetch(MODEL, "main")
    assert result.path is None and result.tier == Tier.NONE and gr00t_copy.exists()
    (gr00t_copy / POLICY_FILE).write_text("{}")
    assert cache.fetch(MODEL, "main").tier == Tier.WARM_POOL
