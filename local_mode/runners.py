"""Run a :class:`~local_mode.job.LocalJob` on this machine: in containers through the SageMaker Python SDK's local
mode, or as plain processes with the same SageMaker contract. Both stream every log line to ``on_line(host, line)``
and write it to one job log, and both leave nothing running when they return (also after an error).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from local_mode.job import JobResult, LocalJob, failure_reason

LineSink = Callable[[str, str], None]  # (host, line)
STOP_GRACE_SECONDS = 120  # SageMaker's SIGTERM -> SIGKILL window
PEER_FAILURE_GRACE_SECONDS = 30  # after one host failed, the others get this long to exit by themselves
SDK_ROLE_ARN = "arn:aws:iam::123456789012:role/gr00t-sm-local"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _now() -> datetime:
    return datetime.now(UTC)


class _JobLog:
    """One log file for the whole job; every line also goes to ``on_line``."""

    def __init__(self, path: Path, on_line: LineSink | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._on_line = on_line
        self._lock = threading.Lock()

    def line(self, host: str, text: str) -> None:
        text = text.rstrip("\r\n")
        with self._lock:
            self._file.write(f"{host} | {text}\n")
            self._file.flush()
        if self._on_line:
            self._on_line(host, text)

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------------------------------------------
class ProcessRunner:
    """``python -m sagemaker_entry`` per host as a local process, with an /opt/ml layout per host under the job
    folder and the SM_* variables SageMaker's framework drivers set."""

    name = "process"

    def __init__(self, emulator_env: Mapping[str, str], *, python: str = sys.executable,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.emulator_env = dict(emulator_env)
        self.python = python
        self.clock = clock
        self._stop = threading.Event()

    def stop(self) -> None:
        """StopTrainingJob: SIGTERM every host (the entry saves its checkpoint), SIGKILL after the grace period."""
        self._stop.set()

    def host_env(self, job: LocalJob, host: str, base: Path, master_port: int) -> dict[str, str]:
        hosts = job.hosts
        config_dir = base / "input" / "config"
        env = {
            **os.environ,
            **job.environment,
            **self.emulator_env,
            "SAGEMAKER_BASE_DIR": str(base),
            "TRAINING_JOB_NAME": job.name,
            "TRAINING_JOB_ARN": job.arn,
            "SM_MODEL_DIR": str(base / "model"),
            "SM_OUTPUT_DIR": str(base / "output"),
            "SM_OUTPUT_DATA_DIR": str(base / "output" / "data"),
            "SM_INPUT_DIR": str(base / "input"),
            "SM_INPUT_CONFIG_DIR": str(config_dir),
            "SM_CHANNELS": json.dumps(sorted(job.channels)),
            "SM_HPS": json.dumps(job.hyperparameters),
            "SM_HOSTS": json.dumps(hosts),
            "SM_CURRENT_HOST": host,
            "SM_CURRENT_HOST_RANK": str(hosts.index(host)),
            "SM_HOST_COUNT": str(len(hosts)),
            "SM_CURRENT_INSTANCE_TYPE": job.instance_type,
            "SM_NUM_GPUS": "0",
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            # Every "host" is this machine: the rendezvous runs on loopback.
            "SM_NETWORK_INTERFACE_NAME": "lo",
            "SM_MASTER_ADDR": "127.0.0.1",
            "SM_MASTER_PORT": str(master_port),
            "GR00T_SM_CHECKPOINT_DIR": str(base / "checkpoints"),
            "GR00T_SM_WORK_DIR": str(base / "work"),
        }
        for channel in job.channels:
            env[f"SM_CHANNEL_{channel.upper()}"] = str(base / "input" / "data" / channel)
        return env

    @staticmethod
    def write_layout(job: LocalJob, host: str, base: Path) -> None:
        """The /opt/ml files a bring-your-own-container job gets, for the entry's file fallbacks."""
        config_dir = base / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("model", "output/data", "checkpoints", "input/data"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (config_dir / "hyperparameters.json").write_text(json.dumps(job.hyperparameters, indent=1))
        (config_dir / "resourceconfig.json").write_text(json.dumps({
            "current_host": host, "hosts": job.hosts, "network_interface_name": "lo",
            "current_instance_type": job.instance_type,
        }))
        (config_dir / "inputdataconfig.json").write_text(json.dumps(
            {name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"} for name in job.channels}
        ))
        for channel, path in job.channels.items():
            link = base / "input" / "data" / channel
            if not link.exists():
                link.symlink_to(path.resolve(), target_is_directory=True)

    def run(self, job: LocalJob, workdir: Path, on_line: LineSink | None = None) -> JobResult:
        log = _JobLog(workdir / "job.log", on_line)
        started = _now()
        master_port = free_port()
        procs: dict[str, subprocess.Popen[bytes]] = {}
        pumps: list[threading.Thread] = []
        bases = {host: workdir / "hosts" / host for host in job.hosts}
        stopped = ""
        try:
            for host, base in bases.items():
                self.write_layout(job, host, base)
                proc = subprocess.Popen(  # noqa: S603 - our own entry
                    [self.python, "-m", "sagemaker_entry"], env=self.host_env(job, host, base, master_port),
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=str(base),
                )
                procs[host] = proc
                pump = threading.Thread(target=self._pump, args=(proc, host, log), daemon=True, name=f"log-{host}")
                pump.start()
                pumps.append(pump)
            stopped = self._supervise(procs, job.max_runtime_seconds)
        finally:
            for proc in procs.values():  # after an error or Ctrl-C: nothing may outlive the command
                _kill_group(proc)
            for pump in pumps:
                pump.join(timeout=10)
            log.close()
        codes = {host: proc.returncode for host, proc in procs.items()}
        result = JobResult(self.name, "Completed", started=started, ended=_now(), exit_codes=codes,
                           log_file=log.path, model_dir=bases[job.hosts[0]] / "model")
        if stopped == "runtime":
            result.status, result.secondary_status = "Stopped", "MaxRuntimeExceeded"
            result.failure_reason = f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds={job.max_runtime_seconds}"
        elif stopped == "request":
            result.status, result.secondary_status = "Stopped", "Stopped"
        elif any(code != 0 for code in codes.values()):
            result.status = "Failed"
            failing = [h for h in job.hosts if codes[h] != 0]
            files = [bases[h] / "output" / "failure" for h in [job.hosts[0], *failing]]
            result.failure_reason = failure_reason(files, codes)
        return result

    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], host: str, log: _JobLog) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            log.line(host, raw.decode("utf-8", errors="replace"))

    def _supervise(self, procs: dict[str, subprocess.Popen[bytes]], max_runtime: int | None) -> str:
        """Wait for every host; one failing host stops the others (as SageMaker does). Returns why the job was
        stopped: "runtime" (past MaxRuntimeInSeconds), "request" (StopTrainingJob) or ""."""
        deadline = self.clock() + max_runtime if max_runtime else None
        failed_at: float | None = None
        while any(p.poll() is None for p in procs.values()):
            now = self.clock()
            if deadline is not None and now > deadline:
                _stop_all(procs, STOP_GRACE_SECONDS)
                return "runtime"
            if self._stop.is_set():
                _stop_all(procs, STOP_GRACE_SECONDS)
                return "request"
            if failed_at is None and any(p.returncode not in (None, 0) for p in procs.values()):
                failed_at = now
                for proc in procs.values():
                    if proc.poll() is None:
                        _signal_group(proc, signal.SIGTERM)
            if failed_at is not None and now - failed_at > PEER_FAILURE_GRACE_SECONDS:
                break
            time.sleep(0.2)
        return "request" if self._stop.is_set() else ""


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group (the entry, torchrun and its workers) and reap the leader."""
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _stop_all(procs: Mapping[str, subprocess.Popen[bytes]], grace: float) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass


# --------------------------------------------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# docker-compose v1 prefixes "algo-1-abcde_1  | ", v2 "algo-1-1  | "; the SDK names services algo-N.
_COMPOSE_LINE = re.compile(r"^(?P<service>[A-Za-z0-9_.-]+?)\s+\|\s?(?P<text>.*)$")
_HOST = re.compile(r"algo-\d+")


def split_compose_line(raw: str) -> tuple[str, str]:
    """``("algo-1", text)`` for a compose log line; ``("compose", line)`` for compose's own messages."""
    line = _ANSI.sub("", raw).rstrip("\r\n")
    match = _COMPOSE_LINE.match(line)
    if match:
        host = _HOST.search(match.group("service"))
        if host:
            return host.group(0), match.group("text")
    return "compose", line


def _stream_compose(log: _JobLog, interrupted: list[BaseException]) -> Callable[[subprocess.Popen[bytes]], int]:
    """Stands in for the SDK's ``_stream_output`` (which prints to stdout and drops the lines still buffered
    when compose exits): every line goes to the job log, then the SDK's own exit-code rule applies.

    An interruption (Ctrl-C, SIGTERM) stops compose and is recorded in ``interrupted``: ModelTrainer.train's
    telemetry wrapper returns from a ``finally`` block, which swallows KeyboardInterrupt, so the caller re-raises it.
    """

    def stream(process: subprocess.Popen[bytes]) -> int:
        assert process.stdout is not None
        try:
            for raw in iter(process.stdout.readline, b""):
                log.line(*split_compose_line(raw.decode("utf-8", errors="replace")))
        except BaseException as exc:
            interrupted.append(exc)
            process.kill()
            process.wait()
            raise
        code = process.wait()
        if code not in (0, 130):
            raise RuntimeError(f"Failed to run: {process.args!r}. Process exited with code: {code}")
        return code

    return stream


class ContainerRunner:
    """SageMaker Python SDK v3 local mode: ``ModelTrainer(training_mode=Mode.LOCAL_CONTAINER)`` runs the image
    with docker compose, one container per instance (``algo-1..N``) on the ``sagemaker-local`` network."""

    name = "container"

    def __init__(self, image: str, emulator_env: Mapping[str, str], *, sdk_config_dir: Path | None = None) -> None:
        self.image = image
        self.emulator_env = dict(emulator_env)  # endpoint as containers reach it
        self.sdk_config_dir = sdk_config_dir
        self._stop = threading.Event()
        self._compose_file: Path | None = None

    def stop(self) -> None:
        """StopTrainingJob: ``compose stop`` sends SIGTERM, then SIGKILL after SageMaker's 120 s."""
        from local_mode import docker_env

        self._stop.set()
        compose = docker_env.compose_command()
        if compose and self._compose_file is not None and self._compose_file.is_file():
            subprocess.run([*compose, "-f", str(self._compose_file), "stop", "-t", str(STOP_GRACE_SECONDS)],
                           capture_output=True, timeout=STOP_GRACE_SECONDS + 60)

    def job_env(self, job: LocalJob) -> dict[str, str]:
        env = {**job.environment, **self.emulator_env, "TRAINING_JOB_ARN": job.arn}
        # The SDK writes network_interface_name "ethwe" (a SageMaker-only name); containers have eth0.
        env["SM_NETWORK_INTERFACE_NAME"] = "eth0"
        if job.instance_count > 1:
            env["GR00T_SM_FOLLOWERS_WAIT"] = "1"  # see container/train: compose stops all when one exits
        return env

    def run(self, job: LocalJob, workdir: Path, on_line: LineSink | None = None) -> JobResult:
        from sagemaker.train.local import local_container

        from local_mode import docker_env

        # The compose project is named after this folder: one per job, so cleanup touches only this job.
        root = workdir / re.sub(r"[^a-z0-9-]", "-", f"sm-{job.name}".lower())
        root.mkdir(parents=True, exist_ok=True)
        self._compose_file = root / "docker-compose.yaml"
        log = _JobLog(workdir / "job.log", on_line)
        started = _now()
        status, reason, code = "Completed", "", 0
        sdk_stream = local_container._stream_output
        interrupted: list[BaseException] = []
        local_container._stream_output = _stream_compose(log, interrupted)
        over_time = threading.Event()
        timer = None
        if job.max_runtime_seconds:
            def runtime_exceeded() -> None:
                over_time.set()
                self.stop()

            timer = threading.Timer(job.max_runtime_seconds, runtime_exceeded)
            timer.daemon = True
            timer.start()
        try:
            self._trainer(job, root).train(wait=True, logs=True)
            if interrupted:
                raise interrupted[0]
        except RuntimeError as exc:  # the SDK's "Failed to run: ... exited with code: N"
            status = "Failed"
            match = re.search(r"exited with code:?\s*(\d+)", str(exc))
            code = int(match.group(1)) if match else 1
            if not match:
                log.line("local", f"SageMaker SDK local mode failed: {exc}")
            files = [root / host / "output" / "failure" for host in job.hosts]
            files.append(root / "artifacts" / "output" / "failure")
            reason = failure_reason(files, {"compose": code})
        finally:
            if timer is not None:
                timer.cancel()
            local_container._stream_output = sdk_stream
            removed = docker_env.cleanup(root / "docker-compose.yaml")
            if removed:
                log.line("local", f"removed {', '.join(removed)}")
            log.close()
        model_dir = root / "artifacts" / "model"
        secondary = ""
        if over_time.is_set():
            status, secondary = "Stopped", "MaxRuntimeExceeded"
            reason = f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds={job.max_runtime_seconds}"
        elif self._stop.is_set():
            status, secondary = "Stopped", "Stopped"
        return JobResult(self.name, status, reason, secondary_status=secondary, started=started, ended=_now(), exit_codes={"compose": code},
                         log_file=log.path, model_dir=model_dir if model_dir.is_dir() else None)

    def _trainer(self, job: LocalJob, root: Path) -> Any:
        from sagemaker.train.configs import Compute, InputData, StoppingCondition
        from sagemaker.train.model_trainer import Mode, ModelTrainer

        stopping = StoppingCondition(max_runtime_in_seconds=job.max_runtime_seconds) if job.max_runtime_seconds else None
        kwargs: dict[str, Any] = {}
        if stopping is not None:
            kwargs["stopping_condition"] = stopping
        return ModelTrainer(
            training_mode=Mode.LOCAL_CONTAINER,
            training_image=self.image,
            role=job.role_arn or SDK_ROLE_ARN,
            base_job_name=job.name[:40],
            compute=Compute(instance_type="local_cpu", instance_count=job.instance_count),
            hyperparameters=dict(job.hyperparameters),
            environment=self.job_env(job),
            input_data_config=[InputData(channel_name=name, data_source=str(path)) for name, path in job.channels.items()],
            local_container_root=str(root),
            **kwargs,
        )
