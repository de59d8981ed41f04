"""``python -m sagemaker_entry``: turn a SageMaker training job into a finished fine-tune in the VAMS asset.

Phases: contract + config -> dataset (prepared once per node) -> base model (cache tiers) -> trainer under our
torchrun, with each complete checkpoint copied to the asset while training goes on -> final copy + reports.
Wiring only: each phase's logic lives in its own module.

Exit codes: 0 done (also after SIGTERM once the running step's checkpoint is safe), 1 unexpected error or
trainer crash, 2 user error. Every failure writes /opt/ml/output/failure (one line, phase first).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_aws.clients import AwsClients
from gr00t_core import metrics
from gr00t_core.content_types import content_type
from gr00t_core.errors import EngineError, TrainingError, UploadError, UserError
from gr00t_core.engines import spec_for
from gr00t_core.parameters import Engine
from gr00t_core.resolution import ResolvedConfig, resolve
from gr00t_core.run import RunIdentity
from sagemaker_entry import contract, engines, failure
from sagemaker_entry.checkpoints import MANIFEST_NAME, ResumeState, UploadManifest, prepare_resume
from sagemaker_entry.contract import TrainingEnv
from gr00t_core.parameters import DATA_CONFIG_CHANNEL, dataset_channel, dataset_paths
from sagemaker_entry.dataset import ignored_config_file, locate_dataset
from sagemaker_entry.model_cache import LocalTier, ModelCache, ModelResult, S3Tier
from sagemaker_entry.reports import (
    ASSET_METADATA,
    LOSS_CURVE,
    RESOLVED_CONFIG,
    RUN_SUMMARY,
    TRAIN_RESULT,
    TrainerLog,
    asset_metadata,
    plot_loss,
    read_json,
    write_json,
)

log = logging.getLogger("gr00t_sm.entry")

TRAINER_GRACE_SECONDS = 90.0  # after SIGTERM: time the trainer gets to save before we kill it
STOP_DEADLINE_SECONDS = 112.0  # after SIGTERM: everything done before SageMaker's SIGKILL (~120 s)


class StopRequested(Exception):
    """SIGTERM arrived before the trainer started: nothing to save, exit cleanly."""


@dataclass
class Plan:
    config: ResolvedConfig
    identity: RunIdentity
    dataset_source: Path
    dataset_dir: Path  # the prepared working copy (made in the dataset phase)
    layout: engines.NodeLayout
    resume: ResumeState
    request_file: Path
    # Further datasets of datasetPath (channels dataset_2, ...): (channel's dataset, working copy), mixed in training.
    more_datasets: tuple[tuple[Path, Path], ...] = ()


class Entry:
    def __init__(self, env: TrainingEnv, *, clients: AwsClients | None = None, python: str = sys.executable,
                 hub_fetch: Callable[..., Any] | None = None) -> None:
        self.env = env
        self.clients = clients or AwsClients()
        self.python = python
        self._hub_fetch = hub_fetch
        self.phase = "setup"
        self.phase_seconds: dict[str, float] = {}
        self.stop = threading.Event()
        self.stop_at: float | None = None
        self.trainer: Any = None
        self.trainer_log = TrainerLog()
        self.model: ModelResult | None = None
        self.publisher: Any = None
        self.events: Any = None  # copies the trainer's TensorBoard events when it cannot write them in place
        self.warnings: list[str] = []
        self.inference: Any = None  # inference_check.CheckResult of the final checkpoint

    # --- signals --------------------------------------------------------------------------------------------
    def request_stop(self, *_: Any) -> None:
        if self.stop.is_set():
            return
        self.stop_at = time.monotonic()
        self.stop.set()
        print(f"{metrics.LOG_PREFIX} SIGTERM received in phase {self.phase}: stopping", flush=True)
        if self.trainer is not None:
            self.trainer.terminate()
        elif self.phase in ("setup", "dataset", "model"):
            # Nothing to save yet: abandon a long download now rather than be killed in the middle of it
            # (temporary folders and cache locks are released on the way out).
            raise StopRequested()

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise StopRequested()

    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        self._check_stop()
        self.phase = name
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.phase_seconds[name] = time.monotonic() - started
            print(metrics.phase_line(name, self.phase_seconds[name]), flush=True)

    # --- planning (no side effects: --print-command uses it) --------------------------------------------------
    def plan(self, *, dry_run: bool = False) -> Plan:
        env = self.env
        channel = env.channel(contract.DATASET_CHANNEL)
        if channel is None:
            raise _asset_error(
                f"the training job has no 'dataset' input channel (channels: {sorted(env.channels) or 'none'}); "
                "it must be started by `gr00t-sm launch` or the launch Lambda"
            )
        # The launch resolved the configuration once; here it is only re-validated, with its provenance
        # (gr00tProvenance). Hyperparameters are the only source, so Studio shows what actually trains.
        config = resolve(hyperparameters=env.hyperparameters)
        ignored = ignored_config_file(channel, config, env.hyperparameters)
        if ignored:
            config.warnings.append(ignored)
        identity = RunIdentity.from_hyperparameters(env.hyperparameters)
        first, *more_paths = dataset_paths(str(config["datasetPath"]))
        source = locate_dataset(channel, first)
        more = tuple(
            (locate_dataset(env.channel(dataset_channel(i)) or Path("/opt/ml/input/data") / dataset_channel(i), path),
             env.work_dir / dataset_channel(i))
            for i, path in enumerate(more_paths, start=1)
        )
        layout = engines.node_layout(
            engine=str(config["engine"]), num_gpus_param=int(config["numGpus"]), gpus_visible=env.num_gpus,
            hosts=env.hosts, current_host=env.current_host, master_addr=env.master_addr, master_port=env.master_port,
            network_interface=env.network_interface, nproc_override=env.nproc_override,
        )
        resume = prepare_resume(env.checkpoint_dir, str(config["engine"]), dry_run=dry_run)
        return Plan(config, identity, source, env.work_dir / "dataset", layout, resume, env.work_dir / "trainer_request.json", more)

    def model_cache(self, config: ResolvedConfig, identity: RunIdentity) -> ModelCache:
        env = self.env
        tiers: list[LocalTier] = []
        if env.warmpool_cache_dir is not None:
            tiers.append(LocalTier("warm-pool cache", env.warmpool_cache_dir / "gr00t-models", True))
        channel = env.channel(contract.MODEL_CACHE_CHANNEL)
        if channel is not None and channel.is_dir():
            tiers.append(LocalTier("model_cache channel", channel, os.access(channel, os.W_OK)))
        tiers.append(LocalTier("instance scratch", env.work_dir / "models", True))
        s3 = S3Tier(self.clients.get("s3"), identity.model_cache_uri) if identity.model_cache_uri else None
        hub = None
        if config["engine"] == Engine.ISAAC_GR00T.value:
            hub = self._hub_fetch or _default_hub_fetch
        secret_id = identity.hf_token_secret_id

        def token() -> str | None:
            if not secret_id:
                return None
            from gr00t_aws.secrets import read_hf_token

            return read_hf_token(self.clients.get("secretsmanager"), secret_id)

        required = engines.BUILTIN_POLICY_FILE if config["engine"] == Engine.BUILTIN.value else None
        return ModelCache(tiers, s3=s3, hub_fetch=hub, token_provider=token, required_file=required)

    def command(self, plan: Plan, base_model_dir: Path | None) -> engines.Command:
        gr00t = plan.config["engine"] == Engine.ISAAC_GR00T.value
        return engines.build_command(
            plan.config.values, python=str(self.env.gr00t_python) if gr00t else self.python, layout=plan.layout, dataset_dir=plan.dataset_dir,
            output_dir=self.env.checkpoint_dir, base_model_dir=base_model_dir, resume=plan.resume.latest is not None,
            gr00t_repo=self.env.gr00t_repo_dir, request_file=plan.request_file,
            modality_config=engines.modality_config_path(spec_for(plan.config.values), self.env.work_dir),
            more_dataset_dirs=[work for _, work in plan.more_datasets],
            python_path=self.env.channel(DATA_CONFIG_CHANNEL),
        )

    def print_command(self) -> dict[str, Any]:
        plan = self.plan(dry_run=True)
        cache = self.model_cache(plan.config, plan.identity)
        model_dir = cache.planned_path(str(plan.config["baseModelPath"]), str(plan.config["modelRevision"]))
        if model_dir is None and plan.config["engine"] == Engine.ISAAC_GR00T.value:
            model_dir = self.env.work_dir / "models" / "<fetched at run time>"
        return self.command(plan, model_dir).printable()

    # --- the run --------------------------------------------------------------------------------------------
    def run(self) -> int:
        plan = self._timed("setup", self.plan)
        self.warnings.extend(plan.config.warnings)
        for warning in plan.config.warnings:
            log.warning("config: %s", warning)
        self._check_engine(plan)
        if plan.resume.removed:
            log.warning("removed incomplete checkpoint folder(s) left by an earlier attempt: %s", ", ".join(plan.resume.removed))
        if plan.resume.latest is not None:
            log.info("resuming from %s (output folder %s)", plan.resume.latest, plan.identity.output_folder)

        self._timed("dataset", lambda: self._prepare_dataset(plan))
        self.model = self._timed("model", lambda: self._fetch_model(plan))
        command = self.command(plan, self.model.path)
        modality = engines.modality_config_path(spec_for(plan.config.values), self.env.work_dir)
        if modality is not None:
            how = engines.prepare_modality_config(
                spec_for(plan.config.values), asset_root=self.env.channel(contract.DATASET_CHANNEL),
                dataset_dir=plan.dataset_dir, embodiment_tag=str(plan.config["embodimentTag"]), dest=modality)
            log.info("modality config %s: %s", modality, how)
        if plan.config["engine"] == Engine.BUILTIN.value:
            write_json(plan.request_file, {
                "dataset_dir": str(plan.dataset_dir),
                "output_dir": str(self.env.checkpoint_dir),
                "config": plan.config.values,
                "base_model_dir": str(self.model.path) if self.model.path else None,
                "resume_from_checkpoint": str(plan.resume.latest) if plan.resume.latest else None,
                "tensorboard_dir": str(self.env.tensorboard_dir),
            })
        if self.env.is_master:
            self.publisher = self._publisher(plan)
            self.events = self._event_mirror(plan)
        code = self._timed("training", lambda: self._train(command))
        return self._finish(plan, code)

    def _check_engine(self, plan: Plan) -> None:
        if plan.config["engine"] != Engine.ISAAC_GR00T.value:
            return
        script = self.env.gr00t_repo_dir / spec_for(plan.config.values).script
        missing = [str(p) for p in (script, self.env.gr00t_python) if not p.is_file()]
        if missing:
            raise EngineError(
                f"engine=isaac-gr00t but Isaac-GR00T is not installed in this image ({', '.join(missing)} missing); "
                "build the image with INSTALL_GR00T=true (CUDA base) or set engine to builtin"
            )
        if self.env.num_gpus < plan.layout.nproc_per_node:
            raise EngineError(
                f"numGpus = {plan.layout.nproc_per_node} but this instance has {self.env.num_gpus} GPU(s); "
                "Isaac-GR00T needs CUDA GPUs: lower numGpus, choose a GPU instance type or set engine to builtin"
            )

    def _prepare_dataset(self, plan: Plan) -> None:
        from sagemaker_entry.dataset import prepare

        for source, work in ((plan.dataset_source, plan.dataset_dir), *plan.more_datasets):
            copy, report = prepare(source, work, str(plan.config["dataConfig"]), video_backend=str(plan.config["videoBackend"]))
            how = "hard links" if copy.hardlinks else "symbolic links"
            log.info("dataset working copy %s: %d files linked (%s), %d copied; prepared: %s", copy.path, copy.linked_files,
                     how, copy.copied_files, ", ".join(report.prepared) or "nothing needed")
            for warning in report.warnings:
                log.warning("dataset: %s", warning)
            self.warnings.extend(f"dataset: {w}" for w in report.warnings)

    def _fetch_model(self, plan: Plan) -> ModelResult:
        cache = self.model_cache(plan.config, plan.identity)
        result = cache.fetch(
            str(plan.config["baseModelPath"]), str(plan.config["modelRevision"]), invalidate=bool(plan.config["invalidateModelCache"])
        )
        for note in result.notes:
            log.info("model cache: %s", note)
        if result.path is None:
            log.warning("no cached base model %s for the builtin engine: training starts from random initialization",
                        plan.config["baseModelPath"])
        log.info("base model served by tier '%s' in %.2f s: %s", result.tier, result.seconds, result.path)
        return result

    def _publisher(self, plan: Plan) -> Any:
        from sagemaker_entry.outputs import OutputPublisher

        config = plan.config
        expected = int(config["maxSteps"]) // int(config["saveSteps"]) + 1
        manifest = UploadManifest(self.env.checkpoint_dir / MANIFEST_NAME, plan.identity.output_prefix_uri)
        publisher = OutputPublisher(
            self.clients.get("s3"), plan.identity.output_prefix_uri, self.env.checkpoint_dir, manifest,
            engine=str(config["engine"]), expected_checkpoints=expected,
        )
        publisher.start()
        return publisher

    def _event_mirror(self, plan: Plan) -> Any:
        """The trainer's TensorBoard events, copied into the TensorBoard folder while it runs (global rank 0,
        which logs, lives on this first host)."""
        from sagemaker_entry.tensorboard import EventMirror

        source = engines.trainer_tensorboard_dir(
            str(plan.config["engine"]), spec_for(plan.config.values).generation or "", self.env.checkpoint_dir)
        if source is None:
            return None
        mirror = EventMirror(source, self.env.tensorboard_dir)
        mirror.start()
        return mirror

    def _train(self, command: engines.Command) -> int:
        from sagemaker_entry.runner import TrainerProcess

        self._check_stop()
        self.env.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.trainer = TrainerProcess(command, on_line=self.trainer_log.feed, grace_seconds=TRAINER_GRACE_SECONDS)
        self.trainer.start()
        print(f"{metrics.LOG_PREFIX} trainer started pid={self.trainer.pid} at={self.trainer.started_at:.3f}", flush=True)
        if self.stop.is_set():  # SIGTERM raced with the start
            self.trainer.terminate()
        return self.trainer.wait()

    def _finish(self, plan: Plan, code: int) -> int:
        interrupted = self.stop.is_set()
        crashed = code != 0 and not interrupted
        if interrupted:
            log.info("trainer stopped after SIGTERM (exit code %d); copying what is complete", code)
        if self.events is not None:
            self.events.stop()  # the trainer has exited: copy its last records too
        if not crashed and not interrupted and self.env.is_master:
            self._timed("evaluation", lambda: self._evaluate(plan))
        if not crashed and not interrupted and self.env.is_master:
            self.inference = self._timed("inference", lambda: self._inference_check(plan))
        upload_error: UploadError | None = None
        if self.publisher is not None:
            unusable = self.inference is not None and not self.inference.ok
            status = "interrupted" if interrupted else ("failed" if crashed or unusable else "completed")
            try:
                self._timed_upload(plan, status, deadline=self._stop_deadline())
            except UploadError as exc:
                upload_error = exc
        if crashed:
            self.phase = "training"  # the reason names the phase that failed, not the copy that followed it
            raise TrainingError(
                f"the trainer exited with code {code}: {failure.crash_summary(list(self.trainer.stderr_tail))}"
            )
        if upload_error is not None:
            raise upload_error
        if self.inference is not None and not self.inference.ok:
            from sagemaker_entry.inference_check import InferenceCheckError, describe

            self.phase = "inference"
            raise InferenceCheckError(describe(self.inference))
        if self.publisher is not None and plan.config.get("hubRepoId"):
            self._timed("release", lambda: self._release(plan))
        return 0

    def _inference_check(self, plan: Plan) -> Any:
        from sagemaker_entry import inference_check

        return inference_check.for_entry(self.env, plan.config, plan.dataset_dir)

    def _release(self, plan: Plan) -> None:
        from sagemaker_entry import hub_release

        hub_release.for_entry(self.env, plan.config, plan.identity, self.env.work_dir / "reports", self.clients.get)

    def _evaluate(self, plan: Plan) -> None:
        from sagemaker_entry import evaluation

        spec = spec_for(plan.config.values)
        if spec.generation is None:
            return  # the builtin engine evaluated inside its trainer
        info = read_json(plan.dataset_dir / "meta" / "info.json")
        result = evaluation.evaluate(
            spec, plan.config.values, python=str(self.env.gr00t_python), gr00t_repo=self.env.gr00t_repo_dir,
            model_dir=self.env.checkpoint_dir, dataset_dir=plan.dataset_dir,
            total_episodes=int(info.get("total_episodes") or 0), output_dir=self.env.checkpoint_dir)
        if "failed" in result:
            log.warning("open-loop evaluation: %s", result["failed"])
            self.warnings.append(f"evaluation: {result['failed']}")
        evaluation.write_result(self.env.checkpoint_dir, result)

    def _stop_deadline(self) -> float | None:
        return None if self.stop_at is None else self.stop_at + STOP_DEADLINE_SECONDS

    def _timed_upload(self, plan: Plan, status: str, *, deadline: float | None) -> None:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                self._upload_outputs(plan, status)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        self.phase = "upload"
        started = time.monotonic()
        if deadline is None:
            work()
        else:  # after SIGTERM: copy what fits before SageMaker's SIGKILL; a restarted job copies the rest
            thread = threading.Thread(target=work, name="final-upload", daemon=True)
            thread.start()
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("stop deadline reached before every output was copied; a restarted job copies the rest")
        self.phase_seconds["upload"] = time.monotonic() - started
        print(metrics.phase_line("upload", self.phase_seconds["upload"]), flush=True)
        if errors:
            raise errors[0]

    def _upload_outputs(self, plan: Plan, status: str) -> None:
        """Checkpoints and top-level outputs first, then the reports; every failure is reported, the first
        (what was not copied of the training outputs) first."""
        from gr00t_aws import uploads

        publisher = self.publisher
        errors: list[str] = []
        try:
            publisher.finish()
        except UploadError as exc:
            errors.append(str(exc))
        reports_dir = self.env.work_dir / "reports"
        reports: dict[str, Path] = {}
        reports[RESOLVED_CONFIG] = write_json(reports_dir / RESOLVED_CONFIG, {
            **plan.config.as_dict(), "identity": plan.identity.to_hyperparameters(),
        })
        if not (self.env.checkpoint_dir / LOSS_CURVE).is_file():
            curve = plot_loss(self.trainer_log.losses, reports_dir / LOSS_CURVE, title=plan.identity.output_folder)
            if curve:
                reports[LOSS_CURVE] = curve
        # + run_summary.json and the model card (README.md), written after the summary they count in
        summary = self.summary(plan, status, objects=publisher.object_count(reports=len(reports) + 2))
        summary["upload"] = {"checkpoints": publisher.stats.checkpoints, "bytes": publisher.stats.bytes, "errors": errors}
        reports[RUN_SUMMARY] = write_json(reports_dir / RUN_SUMMARY, summary)
        from sagemaker_entry import model_card

        reports[model_card.CARD_FILE] = model_card.for_entry(summary, plan.config, plan.dataset_dir, self.env.checkpoint_dir,
                                                             reports_dir, losses=self.trainer_log.losses)
        curve_path = reports.get(LOSS_CURVE) or self.env.checkpoint_dir / LOSS_CURVE
        try:
            publisher.upload_reports(reports)
            if plan.identity.output_metadata_uri:
                uploads.put_json(publisher.client, uploads.join_key(plan.identity.output_metadata_uri, ASSET_METADATA),
                                 asset_metadata(summary))
            if plan.identity.output_preview_uri and curve_path.is_file():
                bucket, key = uploads.parse_s3_uri(plan.identity.output_preview_uri)
                preview = uploads.join_key(key, f"{plan.identity.output_folder}.png")
                # VAMS checks previews/ like files/: an explicit type, never S3's default binary/octet-stream.
                publisher.client.upload_file(str(curve_path), bucket, preview, ExtraArgs={"ContentType": content_type(preview)})
        except Exception as exc:  # noqa: BLE001 - reported with the rest
            errors.append(f"reports not copied: {exc}")
        if errors:
            raise UploadError(" ; ".join(errors))
        log.info("outputs in %s (%d objects)", plan.identity.output_prefix_uri, summary["objects"])

    def summary(self, plan: Plan, status: str, *, objects: int) -> dict[str, Any]:
        result = read_json(self.env.checkpoint_dir / TRAIN_RESULT)
        last = self.trainer_log.last
        final_loss = result.get("final_loss", last.get("train_loss", last.get("loss")))
        global_step = result.get("global_step") or self.trainer_log.step or read_json(
            self.env.checkpoint_dir / "trainer_state.json").get("global_step")
        warnings = list(self.warnings) + (self.publisher.stats.warnings if self.publisher else [])
        return {
            "status": status,
            "job_name": self.env.job_name,
            "output_folder": plan.identity.output_folder,
            "output_uri": plan.identity.output_prefix_uri,
            "engine": plan.config["engine"],
            "base_model": plan.config["baseModelPath"],
            "gr00t_generation": spec_for(plan.config.values).generation,
            "instance": {
                "type": self.env.instance_type or plan.config["instanceType"],
                "hosts": len(self.env.hosts),
                "gpus_per_host": self.env.num_gpus,
                "processes_per_host": plan.layout.nproc_per_node,
            },
            "global_step": global_step,
            "final_loss": final_loss,
            "resumed_from_step": plan.resume.step or None,
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
            "model_cache": self.model.as_dict() if self.model else None,
            "eval": result.get("eval"),
            "inference_check": self.inference.as_dict() if self.inference is not None else None,
            "train_result": result or None,
            "objects": objects,
            "warnings": warnings,
        }


def _asset_error(message: str) -> UserError:
    from gr00t_core.errors import AssetError

    return AssetError(message)


def _default_hub_fetch(repo_id: str, revision: str, dest: Path, token: str | None) -> None:
    from gr00t_aws.hf_hub import download_snapshot

    download_snapshot(repo_id, revision, dest, token=token)


PHASE_HINTS = {
    "setup": "reading the job's configuration",
    "dataset": "preparing the dataset",
    "model": "fetching the base model",
    "training": "training",
    "upload": "copying outputs to the asset",
    "inference": "loading the final checkpoint and running get_action on a dataset frame",
    "release": "publishing to the Hugging Face Hub",
}


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"{metrics.LOG_PREFIX} %(levelname)s %(message)s"))
    root = logging.getLogger("gr00t_sm")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def _failure_path(environ: Mapping[str, str]) -> Path:
    base = Path(environ.get(contract.BASE_DIR_ENV) or contract.DEFAULT_BASE_DIR)
    return Path(environ.get("SM_OUTPUT_DIR") or base / "output") / "failure"


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagemaker_entry", description=__doc__.splitlines()[0])
    parser.add_argument("--print-command", action="store_true",
                        help="print the trainer's argv and added environment as JSON (secrets redacted) and exit")
    parser.add_argument("mode", nargs="?", help="'train' (what SageMaker passes to the image); ignored")
    args = parser.parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    _configure_logging()
    failure_file = _failure_path(environ)
    entry: Entry | None = None
    try:
        env = contract.read_training_env(environ)
        failure_file = env.failure_file
        entry = Entry(env)
        if args.print_command:
            print(json.dumps(entry.print_command(), indent=2))
            return 0
        signal.signal(signal.SIGTERM, entry.request_stop)
        return entry.run()
    except StopRequested:
        print(f"{metrics.LOG_PREFIX} stopped by SIGTERM before training started; nothing to save", flush=True)
        return 0
    except UserError as exc:
        phase = entry.phase if entry else "setup"
        text = failure.reason(f"{phase} ({PHASE_HINTS.get(phase, phase)})", str(exc))
        log.error("%s", str(exc))
        if not args.print_command:
            failure.write_failure(failure_file, text)
        else:
            print(text, file=sys.stderr)
        return 2
    except (TrainingError, UploadError) as exc:
        phase = entry.phase if entry else "setup"
        log.error("%s", exc)
        failure.write_failure(failure_file, failure.reason(f"{phase} ({PHASE_HINTS.get(phase, phase)})", str(exc)))
        return 1
    except Exception as exc:  # noqa: BLE001 - unexpected: keep the traceback in the log
        phase = entry.phase if entry else "setup"
        traceback.print_exc()
        failure.write_failure(
            failure_file,
            failure.reason(f"{phase} ({PHASE_HINTS.get(phase, phase)})", f"unexpected error {type(exc).__name__}: {exc} "
                           "(a bug: the job log has the traceback)"),
        )
        return 1
    finally:
        if entry is not None and entry.publisher is not None:
            entry.publisher.stop(wait=False)
