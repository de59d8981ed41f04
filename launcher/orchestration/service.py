"""Launching and stopping the training job for one VAMS pipeline event: the domain behind the Lambdas and the CLI.

``handle_launch_event`` parses the event, reads ``gr00t_config.json`` and the dataset's meta files from S3,
resolves and preflights the config, starts (or adopts) the job and stores the task token. Any user error is
answered with SendTaskFailure right away, with a reason a VAMS user can act on, and nothing is launched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gr00t_aws.callbacks import error_name, send_failure
from gr00t_aws.clients import AwsClients
from gr00t_aws.s3_assets import prefix_exists, prefix_reader, read_object
from gr00t_aws.sagemaker_jobs import (
    TERMINAL_STATUSES,
    LaunchResult,
    adopted_result,
    create_or_adopt,
    describe_job,
    is_capacity_failure,
    output_folder_uri,
    stop_job,
)
from gr00t_aws.task_tokens import TaskTokenStore, TokenState
from gr00t_core.data_configs import backend_problem
from gr00t_core.errors import DatasetError, EventError, SettingsError, UserError
from gr00t_core.parameters import dataset_paths
from gr00t_core.resolution import CONFIG_FILE_NAME, CONFIG_MAX_BYTES, ResolvedConfig, parse_config_file, resolve
from gr00t_data.meta import check_meta
from launcher.orchestration.completion import FALLBACKS_ATTRIBUTE, on_job_state_change
from launcher.orchestration.limits import create_training_job_model, validate_training_job_request
from launcher.orchestration.policy import enforce_policy
from launcher.orchestration.request import (
    RunSpec,
    build_training_job_request,
    instance_types_to_try,
    job_name_for,
    relaunch_job_name,
    run_spec,
)
from launcher.orchestration.settings import DeploymentSettings, env_name
from launcher.orchestration.vams import (
    AssetLocation,
    RunOrigin,
    VamsEvent,
    asset_location,
    find_task_token,
    flatten_asset_metadata,
    parse_vams_event,
    run_origin,
)

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass
class RunPlan:
    """Everything decided before anything is started: safe to print (``--dry-run``) or to launch."""

    event: VamsEvent
    location: AssetLocation
    origin: RunOrigin
    config: ResolvedConfig
    run: RunSpec
    dataset: dict[str, Any] = field(default_factory=dict)  # check_meta's summary
    warnings: list[str] = field(default_factory=list)

    def request(self, settings: DeploymentSettings, instance_type: str | None = None) -> dict[str, Any]:
        return build_training_job_request(self.config, settings, self.run, instance_type=instance_type)


def read_config_file(s3: S3Client, location: AssetLocation) -> dict[str, Any] | None:
    """gr00t_config.json at the asset root, parsed; None when the asset has none."""
    raw = read_object(s3, location.bucket, location.key(CONFIG_FILE_NAME), max_bytes=CONFIG_MAX_BYTES)
    if raw is None:
        return None
    return parse_config_file(raw, name=location.uri(CONFIG_FILE_NAME))


def resolve_for_event(event: VamsEvent, file_values: Mapping[str, Any] | None) -> ResolvedConfig:
    body = event.body
    return resolve(
        file=file_values,
        run=body.gr00tRunParameters or None,
        metadata=flatten_asset_metadata(body.inputMetadata),
        parameters=body.inputParameters,
    )


def check_dataset(s3: S3Client, location: AssetLocation, config: ResolvedConfig) -> tuple[dict[str, Any], list[str]]:
    """Preflight the meta files of each dataset (several are mixed in training); DatasetError lists every
    blocking problem, each naming its dataset."""
    paths = dataset_paths(config["datasetPath"])
    if len(paths) == 1:
        return _check_one_dataset(s3, location, config, paths[0])
    summaries: list[dict[str, Any]] = []
    warnings: list[str] = []
    problems: list[str] = []
    for path in paths:
        try:
            summary, found = _check_one_dataset(s3, location, config, path)
        except DatasetError as exc:
            problems.extend(p if p.startswith(f"{path}/") else f"dataset {path}/: {p}" for p in exc.problems)
            continue
        summaries.append({"path": path, **summary})
        warnings.extend(f"dataset {path}/: {w}" for w in found)
    if problems:
        raise DatasetError(problems, header=f"{len(paths)} datasets named by datasetPath: not all are ready for training")
    return {"path": ",".join(paths), "datasets": summaries}, warnings


def _check_one_dataset(s3: S3Client, location: AssetLocation, config: ResolvedConfig, dataset_path: str) -> tuple[dict[str, Any], list[str]]:
    prefix = location.key(f"{dataset_path}/")
    uri = location.uri(f"{dataset_path}/")
    if not prefix_exists(s3, location.bucket, prefix):
        raise DatasetError(
            [
                f"nothing found under {uri}: upload the LeRobot dataset (meta/, data/, videos/) into the asset folder "
                f"{dataset_path!r}, or set datasetPath in {CONFIG_FILE_NAME} to the folder that holds it (the asset "
                "folder is the event's bucketAsset + inputAssetLocationKey, else the folder of inputS3AssetFilePath)"
            ],
            header="The asset has no dataset",
        )
    report = check_meta(prefix_reader(s3, location.bucket, prefix), config["dataConfig"])
    # The codec rule from info.json's video.codec; the container probes the files again before training.
    problem = backend_problem(config["videoBackend"], report.summary.get("cameras") or {}) if report.summary else None
    if report.errors or problem:
        raise DatasetError([*report.errors, *([problem] if problem else [])], header=f"The dataset at {uri} is not ready for training")
    return dict(report.summary), list(report.warnings)


def plan_run(
    event: VamsEvent,
    settings: DeploymentSettings,
    s3: S3Client,
    *,
    now: datetime,
    read_files: bool = True,
) -> RunPlan:
    """Resolve and preflight one run. ``read_files=False`` skips S3 (``--dry-run`` without credentials)."""
    location = asset_location(event.body)
    origin = run_origin(event, location)
    file_values = read_config_file(s3, location) if read_files else None
    config = resolve_for_event(event, file_values)
    enforce_policy(config, settings)
    dataset, warnings = check_dataset(s3, location, config) if read_files else ({}, [])
    run = run_spec(config, settings, origin, location, started=now)
    return RunPlan(event, location, origin, config, run, dataset, [*config.warnings, *warnings])


def _follow_relaunches(result: LaunchResult, sm: SageMakerClient) -> LaunchResult:
    """An adopted job that found no capacity may have been replaced already (job events): adopt the replacement."""
    while result.adopted and result.description and is_capacity_failure(result.description):
        replacement = describe_job(sm, relaunch_job_name(result.job_name))
        if replacement is None:
            break
        result = adopted_result(replacement)
    return result


def remaining_fallbacks(config: ResolvedConfig, instance_type: str) -> list[str]:
    """Instance types still to try after ``instance_type`` when SageMaker has no capacity for the job."""
    types = instance_types_to_try(config)
    return types[types.index(instance_type) + 1 :] if instance_type in types else []


def launch_plan(plan: RunPlan, settings: DeploymentSettings, sm: SageMakerClient) -> LaunchResult:
    """Start the job (capacity fallback across the configured types) or adopt the one already running."""
    missing = settings.missing_for_launch()
    if missing:
        raise SettingsError(f"cannot start a training job: set {', '.join(missing)} (the launch Lambda's environment or --settings)")
    operation = create_training_job_model(sm)
    result = create_or_adopt(
        sm,
        lambda itype: plan.request(settings, itype),
        instance_types_to_try(plan.config),
        validate=lambda request: validate_training_job_request(request, operation),
    )
    return _follow_relaunches(result, sm)


def _token_store(settings: DeploymentSettings, clients: AwsClients, clock: Callable[[], float]) -> TaskTokenStore:
    if not settings.token_table:
        raise SettingsError(f"{env_name('token_table')} is not set: the launch Lambda needs the task-token table")
    return TaskTokenStore(clients.dynamodb, settings.token_table, clock=clock)


def _reject(token: str | None, exc: UserError, clients: AwsClients) -> dict[str, Any]:
    if token is None:
        raise exc  # nobody to call back: failing the invocation shows the error now instead of after the timeout
    name = error_name(exc)
    outcome = send_failure(clients.stepfunctions, token, name, str(exc))
    return {"status": "REJECTED", "error": name, "cause": str(exc), "callback": outcome.value}


def handle_launch_event(
    raw_event: Any,
    settings: DeploymentSettings | Callable[[], DeploymentSettings],
    clients: AwsClients,
    *,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The launch Lambda's whole job. Returns a small outcome (the workflow ignores it; logs and tests use it).

    A retried invocation that adopts a job which already ended answers its new token at once. ``settings`` may
    be a loader, so that broken deployment settings are reported to the workflow like any other error.
    """
    token = find_task_token(raw_event)
    try:
        if callable(settings):
            settings = settings()
        event = parse_vams_event(raw_event)
        if event.task_token is None:
            raise EventError(
                "The pipeline event has no TaskToken: register the pipeline with waitForCallback 'Enabled' "
                "(the training job reports back through the callback)"
            )
        store = _token_store(settings, clients, clock)
        now = datetime.fromtimestamp(clock(), UTC)
        plan = plan_run(event, settings, clients.s3, now=now)
        result = launch_plan(plan, settings, clients.sagemaker)
    except UserError as exc:
        return _reject(token, exc, clients)

    folder = output_folder_uri(result.description) if result.adopted and result.description else plan.run.identity.output_prefix_uri
    store.save(
        result.job_name,
        event.task_token,
        ttl_seconds=settings.token_ttl_seconds,
        attributes={
            "outputFolderUri": folder,
            "instanceType": result.instance_type,
            "assetId": plan.origin.asset_id,
            "databaseId": plan.origin.database_id,
            "executionId": plan.origin.execution_id,
            FALLBACKS_ATTRIBUTE: ",".join(remaining_fallbacks(plan.config, result.instance_type)),
        },
    )
    if result.adopted and result.status in TERMINAL_STATUSES and result.description:
        on_job_state_change(result.description, store=store, sfn=clients.stepfunctions, sm=clients.sagemaker)
    return {
        "status": "ADOPTED" if result.adopted else "LAUNCHED",
        "trainingJobName": result.job_name,
        "trainingJobStatus": result.status,
        "instanceType": result.instance_type,
        "refusedInstanceTypes": [{"instanceType": t, "reason": why} for t, why in result.refused],
        "outputFolderUri": folder,
        "dataset": plan.dataset,
        "warnings": [*plan.warnings, *result.warnings],
    }


def handle_stop_event(raw_event: Any, settings: DeploymentSettings, clients: AwsClients, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Stop the job of a run whose workflow gave up (timeout or failure) so no GPU keeps running for nobody."""
    event = parse_vams_event(raw_event)
    origin = run_origin(event, asset_location(event.body))
    job_name = job_name_for(origin, settings)
    description = describe_job(clients.sagemaker, job_name)
    if description is not None:  # after a capacity failure the run goes on in a replacement job: stop that one
        job_name = _follow_relaunches(adopted_result(description), clients.sagemaker).job_name
    stopped = stop_job(clients.sagemaker, job_name)
    if settings.token_table:
        store = _token_store(settings, clients, clock)
        record = store.get(job_name)
        if record is not None and record.state is TokenState.WAITING:
            store.claim(record, TokenState.STOPPED)
    return {"trainingJobName": job_name, "stopRequested": stopped}
