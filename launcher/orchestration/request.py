"""The CreateTrainingJob request, built by pure functions from the resolved config, the deployment settings
and the run (who asked, where the asset and its outputs live, which attempt).

Nothing here calls AWS: the Lambda, ``gr00t-sm launch`` and ``--dry-run`` share these functions, and the tests
check their output against the SageMaker service model (botocore Stubber) and :mod:`launcher.orchestration.limits`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gr00t_core.data_configs import custom_config_file, is_custom_config
from gr00t_core.engines import spec_for
from gr00t_core.metrics import metric_definitions
from gr00t_core.naming import JOB_NAME_MAX, JOB_NAME_PATTERN, output_folder_name, run_hash, training_job_name
from gr00t_core.parameters import DATA_CONFIG_CHANNEL, dataset_channel, dataset_paths
from gr00t_core.resolution import PROVENANCE_HYPERPARAMETER, ResolvedConfig
from gr00t_core.run import TENSORBOARD_LOCAL_PATH, RunIdentity
from launcher.orchestration.limits import tag_character_ok
from launcher.orchestration.settings import DeploymentSettings
from launcher.orchestration.vams import AssetLocation, RunOrigin

DATASET_CHANNEL = "dataset"
MODEL_CACHE_CHANNEL = "model_cache"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# SageMaker retries a job that failed with an InternalServerError; it resumes from CheckpointConfig.
INTERNAL_ERROR_RETRIES = 2

# Visible to anyone who can describe the job: only harmless switches, never credentials.
JOB_ENVIRONMENT: dict[str, str] = {
    "PYTHONUNBUFFERED": "1",  # trainer lines reach CloudWatch (and MetricDefinitions) as they are printed
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "NCCL_DEBUG": "WARN",
}

TAG_PREFIX_VAMS = "vams:"
TAG_PREFIX_GR00T = "gr00t:"


@dataclass(frozen=True)
class RunSpec:
    """One run attempt: the job's name, the identity handed to the container and where its data lives."""

    job_name: str
    identity: RunIdentity
    dataset_uri: str  # s3://.../{datasetPath}/ : the (first) dataset's prefix, channel "dataset"
    work_uri: str  # s3://.../sagemaker/ : checkpoints, TensorBoard, SageMaker output (not registered in VAMS)
    attempt: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)
    more_dataset_uris: tuple[str, ...] = ()  # further datasets of datasetPath: channels dataset_2, dataset_3, ...
    data_config_uri: str | None = None  # s3://.../<module>.py of a module:Class data config: channel data_config


def job_name_for(origin: RunOrigin, settings: DeploymentSettings) -> str:
    """Deterministic: the same event (and attempt) always gives the same name, so a retry adopts the job."""
    asset_id, *identity = origin.run_key
    return training_job_name(asset_id, *identity, prefix=settings.job_name_prefix)


def tag_value(value: str) -> str:
    """A value SageMaker accepts as a tag (letters, digits, separators and ``_.:/=+-@``; at most 256 characters):
    anything else, a newline or tab from an id included, becomes ``_``."""
    return "".join(ch if tag_character_ok(ch) else "_" for ch in value[:256])


def run_tags(origin: RunOrigin, config: ResolvedConfig) -> dict[str, str]:
    """Tags that make the job findable in SageMaker Studio and Cost Explorer by asset, pipeline and user."""
    tags = {
        f"{TAG_PREFIX_VAMS}assetId": origin.asset_id,
        f"{TAG_PREFIX_VAMS}databaseId": origin.database_id,
        f"{TAG_PREFIX_VAMS}pipelineId": origin.pipeline_id,
        f"{TAG_PREFIX_VAMS}executionId": origin.execution_id,
        f"{TAG_PREFIX_VAMS}workflowId": origin.workflow_id,
        f"{TAG_PREFIX_VAMS}executingUser": origin.executing_user,
        f"{TAG_PREFIX_GR00T}baseModel": config["baseModelPath"],
        f"{TAG_PREFIX_GR00T}attempt": str(origin.attempt),
    }
    return {k: tag_value(v) for k, v in tags.items() if v}


def run_spec(
    config: ResolvedConfig,
    settings: DeploymentSettings,
    origin: RunOrigin,
    location: AssetLocation,
    *,
    started: datetime,
) -> RunSpec:
    """Everything about the run that does not depend on the instance type finally used."""
    job_name = job_name_for(origin, settings)
    identity = RunIdentity(
        asset_id=origin.asset_id,
        database_id=origin.database_id,
        output_files_uri=origin.output_files_uri,
        output_metadata_uri=origin.output_metadata_uri,
        output_preview_uri=origin.output_preview_uri,
        output_folder=output_folder_name(config["baseModelPath"], job_name, started),
        model_cache_uri=settings.model_cache_uri,
        hf_token_secret_id=settings.hf_token_secret_id,
        pipeline_id=origin.pipeline_id,
        workflow_id=origin.workflow_id,
        executing_user=origin.executing_user,
    )
    first, *more = dataset_paths(config["datasetPath"])
    custom = is_custom_config(config["dataConfig"])
    return RunSpec(
        job_name=job_name,
        identity=identity,
        dataset_uri=location.uri(f"{first}/"),
        work_uri=origin.work_uri,
        attempt=origin.attempt,
        tags=run_tags(origin, config),
        more_dataset_uris=tuple(location.uri(f"{path}/") for path in more),
        data_config_uri=location.uri(custom_config_file(config["dataConfig"])) if custom else None,
    )


def hyperparameters(config: ResolvedConfig, identity: RunIdentity, *, instance_type: str) -> dict[str, str]:
    """The resolved parameters, their provenance and the run identity, all as strings."""
    values = config.to_strings()
    values["instanceType"] = instance_type  # the type that actually runs (after a capacity fallback)
    return {**values, PROVENANCE_HYPERPARAMETER: config.provenance_json(), **identity.to_hyperparameters()}


def _s3_channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}},
        "InputMode": "File",
    }


def _channels(run: RunSpec, settings: DeploymentSettings) -> list[dict[str, Any]]:
    uris = (run.dataset_uri, *run.more_dataset_uris)
    channels: list[dict[str, Any]] = [_s3_channel(dataset_channel(i), uri) for i, uri in enumerate(uris)]
    if run.data_config_uri:
        channels.append(_s3_channel(DATA_CONFIG_CHANNEL, run.data_config_uri))
    if settings.has_file_system:
        channels.append(
            {
                "ChannelName": MODEL_CACHE_CHANNEL,
                "DataSource": {
                    "FileSystemDataSource": {
                        "FileSystemId": settings.file_system_id,
                        "FileSystemAccessMode": settings.file_system_access_mode,
                        "FileSystemType": settings.file_system_type,
                        "DirectoryPath": settings.file_system_directory,
                    }
                },
                "InputMode": "File",  # file-system channels only support File mode
            }
        )
    return channels


def build_training_job_request(
    config: ResolvedConfig,
    settings: DeploymentSettings,
    run: RunSpec,
    *,
    instance_type: str | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request for one run attempt on ``instance_type`` (default: the config's)."""
    v = config.values
    itype = instance_type or v["instanceType"]
    spot = bool(v["useSpot"])
    resource: dict[str, Any] = {
        "InstanceType": itype,
        "InstanceCount": v["instanceCount"],
        "VolumeSizeInGB": v["volumeSizeGb"],
    }
    if v["warmPoolKeepAliveSeconds"] > 0 and not spot:  # warm pools do not work with managed spot
        resource["KeepAlivePeriodInSeconds"] = v["warmPoolKeepAliveSeconds"]
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": v["maxRuntimeSeconds"]}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = v["maxWaitSeconds"] or 2 * v["maxRuntimeSeconds"]

    tags = dict(run.tags)
    if itype != v["instanceType"]:
        tags[f"{TAG_PREFIX_GR00T}requestedInstanceType"] = v["instanceType"]

    request: dict[str, Any] = {
        "TrainingJobName": run.job_name,
        "HyperParameters": hyperparameters(config, run.identity, instance_type=itype),
        "AlgorithmSpecification": {
            "TrainingImage": getattr(settings, spec_for(v).image_setting),  # the engine table's image
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": settings.role_arn,
        "InputDataConfig": _channels(run, settings),
        "OutputDataConfig": {
            "S3OutputPath": f"{run.work_uri}output/",
            # Checkpoints reach the asset folder file by file; a 7 GB model.tar.gz would only cost time.
            "CompressionType": "NONE",
        },
        "ResourceConfig": resource,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spot,
        # Always set: SageMaker restores it into a retried or spot-restarted job, which then resumes.
        "CheckpointConfig": {"S3Uri": f"{run.work_uri}checkpoints/", "LocalPath": CHECKPOINT_LOCAL_PATH},
        "TensorBoardOutputConfig": {"S3OutputPath": f"{run.work_uri}tensorboard/", "LocalPath": TENSORBOARD_LOCAL_PATH},
        "Environment": dict(JOB_ENVIRONMENT),
        "RetryStrategy": {"MaximumRetryAttempts": INTERNAL_ERROR_RETRIES},
        "Tags": [{"Key": k, "Value": val} for k, val in tags.items()],
    }
    if settings.asset_kms_key_arn:
        # SageMaker's own output (output/) is written with this key instead of the account's aws/s3 key.
        request["OutputDataConfig"]["KmsKeyId"] = settings.asset_kms_key_arn
    if settings.subnets:
        request["VpcConfig"] = {"SecurityGroupIds": list(settings.security_groups), "Subnets": list(settings.subnets)}
    return request


def instance_types_to_try(config: ResolvedConfig) -> list[str]:
    """The configured type, then the fallbacks in order, each once."""
    ordered = [config["instanceType"], *config["instanceTypeFallbacks"]]
    return list(dict.fromkeys(ordered))


# What a relaunch copies from DescribeTrainingJob: the members build_training_job_request sets, nothing that
# SageMaker fills in by itself (ProfilerConfig, DebugHookConfig, ...), which would change the job.
_RELAUNCH_MEMBERS = {
    "HyperParameters": None,
    "AlgorithmSpecification": ("TrainingImage", "TrainingInputMode", "MetricDefinitions", "EnableSageMakerMetricsTimeSeries"),
    "RoleArn": None,
    "InputDataConfig": None,
    "OutputDataConfig": ("S3OutputPath", "CompressionType", "KmsKeyId"),
    "ResourceConfig": ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId", "KeepAlivePeriodInSeconds"),
    "StoppingCondition": ("MaxRuntimeInSeconds", "MaxWaitTimeInSeconds"),
    "EnableManagedSpotTraining": None,
    "CheckpointConfig": None,
    "TensorBoardOutputConfig": None,
    "Environment": None,
    "RetryStrategy": None,
    "VpcConfig": None,
}


def relaunch_job_name(job_name: str) -> str:
    """The job that replaces ``job_name`` after SageMaker had no capacity for it: same start, new suffix.

    Deterministic, so the job-events Lambda and a retried launch agree on it and never start two.
    """
    suffix = run_hash(job_name, "capacity", length=5)
    name = f"{job_name[: JOB_NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"
    assert JOB_NAME_PATTERN.match(name), name
    return name


def relaunch_request(description: Mapping[str, Any], tags: list[dict[str, str]], *, job_name: str, instance_type: str) -> dict[str, Any]:
    """The CreateTrainingJob request of a described job, renamed and moved to another instance type."""
    request: dict[str, Any] = {"TrainingJobName": job_name}
    for member, keep in _RELAUNCH_MEMBERS.items():
        if member not in description:
            continue
        value = description[member]
        request[member] = {k: v for k, v in value.items() if k in keep} if keep else value
    request = json.loads(json.dumps(request, default=str))  # a deep copy the caller may change
    request["ResourceConfig"]["InstanceType"] = instance_type
    request["HyperParameters"]["instanceType"] = instance_type
    requested = f"{TAG_PREFIX_GR00T}requestedInstanceType"
    kept = [t for t in tags if t["Key"] != requested]
    original = next((t["Value"] for t in tags if t["Key"] == requested), description["ResourceConfig"]["InstanceType"])
    request["Tags"] = [*kept, {"Key": requested, "Value": original}]
    return request
