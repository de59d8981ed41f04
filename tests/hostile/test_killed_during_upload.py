"""A job killed while a checkpoint is being copied, then restarted (issue #12, faults): no finished checkpoint is
lost and none is copied twice.

The first attempt runs the real checkpoint publisher (sagemaker_entry/outputs.py) in its own process against a moto
server; a botocore hook holds the upload of checkpoint-6's weights open, and the process is then killed with
SIGKILL, the harshest end (SIGTERM gives the entry time to finish, tested in tests/sagemaker_entry/
test_entry_e2e.py::test_sigterm_mid_run_then_resume). The restart reads the upload manifest the first attempt left
in the checkpoint folder (SageMaker's checkpoint sync restores that folder on a restarted job) and copies the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from gr00t_aws.uploads import transfer_config
from sagemaker_entry.checkpoints import MANIFEST_NAME, UploadManifest
from sagemaker_entry.outputs import OutputPublisher
from tests.entry_jobs import aws_env
from tests.hostile.test_faults import BUCKET, _checkpoints, _landed, endpoint, s3  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
FIRST_ATTEMPT = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    import boto3
    from gr00t_aws.clients import client_config
    from gr00t_aws.uploads import transfer_config
    from sagemaker_entry.checkpoints import MANIFEST_NAME, UploadManifest
    from sagemaker_entry.outputs import OutputPublisher

    ck, uri, endpoint = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    s3 = boto3.client("s3", endpoint_url=endpoint, config=client_config())
    held = threading.Event()

    def hold(request, **_):
        # checkpoint-6's weights: the copy in flight when the job is killed
        if "checkpoint-6/model.safetensors" in request.url:
            print("UPLOADING checkpoint-6", flush=True)
            held.wait()

    s3.meta.events.register("before-send.s3.*", hold)
    pub = OutputPublisher(s3, uri, ck, UploadManifest(ck / MANIFEST_NAME, uri), engine="builtin",
                          config=transfer_config(chunk_mib=5, concurrency=2), workers=1)
    pub.finish()
    """
)


def _sent_keys(client: Any) -> list[str]:
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        if request.method in ("PUT", "POST"):
            sent.append(request.url.split(f"/{BUCKET}/", 1)[-1].split("?", 1)[0])

    client.meta.events.register("before-send.s3.*", record)
    return sent


def test_a_job_killed_mid_copy_loses_no_finished_checkpoint_and_copies_none_twice(s3: Any, endpoint: str,  # noqa: F811
                                                                                    tmp_path: Path) -> None:
    ck = tmp_path / "checkpoints"
    made = _checkpoints(ck)
    prefix_key = "pipelines/p/killed/files/gr00tOutput_killed/"
    uri = f"s3://{BUCKET}/{prefix_key}"
    env = {**os.environ, **aws_env(endpoint), "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-c", FIRST_ATTEMPT, str(ck), uri, endpoint], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        for line in first.stdout:
            if line.startswith("UPLOADING checkpoint-6"):
                break
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, first.stderr.read() if first.stderr else ""
    before = _landed(s3, prefix_key, made)
    assert before == {"checkpoint-2", "checkpoint-4"}  # copied in order; checkpoint-6 was in flight

    sent = _sent_keys(s3)
    restart = OutputPublisher(s3, uri, ck, UploadManifest(ck / MANIFEST_NAME, uri), engine="builtin",
                              config=transfer_config(chunk_mib=5, concurrency=2), sleep=lambda s: None)
    restart.finish()
    assert _landed(s3, prefix_key, made) == set(made)  # nothing lost
    resent = {key.split("/")[-2] for key in sent if "/checkpoint-" in key}
    assert resent == {"checkpoint-6", "checkpoint-8"}  # the finished ones are not copied again
