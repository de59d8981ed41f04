"""After the trainer: evaluation, the inference check, the final copy with the reports (run_summary.json, the model
card, asset metadata, the loss-curve preview) within the stop deadline, the Hub release, and the run's outcome.

Only the first host copies outputs (the trainers save on global rank 0); its publisher copies each complete
checkpoint while training goes on, so the final copy is what is new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gr00t_core.content_types import content_type
from gr00t_core.errors import TrainingError, UploadError
from sagemaker_entry import engines, failure
from sagemaker_entry.checkpoints import MANIFEST_NAME, UploadManifest
from sagemaker_entry.contract import TrainingEnv
from sagemaker_entry.lifecycle import Lifecycle
from sagemaker_entry.model_cache import ModelResult
from sagemaker_entry.plan import Plan
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

if TYPE_CHECKING:
    from sagemaker_entry.inference_check import CheckResult
    from sagemaker_entry.outputs import OutputPublisher
    from sagemaker_entry.tensorboard import EventMirror

log = logging.getLogger("gr00t_sm.entry")


def start_publisher(env: TrainingEnv, plan: Plan, s3: Any) -> OutputPublisher:
    """Copies each complete checkpoint to the asset while training goes on."""
    from sagemaker_entry.outputs import OutputPublisher

    manifest = UploadManifest(env.checkpoint_dir / MANIFEST_NAME, plan.identity.output_prefix_uri)
    publisher = OutputPublisher(s3, plan.identity.output_prefix_uri, env.checkpoint_dir, manifest,
                                engine=str(plan.config["engine"]), expected_checkpoints=plan.expected_checkpoints)
    publisher.start()
    return publisher


def start_event_mirror(env: TrainingEnv, plan: Plan) -> EventMirror | None:
    """The trainer's TensorBoard events, copied into the TensorBoard folder while it runs (global rank 0, which
    logs, lives on this first host); None when the engine writes them in place or not at all."""
    from sagemaker_entry.tensorboard import EventMirror

    source = engines.trainer_tensorboard_dir(str(plan.config["engine"]), plan.spec.generation or "", env.checkpoint_dir)
    if source is None:
        return None
    mirror = EventMirror(source, env.tensorboard_dir)
    mirror.start()
    return mirror


def evaluate_run(env: TrainingEnv, plan: Plan) -> dict[str, Any]:
    """A GR00T run's open-loop evaluation (sagemaker_entry.evaluation), on the held-out copy the dataset phase made
    when the dataset had episodes enough (sagemaker_entry.inputs.hold_out_episodes), else on the training copy."""
    from gr00t_data.split import listed_episodes
    from sagemaker_entry import evaluation

    held_out = (plan.eval_dataset_dir / "meta" / "info.json").is_file()
    dataset_dir = plan.eval_dataset_dir if held_out else plan.dataset_dir
    return evaluation.evaluate(
        plan.spec, plan.config.values, python=str(env.gr00t_python), gr00t_repo=env.gr00t_repo_dir,
        model_dir=env.checkpoint_dir, dataset_dir=dataset_dir,
        episode_indices=[int(e["episode_index"]) for e in listed_episodes(dataset_dir)],
        output_dir=env.checkpoint_dir, held_out=held_out)


@dataclass
class Finish:
    env: TrainingEnv
    plan: Plan
    lifecycle: Lifecycle
    client: Callable[[str], Any]  # AWS client by service name
    trainer_log: TrainerLog
    model: ModelResult | None
    warnings: list[str] = field(default_factory=list)  # the run's so far (config, dataset); evaluation adds its own
    publisher: OutputPublisher | None = None  # None: not the first host, nothing to copy
    events: EventMirror | None = None
    inference: CheckResult | None = None  # of the final checkpoint

    @property
    def reports_dir(self) -> Path:
        return self.env.work_dir / "reports"

    def __call__(self, code: int) -> int:
        """The run's outcome from the trainer's exit code: 0, or the error that names the phase that failed."""
        interrupted = self.lifecycle.stop.is_set()
        crashed = code != 0 and not interrupted
        if interrupted:
            log.info("trainer stopped after SIGTERM (exit code %d); copying what is complete", code)
        if self.events is not None:
            self.events.stop()  # the trainer has exited: copy its last records too
        if not crashed and not interrupted and self.env.is_master:
            self.lifecycle.timed("evaluation", self._evaluate)
        if not crashed and not interrupted and self.env.is_master:
            self.inference = self.lifecycle.timed("inference", self._inference_check)
        upload_error: UploadError | None = None
        publisher = self.publisher
        if publisher is not None:
            unusable = self.inference is not None and not self.inference.ok
            status = "interrupted" if interrupted else ("failed" if crashed or unusable else "completed")
            try:
                self.lifecycle.timed("upload", lambda: self._upload_by(publisher, status, self.lifecycle.deadline()),
                                     stoppable=False)
            except UploadError as exc:
                upload_error = exc
        if crashed:
            self.lifecycle.phase = "training"  # the reason names the phase that failed, not the copy that followed it
            tail = list(self.lifecycle.trainer.stderr_tail) if self.lifecycle.trainer is not None else []
            raise TrainingError(f"the trainer exited with code {code}: {failure.crash_summary(tail)}")
        if upload_error is not None:
            raise upload_error
        if self.inference is not None and not self.inference.ok:
            from sagemaker_entry.inference_check import InferenceCheckError, describe

            self.lifecycle.phase = "inference"
            raise InferenceCheckError(describe(self.inference))
        if self.publisher is not None and self.plan.config.get("hubRepoId"):
            self.lifecycle.timed("release", self._release)
        return 0

    def _evaluate(self) -> None:
        from sagemaker_entry import evaluation

        if self.plan.spec.generation is None:
            return  # the builtin engine evaluated inside its trainer
        result = evaluate_run(self.env, self.plan)
        if "failed" in result:
            log.warning("open-loop evaluation: %s", result["failed"])
            self.warnings.append(f"evaluation: {result['failed']}")
        evaluation.write_result(self.env.checkpoint_dir, result)

    def _inference_check(self) -> CheckResult:
        from sagemaker_entry import inference_check

        return inference_check.for_entry(self.env, self.plan.config.values, self.plan.dataset_dir)

    def _release(self) -> None:
        from sagemaker_entry import hub_release

        hub_release.for_entry(self.env, self.plan.config, self.plan.identity, self.reports_dir, self.client)

    def _upload_by(self, publisher: OutputPublisher, status: str, deadline: float | None) -> None:
        """The final copy; after SIGTERM (a deadline) only what fits before SageMaker's SIGKILL, and a restarted
        job copies the rest."""
        errors: list[BaseException] = []

        def work() -> None:
            try:
                self._upload_outputs(publisher, status)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        if deadline is None:
            work()
        else:
            thread = threading.Thread(target=work, name="final-upload", daemon=True)
            thread.start()
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("stop deadline reached before every output was copied; a restarted job copies the rest")
        if errors:
            raise errors[0]

    def _upload_outputs(self, publisher: OutputPublisher, status: str) -> None:
        """Checkpoints and top-level outputs first, then the reports; every failure is reported, the first
        (what was not copied of the training outputs) first."""
        from gr00t_aws import uploads
        from sagemaker_entry import model_card

        plan, checkpoint_dir = self.plan, self.env.checkpoint_dir
        errors: list[str] = []
        try:
            publisher.finish()
        except UploadError as exc:
            errors.append(str(exc))
        reports: dict[str, Path] = {}
        reports[RESOLVED_CONFIG] = write_json(self.reports_dir / RESOLVED_CONFIG, {
            **plan.config.as_dict(), "identity": plan.identity.to_hyperparameters(),
        })
        if not (checkpoint_dir / LOSS_CURVE).is_file():
            curve = plot_loss(self.trainer_log.losses, self.reports_dir / LOSS_CURVE, title=plan.identity.output_folder)
            if curve:
                reports[LOSS_CURVE] = curve
        # + run_summary.json and the model card (README.md), written after the summary they count in
        summary = self.summary(status, objects=publisher.object_count(reports=len(reports) + 2))
        summary["upload"] = {"checkpoints": publisher.stats.checkpoints, "bytes": publisher.stats.bytes, "errors": errors}
        reports[RUN_SUMMARY] = write_json(self.reports_dir / RUN_SUMMARY, summary)
        reports[model_card.CARD_FILE] = model_card.for_entry(summary, plan.config, plan.dataset_dir, checkpoint_dir,
                                                             self.reports_dir, losses=self.trainer_log.losses)
        curve_path = reports.get(LOSS_CURVE) or checkpoint_dir / LOSS_CURVE
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

    def summary(self, status: str, *, objects: int) -> dict[str, Any]:
        """run_summary.json (docs/container.md, "Outputs"); also what the model card and asset metadata show."""
        env, plan = self.env, self.plan
        result = read_json(env.checkpoint_dir / TRAIN_RESULT)
        last = self.trainer_log.last
        final_loss = result.get("final_loss", last.get("train_loss", last.get("loss")))
        global_step = result.get("global_step") or self.trainer_log.step or read_json(
            env.checkpoint_dir / "trainer_state.json").get("global_step")
        warnings = list(self.warnings) + (self.publisher.stats.warnings if self.publisher else [])
        return {
            "status": status,
            "job_name": env.job_name,
            "output_folder": plan.identity.output_folder,
            "output_uri": plan.identity.output_prefix_uri,
            "engine": plan.config["engine"],
            "base_model": plan.config["baseModelPath"],
            "gr00t_generation": plan.spec.generation,
            "instance": {
                "type": env.instance_type or plan.config["instanceType"],
                "hosts": len(env.hosts),
                "gpus_per_host": env.num_gpus,
                "processes_per_host": plan.layout.nproc_per_node,
            },
            "global_step": global_step,
            "final_loss": final_loss,
            "resumed_from_step": plan.resume.step or None,
            "phase_seconds": {k: round(v, 3) for k, v in self.lifecycle.phase_seconds.items()},
            "model_cache": self.model.as_dict() if self.model else None,
            "eval": result.get("eval"),
            "inference_check": self.inference.as_dict() if self.inference is not None else None,
            "train_result": result or None,
            "objects": objects,
            "warnings": warnings,
        }
