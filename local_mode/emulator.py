"""AWS on this machine: moto served over HTTP on loopback for one local run, started and stopped by it.

What local mode needs from the emulator beyond plain moto:

* Step Functions really executes ASL (moto's ``execute_state_machine``) and its Lambda tasks run this project's
  real handlers in this process (:meth:`AwsEmulator.route_lambda`): moto's Docker-less Lambda backend is told to
  call them instead of echoing the payload;
* moto answers as AWS does where the code depends on it (error wording, StopTrainingJob, a new job's status,
  callback errors: :mod:`local_mode.moto_fidelity`, shared with the test suite);
* moto's SageMaker drops ``Environment``: the full CreateTrainingJob request is recorded as sent
  (:attr:`AwsEmulator.training_requests`) and the job's real outcome is written back
  (:meth:`AwsEmulator.finish_training_job`) before the job-events handler describes it;
* training containers reach the emulator through a second listener on an address of this host they can route to
  (``container_host``), sharing the same in-process state.

moto keeps its state in module globals: one emulator per process at a time. ``stop()`` restores every global it
changed and resets the emulated accounts.
"""

from __future__ import annotations

import io
import json
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from gr00t_core.environ import set_environ
from gr00t_core.s3_uri import S3Uri
from local_mode import moto_fidelity

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LAMBDA_ROLE_NAME = "gr00t-sm-local-lambda"
_NOISY_LOGGERS = ("werkzeug", "moto.stepfunctions.parser")

Handler = Callable[[Any, Any], Any]


@dataclass
class Invocation:
    """One Lambda invocation as it ran here: its event, its result or error, and what it printed."""

    function: str
    event: Any
    result: Any = None
    error: str = ""
    output: str = ""


def emf_metrics(line: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """PutMetricData calls for one CloudWatch embedded-metric-format log line ([] when it is not one)."""
    try:
        blob = json.loads(line)
    except json.JSONDecodeError:
        return []
    meta = blob.get("_aws") if isinstance(blob, dict) else None
    if not isinstance(meta, dict):
        return []
    calls = []
    for directive in meta.get("CloudWatchMetrics") or []:
        dims = [{"Name": d, "Value": str(blob[d])} for group in directive.get("Dimensions") or [] for d in group if d in blob]
        data = []
        for metric in directive.get("Metrics") or []:
            values = blob.get(metric.get("Name"))
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    data.append({"MetricName": metric["Name"], "Value": float(value), "Dimensions": dims,
                                 "Unit": metric.get("Unit", "None")})
        if data:
            calls.append((directive.get("Namespace", "default"), data))
    return calls


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class AwsEmulator:
    def __init__(self, region: str = DEFAULT_REGION, container_host: Any = None, log_file: Path | None = None) -> None:
        """``container_host``: a :class:`local_mode.docker_env.HostAddress` when training containers must reach
        the emulator (container runner); None for loopback only. ``log_file``: where moto's own log goes."""
        self.region = region
        self.log_file = log_file
        self.container_host = container_host
        self.endpoint = ""
        self.container_endpoint = ""
        self.training_requests: dict[str, dict[str, Any]] = {}
        self.invocations: list[Invocation] = []
        # called with the job name when someone calls StopTrainingJob (the local runner stops the job)
        self.on_stop_training_job: Callable[[str], None] | None = None
        self._servers: list[Any] = []
        self._handlers: dict[str, Handler] = {}
        self._in_flight = 0
        self._restore: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> AwsEmulator:
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        try:
            self._quiet_logs()
            self._route_output()
            self._configure(cast("dict[str, Any]", default_user_config))  # moto's TypedDict, edited as a plain dict
            self._reset()
            primary = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            primary.start()
            self._servers.append(primary)
            port = primary.get_host_and_port()[1]
            self.endpoint = f"http://127.0.0.1:{port}"
            # moto's Step Functions engine calls Lambda at http://localhost:$MOTO_PORT.
            self._set_env({"MOTO_PORT": str(port)})
            if self.container_host is not None:
                outer = ThreadedMotoServer(ip_address=self.container_host.bind, port=0, verbose=False)
                outer.start()
                self._servers.append(outer)
                self.container_endpoint = f"http://{self.container_host.advertise}:{outer.get_host_and_port()[1]}"
            self._record_training_requests()
            self._answer_like_aws()
            self._route_lambdas()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self._servers):
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - stopping must go on for the others
                pass
        self._servers.clear()
        self._reset()
        while self._restore:
            self._restore.pop()()

    def __enter__(self) -> AwsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _configure(self, config: dict[str, Any]) -> None:
        saved = json.loads(json.dumps(config))
        config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        config.setdefault("lambda", {})["use_docker"] = False

        def restore() -> None:
            config.clear()
            config.update(saved)

        self._restore.append(restore)

    def _quiet_logs(self) -> None:
        """moto's request lines and its ASL engine's error traces go to ``log_file`` (if any), not the console."""
        import logging

        for name in _NOISY_LOGGERS:
            logger = logging.getLogger(name)
            saved = (logger.level, logger.propagate, list(logger.handlers))
            logger.setLevel(logging.INFO if self.log_file else logging.CRITICAL)
            logger.propagate = False
            if self.log_file:
                handler = logging.FileHandler(self.log_file)
                handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
                logger.handlers = [handler]

            def restore(logger: logging.Logger = logger, saved: tuple = saved) -> None:
                for handler in logger.handlers:
                    if handler not in saved[2]:
                        handler.close()
                logger.setLevel(saved[0])
                logger.propagate = saved[1]
                logger.handlers = saved[2]

            self._restore.append(restore)

    def _route_output(self) -> None:
        """Lambda handlers print (Powertools logs, EMF): route their threads' output to their invocation."""
        from local_mode.capture import routed_output

        routing = routed_output()
        routing.__enter__()

        def unroute() -> None:
            routing.__exit__(None, None, None)

        self._restore.append(unroute)

    def _set_env(self, values: Mapping[str, str]) -> None:
        self._restore.append(set_environ(values))

    @staticmethod
    def _reset() -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    # --- clients and environment --------------------------------------------------------------------------
    def env(self, *, for_containers: bool = False) -> dict[str, str]:
        """Variables that point boto3 (and the SageMaker SDK) at the emulator."""
        endpoint = self.container_endpoint if for_containers else self.endpoint
        return {
            "AWS_ENDPOINT_URL": endpoint,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]  # any service name: the stubs overload per literal name
            service, endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    # --- Lambda ---------------------------------------------------------------------------------------------
    def create_lambda(self, name: str, handler: Handler) -> str:
        """Create a Lambda function whose invocations run ``handler(event, context)`` here; returns its ARN."""
        iam = self.client("iam")
        try:
            role_arn = iam.get_role(RoleName=LAMBDA_ROLE_NAME)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                              "Principal": {"Service": "lambda.amazonaws.com"}}]}
            role_arn = iam.create_role(RoleName=LAMBDA_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:  # never run: the handler runs in this process
            archive.writestr("handler.py", "def handler(event, context):\n    raise NotImplementedError\n")
        arn = self.client("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=role_arn, Handler="handler.handler",
            Code={"ZipFile": code.getvalue()}, Timeout=900,
        )["FunctionArn"]
        with self._lock:
            self._handlers[name] = handler
        return arn

    def _route_lambdas(self) -> None:
        from moto.awslambda_simple.models import lambda_simple_backends

        backend = lambda_simple_backends[ACCOUNT_ID][self.region]
        emulator = self

        def invoke(function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: dict) -> bytes:
            return emulator._invoke(function_name, body, response_headers)

        backend.invoke = invoke  # type: ignore[method-assign]
        self._restore.append(lambda: backend.__dict__.pop("invoke", None))

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = function_name.split(":function:")[-1].split(":")[0]
        with self._lock:
            handler = self._handlers.get(name)
        if handler is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException",
                               "errorMessage": f"no local handler for Lambda function {name}"}).encode()
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        invocation = Invocation(name, json.loads(raw) if raw else {})
        with self._lock:
            self._in_flight += 1
        try:
            return self._run_handler(handler, invocation, response_headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    @property
    def lambdas_running(self) -> int:
        """Lambda invocations still running (a job is not started before the launch Lambda has returned)."""
        with self._lock:
            return self._in_flight

    def _run_handler(self, handler: Handler, invocation: Invocation, response_headers: dict[str, str]) -> bytes:
        from local_mode.capture import capture_thread

        name = invocation.function
        context = LambdaContext(
            function_name=name, aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
        )
        with capture_thread() as output:
            try:
                invocation.result = handler(invocation.event, context)
            except Exception as exc:  # noqa: BLE001 - a Lambda reports an unhandled error as FunctionError
                invocation.error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
        invocation.output = output.getvalue()
        with self._lock:
            self.invocations.append(invocation)
        self._ship_lambda_output(name, context.aws_request_id, invocation.output)
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
            error_type, _, message = invocation.error.partition(": ")
            return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        return json.dumps(invocation.result).encode()

    def invocations_of(self, name: str) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if i.function == name]

    def _ship_lambda_output(self, name: str, request_id: str, output: str) -> None:
        """A Lambda's output lands in CloudWatch Logs (/aws/lambda/NAME); its EMF blobs become metrics."""
        lines = [line for line in output.splitlines() if line.strip()]
        if not lines:
            return
        logs = self.client("logs")
        group, stream = f"/aws/lambda/{name}", f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{request_id}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": line} for line in lines])
        for line in lines:
            for namespace, data in emf_metrics(line):
                self.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)

    # --- Step Functions -------------------------------------------------------------------------------------
    # --- SageMaker --------------------------------------------------------------------------------------------
    def _record_training_requests(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        original = SageMakerResponse.create_training_job
        emulator = self

        def create_training_job(response: Any) -> Any:
            request = json.loads(response.body or "{}")
            result = original(response)
            with emulator._lock:  # recorded after moto accepted it, as the service would have
                emulator.training_requests[request.get("TrainingJobName", "")] = request
            return result

        SageMakerResponse.create_training_job = create_training_job  # type: ignore[method-assign, assignment]
        self._restore.append(lambda: setattr(SageMakerResponse, "create_training_job", original))

    def _answer_like_aws(self) -> None:
        """moto answers as AWS does (local_mode.moto_fidelity); an accepted stop reaches the local job."""
        self._restore.append(moto_fidelity.install())

        def stopping(job: Any) -> None:
            if self.on_stop_training_job is not None:
                self.on_stop_training_job(job.training_job_name)

        self._restore.append(moto_fidelity.add_stop_listener(stopping))

    def _training_job(self, name: str) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT_ID][self.region].training_jobs[name]

    def start_training_job(self, name: str) -> None:
        """The job is running: InProgress / Training (it was created InProgress / Starting)."""
        from moto.core.utils import utcnow

        job = self._training_job(name)
        now = utcnow()  # moto's own clock (naive UTC), so its responses stay consistent
        job.training_job_status, job.secondary_status = "InProgress", "Training"
        job.training_start_time = job.last_modified_time = now
        job.training_end_time = None
        # moto replaces MetricDefinitions with its own sample: put back what was asked for.
        requested = self.training_requests.get(name, {}).get("AlgorithmSpecification", {})
        if "MetricDefinitions" in requested:
            job.algorithm_specification["MetricDefinitions"] = requested["MetricDefinitions"]
        job.final_metric_data_list = []

    def finish_training_job(self, name: str, status: str, *, failure_reason: str = "", secondary_status: str = "",
                            final_metrics: Mapping[str, float] | None = None, model_artifacts: str = "") -> None:
        """Write the local job's real outcome into moto's record before anyone describes it."""
        from moto.core.utils import utcnow

        job = self._training_job(name)
        now = utcnow()
        job.training_job_status = status
        job.secondary_status = secondary_status or status
        job.failure_reason = failure_reason or None
        job.training_end_time = job.last_modified_time = now
        started = job.training_start_time or now
        job.training_time_in_seconds = job.billable_time_in_seconds = max(1, int((now - started).total_seconds()))
        job.final_metric_data_list = [
            {"MetricName": metric, "Value": float(value), "Timestamp": now} for metric, value in (final_metrics or {}).items()
        ]
        if model_artifacts:
            job.model_artifacts = {"S3ModelArtifacts": model_artifacts}

    # --- S3 -------------------------------------------------------------------------------------------------
    def upload_folder(self, folder: Path, bucket: str, prefix: str) -> int:
        """Upload every file under ``folder`` to ``s3://bucket/prefix``; returns the number of objects."""
        s3 = self.client("s3")
        count = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}" if prefix else path.relative_to(folder).as_posix()
            s3.upload_file(str(path), bucket, key)
            count += 1
        return count

    def download_prefix(self, uri: str, dest: Path) -> int:
        """Download every object under an ``s3://`` prefix into ``dest`` (keys relative to the prefix)."""
        parsed = S3Uri.parse(uri)
        bucket, prefix = parsed.bucket, parsed.key
        s3 = self.client("s3")
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                rel = item["Key"][len(prefix):].lstrip("/")
                if not rel or rel.endswith("/"):
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
                count += 1
        return count

    def dump(self, dest: Path) -> dict[str, int]:
        """Every bucket's objects under ``dest/<bucket>/<key>``; returns objects per bucket."""
        s3 = self.client("s3")
        counts: dict[str, int] = {}
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            counts[name] = self.download_prefix(f"s3://{name}/", dest / name)
        return counts
