"""Everything the container writes for VAMS passes VAMS's file checks (content types, refused kinds; moto S3).

VAMS's process-outputs step (awslabs/visual-asset-management-system, release 2.5,
backend/backend/handlers/workflows/processWorkflowExecutionOutput.py ``verify_get_path_objects``) runs
backend/backend/common/s3.py ``validateS3AssetExtensionsAndContentType`` on the run's files/, previews/ and
metadata/ prefixes: it heads every object and calls ``validateUnallowedFileExtensionAndContentType(key,
head_object(...)['ContentType'])``, which refuses when

    contentType in UNALLOWED_MIME_LIST                      (exact string, case-sensitive)
    os.path.splitext(keyPath)[1] and os.path.splitext(keyPath)[1] in UNALLOWED_FILE_EXTENSION_LIST

(the extension keeps its dot and its case; ``.complete`` has none). One refusal raises, the handler logs it and
registers nothing from that prefix, and the workflow still succeeds. The lists below are
backend/backend/common/constants.py of the same release (duplicates dropped).
"""

import os

import boto3
import pytest
from moto import mock_aws

from gr00t_aws import uploads
from gr00t_core.content_types import DEFAULT_CONTENT_TYPE, REFUSED_EXTENSIONS, content_type, refused_by_vams
from sagemaker_entry.checkpoints import UploadManifest
from sagemaker_entry.outputs import OutputPublisher

UNALLOWED_FILE_EXTENSION_LIST = [
    ".jar", ".java", ".com", ".php", ".reg", ".pif", ".bak", ".dll", ".exe", ".nat", ".cmd", ".lnk", ".docm", ".vbs",
    ".bat",
]
UNALLOWED_MIME_LIST = [
    "application/java-archive",
    "application/x-python-code",
    "text/x-python-source",
    "text/x-java-source",
    "application/x-sh",
    "application/java-vm",
    "application/x-msdownload",
    "application/x-php",
    "application/x-ms-dos-executable",
    "application/x-ini",
    "application/x-inf",
    "application/x-sql",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/x-ms-shortcut",
    "application/x-bat-script",
    "application/vnd.ms-word.document.macroEnabled.12",
    "application/javascript",
    "application/x-vbs",
    "application/x-powershell",
    "application/x-msdos-program",
    "application/vbscript",
    "application/powershell",
]

FILES = "pipelines/gr00t-sagemaker-finetune/3f9c2-gr00t-sagemaker-finetune/output/e1/files/"
OUTPUT = f"s3://assets/{FILES}gr00tOutput_N1.5-3B_trainingjob_20260101T000000_abc/"
# What an Isaac-GR00T (Hugging Face Trainer) or builtin checkpoint folder and the run's top level hold.
CHECKPOINT_FILES = [
    "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
    "model.safetensors.index.json", "optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin",
    "trainer_state.json", "experiment_cfg/metadata.json", "README.md", "eval/episodes.jsonl", "eval/plot.png",
    "latest", ".complete",
]
REFUSED_FILES = ["modeling_gr00t.py", "launch.sh", "tools/convert.EXE"]


def vams_refuses(key: str, content: str) -> bool:
    extension = os.path.splitext(key)[1]
    return content in UNALLOWED_MIME_LIST or bool(extension and extension in UNALLOWED_FILE_EXTENSION_LIST)


NAMES = CHECKPOINT_FILES + REFUSED_FILES + [
    "a.json", "b.JSON", "c.jar", "d.txt", "e.yaml", "f.csv", "g.mp4", "h.parquet", "noext", "dir.v2/file", "x.tar.gz",
]


@pytest.mark.parametrize("name", NAMES)
def test_no_content_type_is_one_vams_refuses(name):
    assert content_type(name) not in UNALLOWED_MIME_LIST


def test_every_extension_vams_refuses_is_refused_in_any_case():
    for ext in UNALLOWED_FILE_EXTENSION_LIST:
        assert refused_by_vams(f"ckpt/file{ext}") and refused_by_vams(f"ckpt/FILE{ext.upper()}")
    assert REFUSED_EXTENSIONS >= set(UNALLOWED_FILE_EXTENSION_LIST)


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_checkpoint_files_are_written_and_accepted(name):
    assert not refused_by_vams(name) and not vams_refuses(name, content_type(name))


@pytest.mark.parametrize(("name", "expected"), [
    ("model.safetensors", DEFAULT_CONTENT_TYPE), ("config.json", "application/json"), ("loss.PNG", "image/png"),
    ("README.md", "text/markdown"), ("eval/episodes.jsonl", "application/jsonl"), (".complete", DEFAULT_CONTENT_TYPE),
    ("checkpoint-2/.complete", DEFAULT_CONTENT_TYPE), ("a.b/latest", DEFAULT_CONTENT_TYPE),
])
def test_content_type_follows_the_file_name(name, expected):
    assert content_type(name) == expected


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="assets")
        yield client


def _objects(s3):
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="assets", Prefix=FILES).get("Contents", [])]
    return {key: s3.head_object(Bucket="assets", Key=key)["ContentType"] for key in keys}


def test_a_published_checkpoint_passes_vams_and_refused_files_stay_out(tmp_path, s3):
    ck = tmp_path / "checkpoints"
    for rel in CHECKPOINT_FILES + REFUSED_FILES:
        for root in (ck / "checkpoint-2", ck / "final"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"x" * 64)
    (ck / "checkpoint-2" / "model-00001-of-00002.safetensors").write_bytes(os.urandom(6 * uploads.MIB))  # multipart
    (ck / "train_result.json").write_text("{}")
    (ck / "run.bat").write_text("@echo off")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "run_summary.json").write_text("{}")
    (reports / "loss_curve.png").write_bytes(b"\x89PNG")
    pub = OutputPublisher(s3, OUTPUT, ck, UploadManifest(ck / ".gr00t-uploads.json", OUTPUT), engine="builtin",
                          config=uploads.transfer_config(chunk_mib=5))
    pub.finish()
    pub.upload_reports({p.name: p for p in reports.iterdir()})

    objects = _objects(s3)
    written = {key.split("gr00tOutput_", 1)[1].split("/", 1)[1] for key in objects}
    expected_checkpoint = {f"{folder}/{rel}" for folder in ("checkpoint-2", "final") for rel in CHECKPOINT_FILES}
    assert written == expected_checkpoint | {"train_result.json", "run_summary.json", "loss_curve.png"}
    assert [key for key, content in objects.items() if vams_refuses(key, content)] == []
    assert all(content == content_type(key) for key, content in objects.items()), objects
    assert objects[f"{OUTPUT[len('s3://assets/'):]}loss_curve.png"] == "image/png"

    skipped = {f"{folder}/{rel}" for folder in ("checkpoint-2", "final") for rel in REFUSED_FILES} | {"run.bat"}
    assert set(pub.stats.skipped) == skipped
    assert all(any(rel in w and "VAMS refuses" in w for w in pub.stats.warnings) for rel in skipped)
    warned = list(pub.stats.warnings)
    pub.finish()  # a second pass neither writes them nor warns again
    assert pub.stats.warnings == warned and _objects(s3) == objects


def test_put_json_is_written_as_json(s3):
    uploads.put_json(s3, "s3://assets/pipelines/p/j/output/e/metadata/asset.metadata.json", {"a": 1})
    head = s3.head_object(Bucket="assets", Key="pipelines/p/j/output/e/metadata/asset.metadata.json")
    assert head["ContentType"] == "application/json"
