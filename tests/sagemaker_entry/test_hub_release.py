"""Release to the Hugging Face Hub through huggingface_hub's own client against a local stand-in of the Hub's
write API (tests/sagemaker_entry/hub_api_server.py lists the endpoints and where the client calls them)."""

from __future__ import annotations

import hashlib
import logging
import os

import pytest

from gr00t_core.errors import UploadError
from gr00t_core.parameters import PARAMETERS_BY_NAME, CoercionError, coerce
from sagemaker_entry.hub_release import release, release_files
from tests.sagemaker_entry.hub_api_server import HubApiServer

TOKEN = "hf_SECRETwriteTOKEN123"
FOLDER = "gr00tOutput_so101_trainingjob_20250101T000000_abc123"


@pytest.fixture
def checkpoint(tmp_path):
    ck = tmp_path / "checkpoint-50"
    (ck / "experiment_cfg").mkdir(parents=True)
    (ck / "model.safetensors").write_bytes(os.urandom(300_000))  # binary: the LFS path
    (ck / "builtin_policy.json").write_text('{"format": "gr00t-sm-builtin/1"}\n')
    (ck / "experiment_cfg" / "metadata.json").write_text('{"new_embodiment": {}}\n')
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", ".complete"):
        (ck / name).write_bytes(b"state")
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: apache-2.0\ntags:\n- robotics\n---\n\n# card\n")
    return ck, card


def test_one_private_commit_with_the_checkpoint_and_the_card(checkpoint, caplog):
    ck, card = checkpoint
    caplog.set_level(logging.DEBUG)
    with HubApiServer(token=TOKEN) as hub:
        url = release("my-org/so101-policy", ck, card, output_folder=FOLDER, token=TOKEN, endpoint=hub.url)
        repo = hub.repos["my-org/so101-policy"]
    assert repo.private is True
    assert len(repo.commits) == 1 and FOLDER in repo.commits[0]["summary"]
    files = repo.files()
    assert sorted(files) == ["README.md", "builtin_policy.json", "experiment_cfg/metadata.json", "model.safetensors"]
    assert hashlib.sha256(files["model.safetensors"]).digest() == hashlib.sha256((ck / "model.safetensors").read_bytes()).digest()
    assert files["README.md"] == card.read_bytes()
    oid = hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert ("PUT", f"/lfs-upload/{oid}?X-Signature={hub.signature}") in hub.requests
    assert url.startswith(f"{hub.url}/my-org/so101-policy/commit/")
    assert TOKEN not in caplog.text and TOKEN not in url


def test_an_existing_repo_gets_a_second_commit(checkpoint):
    ck, card = checkpoint
    with HubApiServer(token=TOKEN) as hub:
        release("my-org/p", ck, card, output_folder=FOLDER, token=TOKEN, endpoint=hub.url)
        release("my-org/p", ck, card, output_folder=FOLDER + "x", token=TOKEN, endpoint=hub.url)
        assert [c["summary"].split(":")[0] for c in hub.repos["my-org/p"].commits] == [FOLDER, FOLDER + "x"]
        # the LFS object was already there: the second batch answer has no upload action, nothing is PUT again
        assert sum(1 for m, _ in hub.requests if m == "PUT") == 1


def test_a_rejected_token_says_so_without_showing_it(checkpoint):
    ck, card = checkpoint
    with HubApiServer(token="hf_other") as hub, pytest.raises(UploadError, match="HTTP 401.*write access") as err:
        release("my-org/p", ck, card, output_folder=FOLDER, token=TOKEN, endpoint=hub.url)
    assert TOKEN not in str(err.value)


def test_no_token_is_one_clear_error(checkpoint):
    ck, card = checkpoint
    with pytest.raises(UploadError, match="hfTokenSecretId"):
        release("my-org/p", ck, card, output_folder=FOLDER, token=None, endpoint="http://127.0.0.1:9")


def test_release_files_leave_training_state_out(checkpoint):
    ck, card = checkpoint
    names = [p for p, _ in release_files(ck, card)]
    assert "optimizer.pt" not in names and "rng_state.pth" not in names and ".complete" not in names
    assert names.count("README.md") == 1


@pytest.mark.parametrize("value, ok", [
    ("", True), ("my-org/so101", True), ("a.b/c_d-e", True), ("noslash", False), ("a/b/c", False),
    ("a--b/c", False), ("a/" + "x" * 97, False), ("https://huggingface.co/a/b", False),
])
def test_hub_repo_id_parameter(value, ok):
    p = PARAMETERS_BY_NAME["hubRepoId"]
    if ok:
        assert coerce(p, value) == value
    else:
        with pytest.raises(CoercionError, match="owner/name"):
            coerce(p, value)
