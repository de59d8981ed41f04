"""``gr00t-sm local``: the whole pipeline on this machine, with AWS emulated and the training job run locally.

1. moto starts on loopback (:class:`~local_mode.emulator.AwsEmulator`); the asset folder is uploaded to a local
   S3 bucket in the VAMS layout; the task-token table and the Hugging Face token secret are created there.
2. The project's state machine (stepfunctions/gr00t_finetune.asl.json) runs in moto's Step Functions engine;
   its Lambda tasks run the real handlers (lambda_handler.launch / .stop) in this process.
3. The launch Lambda's CreateTrainingJob request is run by a local runner: SageMaker SDK local mode with the
   image from container/Dockerfile, or the same entry as local processes (:mod:`local_mode.runners`).
4. The job's terminal state becomes the EventBridge event the job-events Lambda receives; its callback ends the
   state machine. On success the output folder is registered into the asset folder as VAMS would.

Everything started here is stopped here, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gr00t_core import metrics
from gr00t_core.content_types import content_type
from gr00t_core.environ import environ
from gr00t_core.errors import UserError
from gr00t_core.run import RunIdentity
from gr00t_core.s3_uri import S3Uri
from launcher.orchestration.vams import build_body
from local_mode import docker_env
from local_mode import state_machine as sm
from local_mode.emulator import ACCOUNT_ID, AwsEmulator, Invocation
from local_mode.job import JobResult, materialize, model_artifacts
from local_mode.progress import ProgressView, problem_lines

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINE_FILE = REPO_ROOT / "stepfunctions" / "gr00t_finetune.asl.json"
ASSET_BUCKET = "vams-local-assets"
AUXILIARY_BUCKET = "vams-local-auxiliary"
# The id and output type deploy/vams_pipeline.json registers (tests/deploy/test_vams_registration.py checks it).
PIPELINE_ID = "gr00t-sagemaker-finetune"
OUTPUT_TYPE = ".all"
DATABASE_ID = "local"
TOKEN_TABLE = "vams-gr00t-task-tokens"
HF_TOKEN_SECRET = "vams-gr00t/huggingface-token"
SAGEMAKER_ROLE = "gr00t-sm-local-sagemaker"
# Lambda functions: ASL placeholder (None = not in the state machine) -> (function name, "module:handler")
LAMBDAS: dict[str, tuple[str, str]] = {
    "LaunchFunctionArn": ("vams-gr00t-launch", "lambda_handler.launch:handler"),
    "StopFunctionArn": ("vams-gr00t-stop", "lambda_handler.stop:handler"),
}
JOB_EVENTS_LAMBDA = ("vams-gr00t-job-events", "lambda_handler.job_events:handler")
LAUNCH_WAIT_SECONDS = 300  # the launch Lambda reads the asset and preflights it: seconds, not minutes
CALLBACK_WAIT_SECONDS = 120
VAMS_REGISTRATION_LIMIT = 1000  # VAMS lists the output folder with one list_objects_v2 call


class RunnerUnavailable(UserError, RuntimeError):
    """``--runner container`` was asked for but Docker cannot run here."""


@dataclass
class LocalRunOptions:
    asset_dir: Path
    input_parameters: dict[str, Any] = field(default_factory=dict)  # the pipeline's inputParameters
    runner: str = "auto"  # auto | container | process
    keep: Path | None = None  # dump emulated S3 here (one folder per bucket)
    register: bool = True  # copy the output folder into asset_dir, as VAMS registers it into the asset
    verbose: bool = False
    timeout_seconds: int = 28800  # the state machine task's timeout


@dataclass
class LocalRunResult:
    status: str  # the state machine's: SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    runner: str
    runner_reason: str  # why this runner
    error: str = ""
    cause: str = ""
    job_name: str = ""
    job: JobResult | None = None
    output_uri: str = ""
    output_dir: Path | None = None  # the registered copy in the asset folder
    output_files: list[str] = field(default_factory=list)  # keys relative to the output folder
    final_loss: float | None = None
    run_summary: Path | str | None = None
    kept: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


# --- pure helpers ---------------------------------------------------------------------------------------------
def vams_body(*, asset_id: str, asset_name: str, execution: str, input_parameters: Mapping[str, Any],
              bucket: str = ASSET_BUCKET, auxiliary_bucket: str = AUXILIARY_BUCKET, pipeline: str = PIPELINE_ID,
              database_id: str = DATABASE_ID, user: str = "local-user") -> dict[str, Any]:
    """The ``body`` VAMS sends its pipeline Lambda for a run on the asset's root (the one builder,
    :func:`launcher.orchestration.vams.build_body`, with the fields VAMS adds for a workflow run)."""
    job = f"{execution[:5]}-{pipeline}"
    metadata = {"VAMS": {"assetData": {"assetName": asset_name, "description": f"local asset {asset_name}", "tags": []},
                         "assetMetadata": {}, "fileMetadata": {}, "fileAttributes": {}}}
    return build_body(
        bucket=bucket, asset_key=f"{asset_id}/", asset_id=asset_id, database_id=database_id,
        output_root=f"s3://{bucket}/pipelines/{pipeline}/{job}/output/{execution}/",
        input_metadata=metadata, input_parameters=input_parameters, user=user,
        inputOutputS3AssetAuxiliaryFilesPath=f"s3://{auxiliary_bucket}/{asset_id}/pipelines/{pipeline}/",
        bucketAssetAuxiliary=auxiliary_bucket,
        inputAssetFileKey=f"{asset_id}/",
        outputType=OUTPUT_TYPE,
        executingRequestContext={"identity": {"sourceIp": "127.0.0.1", "userAgent": "gr00t-sm local"}},
        workflowDatabaseId=database_id,
        workflowId=pipeline,
    )


def choose_runner(requested: str, status_fn: Callable[[], docker_env.DockerStatus] = docker_env.docker_status
                  ) -> tuple[str, str, docker_env.DockerStatus | None]:
    """(runner, why, docker status)."""
    if requested == "process":
        return "process", "asked for with --runner process", None
    status = status_fn()
    if status.usable:
        return "container", f"Docker engine found ({' '.join(status.compose or [])})", status
    if requested == "container":
        raise RunnerUnavailable(f"--runner container needs Docker, but {status.reason}; use --runner process")
    return "process", f"no usable Docker engine: {status.reason}", status


def _handler(path: str) -> Callable[[Any, Any], Any]:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


# --- the run --------------------------------------------------------------------------------------------------
class LocalPipeline:
    def __init__(self, options: LocalRunOptions, out: TextIO, *, status_fn=docker_env.docker_status) -> None:
        self.options = options
        self.out = out
        self.view = ProgressView(out, verbose=options.verbose)
        self.status_fn = status_fn
        self.emulator: AwsEmulator | None = None
        self.work: Path | None = None

    def run(self) -> LocalRunResult:
        runner, why, status = choose_runner(self.options.runner, self.status_fn)
        image, host = "", None
        if runner == "container":
            try:
                host = self._host_address(status)
                image = self._image()
            except RunnerUnavailable as exc:
                if self.options.runner != "auto":
                    raise
                runner, why = "process", str(exc)
        self.view.step("runner", f"{runner} ({why})")
        with ExitStack() as stack:
            self.work = Path(tempfile.mkdtemp(prefix="gr00t-sm-local-"))
            stack.callback(shutil.rmtree, self.work, True)
            self.emulator = stack.enter_context(AwsEmulator(container_host=host, log_file=self.work / "moto.log"))
            self.view.step("emulator", f"moto on {self.emulator.endpoint}"
                           + (f" (containers: {self.emulator.container_endpoint})" if host else ""))
            stack.enter_context(environ(self._lambda_environment(image)))
            stack.enter_context(self._lambda_clients())
            result = LocalRunResult("RUNNING", runner, why)
            try:
                self._execute(result, image)
            finally:  # also after a failure: the emulated S3 is what one wants to look at then
                if self.options.keep is not None:
                    result.kept = self._keep(self.options.keep, result)
            return result

    @staticmethod
    def _host_address(status: docker_env.DockerStatus | None) -> docker_env.HostAddress:
        assert status is not None
        try:
            return docker_env.host_address_for_containers(status)
        except RuntimeError as exc:
            raise RunnerUnavailable(str(exc)) from None

    def _image(self) -> str:
        from local_mode.image import ImageBuildError, ensure_image

        self.view.running("image", "container/Dockerfile on the Debian base (rebuilt only when its sources changed)")
        try:
            tag = ensure_image(log=self.view.note)
        except ImageBuildError as exc:
            raise RunnerUnavailable(f"the training image could not be built: {exc}") from None
        self.view.step("image", tag)
        return tag

    def _lambda_environment(self, image: str) -> dict[str, str]:
        assert self.emulator is not None and self.work is not None
        sdk_config = self.work / "sagemaker-sdk.yaml"
        sdk_config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
        return {
            **self.emulator.env(),
            "GR00T_IMAGE_URI": image or "gr00t-sm-train:process-runner",
            "GR00T_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{SAGEMAKER_ROLE}",
            "GR00T_TOKEN_TABLE": TOKEN_TABLE,
            "GR00T_HF_TOKEN_SECRET_ID": HF_TOKEN_SECRET,
            # Powertools: no X-Ray daemon here; metrics still go out as EMF log lines.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": LAMBDAS["LaunchFunctionArn"][0],
            "SAGEMAKER_VALIDATE_ROLE": "false",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(sdk_config),
        }

    @contextmanager
    def _lambda_clients(self) -> Iterator[None]:
        """Fresh clients and settings for the handlers (a Lambda cold start), pointed at the emulator."""
        from gr00t_aws.clients import AwsClients
        from lambda_handler import _runtime
        from launcher.orchestration.settings import settings_from_environment

        assert self.emulator is not None
        settings_from_environment.cache_clear()
        _runtime.use_clients(AwsClients(factory=self.emulator.client))
        try:
            yield
        finally:
            _runtime.use_clients(None)
            settings_from_environment.cache_clear()

    def _prepare_aws(self) -> tuple[str, str]:
        """Buckets, asset upload, token table, secret, roles, Lambdas, state machine. Returns (asset id, ARN)."""
        emu = self.emulator
        assert emu is not None
        s3 = emu.client("s3")
        for bucket in (ASSET_BUCKET, AUXILIARY_BUCKET):
            s3.create_bucket(Bucket=bucket)
        asset_id = f"x{uuid.uuid4()}"
        asset_dir = self.options.asset_dir
        if asset_dir.is_dir():
            count = emu.upload_folder(asset_dir, ASSET_BUCKET, asset_id)
            self.view.step("asset", f"{count} files from {asset_dir} -> s3://{ASSET_BUCKET}/{asset_id}/")
        else:
            what = "is not a folder" if asset_dir.exists() else "does not exist"
            self.view.step("asset", f"{asset_dir} {what}: the asset in S3 is empty", ok=False)
        dynamodb = emu.client("dynamodb")
        dynamodb.create_table(
            TableName=TOKEN_TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "jobName", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobName", "AttributeType": "S"}],
        )
        dynamodb.update_time_to_live(TableName=TOKEN_TABLE,
                                     TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
        # A placeholder: the builtin engine never reaches the Hub; the wiring (id in, token read at run time) is real.
        emu.client("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_local_mode_placeholder")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
        emu.client("iam").create_role(RoleName=SAGEMAKER_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        arns = {placeholder: emu.create_lambda(name, _handler(path)) for placeholder, (name, path) in LAMBDAS.items()}
        emu.create_lambda(JOB_EVENTS_LAMBDA[0], _handler(JOB_EVENTS_LAMBDA[1]))
        definition = sm.render_definition(sm.load_definition(STATE_MACHINE_FILE), arns)
        machine = sm.deploy(emu.client("stepfunctions"), emu.client("iam"), "gr00t-finetune-local", definition)
        return asset_id, machine

    def _execute(self, result: LocalRunResult, image: str) -> None:
        """Start the execution, then do what AWS would as it asks: run each training job the launch Lambda (or a
        capacity fallback) creates and report its end to the job-events Lambda, until the execution ends."""
        emu = self.emulator
        assert emu is not None
        asset_id, machine = self._prepare_aws()
        execution_name = str(uuid.uuid4())
        body = vams_body(asset_id=asset_id, asset_name=self.options.asset_dir.name or "asset", execution=execution_name,
                         input_parameters=self.options.input_parameters)
        sfn = emu.client("stepfunctions")
        execution = sm.start(sfn, machine, execution_name, {"body": body, "timeoutSeconds": self.options.timeout_seconds})
        launch_name = LAMBDAS["LaunchFunctionArn"][0]
        reported = 0  # launch invocations shown so far (the state machine retries a failed one)
        ran: list[str] = []

        def pending_jobs() -> list[str]:
            # A job starts once the Lambda that created it has returned (it stores the task token after creating).
            if emu.lambdas_running:
                return []
            return [name for name in list(emu.training_requests) if name not in ran]

        def something_to_do(_: sm.Execution) -> bool:
            return bool(pending_jobs()) or len(emu.invocations_of(launch_name)) > reported

        while True:
            sm.wait(sfn, execution, something_to_do, timeout=CALLBACK_WAIT_SECONDS if ran else LAUNCH_WAIT_SECONDS)
            for call in emu.invocations_of(launch_name)[reported:]:
                self._report_launch(call)
                reported += 1
            if execution.done:
                break
            for name in pending_jobs():
                ran.append(name)
                result.job_name = name
                result.output_uri = _output_uri(emu.training_requests[name])
                result.job = self._run_job(result, image)
                self._send_job_event(name)
        result.status, result.error, result.cause = execution.status, execution.error, execution.cause
        if result.job is not None:
            ok = result.succeeded
            self.view.step("callback", f"{'SendTaskSuccess' if ok else 'SendTaskFailure'} -> state machine {execution.status}", ok=ok)
        else:
            self.view.step("state", f"state machine {execution.status}", ok=result.succeeded)
        if result.succeeded:
            self._collect_outputs(result)

    def _report_launch(self, call: Invocation) -> None:
        """Preflight and launch, as the launch Lambda answered."""
        if call.error:
            self.view.step("launch", f"the launch Lambda raised {call.error}", ok=False)
            return
        outcome = call.result or {}
        if outcome.get("status") == "REJECTED":
            self.view.step("preflight", f"{outcome.get('error')}: {outcome.get('cause')}", ok=False)
            return
        self.view.step("preflight", "configuration resolved and dataset checked by the launch Lambda")
        for warning in outcome.get("warnings") or []:
            self.view.note(f"warning: {warning}")
        self.view.step("launch", f"training job {outcome.get('trainingJobName')} ({outcome.get('status', '').lower()}, "
                                 f"{outcome.get('instanceType')} requested)")

    def _run_job(self, result: LocalRunResult, image: str) -> JobResult:
        from local_mode import runners

        emu = self.emulator
        assert emu is not None and self.work is not None
        request = emu.training_requests[result.job_name]
        arn = emu.client("sagemaker").describe_training_job(TrainingJobName=result.job_name)["TrainingJobArn"]
        job = materialize(request, arn, emu.download_prefix, self.work / "job")
        for note in job.notes:
            self.view.note(f"local mode: {note}")
        self.view.max_steps = _int(job.hyperparameters.get("maxSteps"))
        if result.runner == "container":
            runner: Any = runners.ContainerRunner(image, emu.env(for_containers=True))
        else:
            runner = runners.ProcessRunner(emu.env())
        where = f"{job.instance_count} container(s)" if result.runner == "container" else f"{job.instance_count} process(es)"
        self.view.running("job", f"{job.name} on {where} ({result.runner} runner), {job.instance_type} requested")
        emu.start_training_job(job.name)
        final: dict[str, float] = {}

        def on_line(host: str, line: str) -> None:
            if host in ("algo-1", "local", "compose"):
                final.update(metrics.extract(line))
            self.view.job_line(host, line)

        emu.on_stop_training_job = lambda name: runner.stop() if name == job.name else None
        try:
            outcome = runner.run(job, self.work / "job", on_line)
        finally:
            emu.on_stop_training_job = None
        artifacts = model_artifacts(outcome.model_dir, job, lambda path, uri: _upload(emu, path, uri))
        emu.finish_training_job(job.name, outcome.status, failure_reason=outcome.failure_reason,
                                secondary_status=outcome.secondary_status, final_metrics=final, model_artifacts=artifacts)
        ok = outcome.status == "Completed"
        self.view.step("job", outcome.status if ok else f"{outcome.status} (the reason is below); from its log:", ok=ok)
        if not ok and outcome.log_file is not None:
            self._show_log_tail(outcome.log_file)
        return outcome

    def _show_log_tail(self, log_file: Path, lines: int = 15) -> None:
        """The job's error lines (else its last lines), and a copy of its log that outlives the run."""
        kept = Path(tempfile.gettempdir()) / f"gr00t-sm-local-{uuid.uuid4().hex[:8]}.log"
        shutil.copyfile(log_file, kept)
        text = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        if not self.options.verbose:
            for line in problem_lines(text) or text[-lines:]:
                self.view.note(f"| {line[:400]}")
        self.view.note(f"job log: {kept}")

    def _send_job_event(self, job_name: str) -> None:
        """EventBridge's part: the terminal state as a "SageMaker Training Job State Change" to the job-events Lambda."""
        from gr00t_aws.sagemaker_jobs import event_from_description

        emu = self.emulator
        assert emu is not None
        description = emu.client("sagemaker").describe_training_job(TrainingJobName=job_name)
        event = event_from_description(description, region=emu.region, account=ACCOUNT_ID)
        response = emu.client("lambda").invoke(FunctionName=JOB_EVENTS_LAMBDA[0], Payload=json.dumps(event).encode())
        if response.get("FunctionError"):
            self.view.step("callback", f"the job-events Lambda failed: {response['Payload'].read().decode()[:500]}", ok=False)

    def _collect_outputs(self, result: LocalRunResult) -> None:
        """List the output folder once (as VAMS does), read run_summary.json, register the files into the asset."""
        emu = self.emulator
        assert emu is not None
        if not result.output_uri:
            return
        output = S3Uri.parse(result.output_uri)
        bucket, prefix = output.bucket, output.key
        s3 = emu.client("s3")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=VAMS_REGISTRATION_LIMIT)
        keys = [item["Key"] for item in listing.get("Contents", [])]
        result.output_files = [k[len(prefix):] for k in keys]
        if listing.get("IsTruncated"):
            self.view.note(f"warning: more than {VAMS_REGISTRATION_LIMIT} objects: VAMS registers only the first {VAMS_REGISTRATION_LIMIT}")
        if "run_summary.json" in result.output_files:
            summary = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "run_summary.json")["Body"].read())
            result.final_loss = summary.get("final_loss")
            result.run_summary = result.output_uri + "run_summary.json"
        if self.options.register and self.options.asset_dir.is_dir():
            folder = prefix.rstrip("/").rsplit("/", 1)[-1]
            result.output_dir = self.options.asset_dir / folder
            written, skipped = 0, []
            for key, rel in zip(keys, result.output_files, strict=True):
                target = result.output_dir / rel
                if target.exists():  # never overwrite a user's file
                    skipped.append(rel)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                written += 1
            if skipped:
                self.view.note(f"warning: {len(skipped)} file(s) already in {result.output_dir} were left as they were")
            if result.run_summary:
                result.run_summary = result.output_dir / "run_summary.json"
            self.view.step("register", f"{written} files -> {result.output_dir}")

    def _keep(self, dest: Path, result: LocalRunResult) -> Path:
        assert self.emulator is not None and self.work is not None
        dest.mkdir(parents=True, exist_ok=True)
        counts = self.emulator.dump(dest)
        if result.job is not None and result.job.log_file is not None and result.job.log_file.is_file():
            (dest / "_logs").mkdir(exist_ok=True)
            shutil.copyfile(result.job.log_file, dest / "_logs" / "job.log")
        self.view.step("keep", ", ".join(f"{b}: {n} objects" for b, n in counts.items()) + f" -> {dest}")
        return dest


def _output_uri(request: Mapping[str, Any]) -> str:
    """s3://.../files/gr00tOutput_.../ : where the job writes, from the run identity it carries."""
    return RunIdentity.from_hyperparameters(request.get("HyperParameters") or {}).output_prefix_uri


def _upload(emulator: AwsEmulator, path: Path, uri: str) -> None:
    target = S3Uri.parse(uri)
    bucket, key = target.bucket, target.key
    emulator.client("s3").upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type(key)})


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def run_local(options: LocalRunOptions, out: TextIO) -> LocalRunResult:
    return LocalPipeline(options, out).run()
