"""A CreateTrainingJob request turned into something this machine can run, and the outcome of running it.

How the request maps onto the local runners (both honour the same SageMaker contract):

| request field | local mode |
|---|---|
| ``HyperParameters`` | ``/opt/ml/input/config/hyperparameters.json`` (process runner: also ``SM_HPS``) |
| ``InputDataConfig`` S3 channels | the prefix is downloaded from the emulated S3 into a folder mounted (container) or linked (process) at ``/opt/ml/input/data/<channel>`` |
| ``InputDataConfig`` file-system channels (FSx / EFS) | skipped with a note: no such file system here; the job falls back to its next cache tier |
| ``ResourceConfig.InstanceCount`` | that many containers ``algo-1..N`` on one compose network (container) or processes (process) |
| ``ResourceConfig.InstanceType`` | runs as ``local_cpu``; the requested type is kept in ``current_instance_type`` |
| ``Environment`` | the job's environment, plus the emulator's endpoint and credentials |
| ``StoppingCondition.MaxRuntimeInSeconds`` | the job is stopped (SIGTERM, then SIGKILL) when it runs longer |
| ``OutputDataConfig`` | ``/opt/ml/model`` is copied to ``{S3OutputPath}{job}/output/`` (``model/`` or ``model.tar.gz``) |
| ``CheckpointConfig``, warm pools, spot, VPC | not emulated (noted): one attempt, no restore |
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

FAILURE_REASON_LIMIT = 1024  # SageMaker keeps the first 1024 characters of /opt/ml/output/failure


@dataclass(frozen=True)
class LocalJob:
    name: str
    arn: str
    hyperparameters: dict[str, str]
    channels: dict[str, Path]  # channel name -> local folder holding its data
    instance_count: int
    instance_type: str  # as requested; runs on this machine's CPU
    environment: dict[str, str]
    role_arn: str = ""
    max_runtime_seconds: int | None = None
    output_s3_uri: str = ""  # OutputDataConfig.S3OutputPath
    compress_model: bool = True  # OutputDataConfig.CompressionType != NONE
    notes: tuple[str, ...] = ()  # where local mode differs from SageMaker for this request

    @property
    def hosts(self) -> list[str]:
        return [f"algo-{i}" for i in range(1, self.instance_count + 1)]


@dataclass
class JobResult:
    runner: str  # "process" | "container"
    status: str  # Completed | Failed | Stopped (DescribeTrainingJob's TrainingJobStatus)
    failure_reason: str = ""
    secondary_status: str = ""
    started: datetime | None = None
    ended: datetime | None = None
    exit_codes: dict[str, int] = field(default_factory=dict)
    log_file: Path | None = None
    model_dir: Path | None = None  # the leader's /opt/ml/model after the job


def materialize(request: Mapping[str, Any], arn: str, download, workdir: Path) -> LocalJob:
    """Download the request's S3 channels into ``workdir/channels/`` and return the job to run.

    ``download(uri, dest) -> int`` copies an S3 prefix into a folder (the emulator's :meth:`download_prefix`).
    """
    notes: list[str] = []
    channels: dict[str, Path] = {}
    for channel in request.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        source = channel.get("DataSource") or {}
        if "S3DataSource" in source:
            s3 = source["S3DataSource"]
            if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
                notes.append(f"channel {name}: S3DataType {s3.get('S3DataType')} is not emulated; channel skipped")
                continue
            dest = workdir / "channels" / name
            dest.mkdir(parents=True, exist_ok=True)
            download(s3["S3Uri"], dest)
            channels[name] = dest
        elif "FileSystemDataSource" in source:
            fs = source["FileSystemDataSource"]
            notes.append(f"channel {name}: {fs.get('FileSystemType')} file system {fs.get('FileSystemId')} does not "
                         "exist on this machine; channel skipped (the job uses its next model-cache tier)")
    resource = request.get("ResourceConfig") or {}
    stopping = request.get("StoppingCondition") or {}
    output = request.get("OutputDataConfig") or {}
    if request.get("CheckpointConfig"):
        notes.append("CheckpointConfig: checkpoints stay in the job's /opt/ml/checkpoints (no S3 sync, no restore)")
    if resource.get("KeepAlivePeriodInSeconds"):
        notes.append("warm pool: not emulated (every local job starts cold)")
    if request.get("EnableManagedSpotTraining"):
        notes.append("managed spot: not emulated (no interruptions)")
    return LocalJob(
        name=request["TrainingJobName"],
        arn=arn,
        hyperparameters={str(k): str(v) for k, v in (request.get("HyperParameters") or {}).items()},
        channels=channels,
        instance_count=int(resource.get("InstanceCount") or 1),
        instance_type=str(resource.get("InstanceType") or ""),
        environment={str(k): str(v) for k, v in (request.get("Environment") or {}).items()},
        role_arn=str(request.get("RoleArn") or ""),
        max_runtime_seconds=int(stopping["MaxRuntimeInSeconds"]) if stopping.get("MaxRuntimeInSeconds") else None,
        output_s3_uri=str(output.get("S3OutputPath") or ""),
        compress_model=str(output.get("CompressionType") or "GZIP").upper() != "NONE",
        notes=tuple(notes),
    )


def failure_reason(failure_files: list[Path], exit_codes: Mapping[str, int]) -> str:
    """FailureReason as SageMaker words it: the first failure file found, else the exit codes."""
    for path in failure_files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            return f"AlgorithmError: {text}"[:FAILURE_REASON_LIMIT]
    failed = ", ".join(f"{host} exited with code {code}" for host, code in exit_codes.items() if code != 0)
    return (f"AlgorithmError: {failed or 'the training container failed'}; no /opt/ml/output/failure was written "
            "(see the job log)")[:FAILURE_REASON_LIMIT]


def model_artifacts(model_dir: Path | None, job: LocalJob, upload) -> str:
    """Copy /opt/ml/model to ``{S3OutputPath}{job}/output/`` like SageMaker; returns the URI ('' when empty).

    ``upload(path, uri)`` puts one file.
    """
    if not job.output_s3_uri or model_dir is None or not model_dir.is_dir():
        return ""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    base = f"{job.output_s3_uri.rstrip('/')}/{job.name}/output/"
    if job.compress_model:
        archive = model_dir.parent / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in files:
                tar.add(path, arcname=path.relative_to(model_dir).as_posix())
        upload(archive, base + "model.tar.gz")
        return base + "model.tar.gz"
    for path in files:
        upload(path, base + "model/" + path.relative_to(model_dir).as_posix())
    return base + "model/" if files else ""
