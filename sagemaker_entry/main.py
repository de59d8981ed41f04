"""``python -m sagemaker_entry``: turn a SageMaker training job into a finished fine-tune in the VAMS asset.

Phases: contract + config -> dataset (prepared once per node) -> base model (cache tiers) -> trainer under our
torchrun, with each complete checkpoint copied to the asset while training goes on -> final copy + reports.
Wiring only: the plan (sagemaker_entry.plan), the trainer's inputs (inputs), the phases and SIGTERM (lifecycle),
what follows the trainer (finish) and the failure reason with the exit code (failure) each live in their module.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gr00t_aws.clients import AwsClients
from gr00t_core import metrics
from sagemaker_entry import contract, failure, inputs
from sagemaker_entry.contract import TrainingEnv
from sagemaker_entry.finish import Finish, start_event_mirror, start_publisher
from sagemaker_entry.lifecycle import Lifecycle, StopRequested
from sagemaker_entry.model_cache import HubFetch
from sagemaker_entry.plan import Plan, check_engine, plan_run, printed_model_dir, trainer_command
from sagemaker_entry.reports import TrainerLog

if TYPE_CHECKING:
    from sagemaker_entry.outputs import OutputPublisher

__all__ = ["Entry", "StopRequested", "main"]

log = logging.getLogger("gr00t_sm.entry")


class Entry(Lifecycle):
    """One run: its lifecycle (phase, SIGTERM) driving the plan, the trainer's inputs, the trainer and the finish."""

    def __init__(self, env: TrainingEnv, *, clients: AwsClients | None = None, python: str = sys.executable,
                 hub_fetch: HubFetch | None = None) -> None:
        super().__init__()
        self.env = env
        self.clients = clients or AwsClients()
        self.python = python
        self._hub_fetch = hub_fetch
        self.publisher: OutputPublisher | None = None  # stopped on the way out, whatever happened

    def plan(self, *, dry_run: bool = False) -> Plan:
        return plan_run(self.env, dry_run=dry_run)

    def print_command(self) -> dict[str, Any]:
        plan = self.plan(dry_run=True)
        cache = inputs.model_cache(plan, self.clients.get, self._hub_fetch)
        planned = cache.planned_path(str(plan.config["baseModelPath"]), str(plan.config["modelRevision"]))
        return trainer_command(self.env, plan, printed_model_dir(plan, planned, self.env), python=self.python).printable()

    def run(self) -> int:
        env = self.env
        plan = self.timed("setup", self.plan)
        warnings = list(plan.config.warnings)
        for warning in plan.config.warnings:
            log.warning("config: %s", warning)
        check_engine(env, plan)
        if plan.resume.removed:
            log.warning("removed incomplete checkpoint folder(s) left by an earlier attempt: %s", ", ".join(plan.resume.removed))
        if plan.resume.latest is not None:
            log.info("resuming from %s (output folder %s)", plan.resume.latest, plan.identity.output_folder)

        warnings += self.timed("dataset", lambda: inputs.prepare_datasets(plan))
        model = self.timed("model", lambda: inputs.fetch_model(
            inputs.model_cache(plan, self.clients.get, self._hub_fetch), plan))
        command = trainer_command(env, plan, model.path, python=self.python)
        inputs.write_trainer_files(env, plan, model.path)
        finish = Finish(env, plan, self, self.clients.get, TrainerLog(), model, warnings)
        if env.is_master:
            self.publisher = finish.publisher = start_publisher(env, plan, self.clients.get("s3"))
            finish.events = start_event_mirror(env, plan)

        def train() -> int:
            env.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            return self.run_trainer(command, finish.trainer_log.feed)

        return finish(self.timed("training", train))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"{metrics.LOG_PREFIX} %(levelname)s %(message)s"))
    root = logging.getLogger("gr00t_sm")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagemaker_entry", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--print-command", action="store_true",
                        help="print the trainer's argv and added environment as JSON (secrets redacted) and exit")
    parser.add_argument("mode", nargs="?", help="'train' (what SageMaker passes to the image); ignored")
    args = parser.parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    _configure_logging()
    failure_file = failure.fallback_path(environ)
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
    except Exception as exc:  # noqa: BLE001 - every failure gets its reason and exit code there
        return failure.report(exc, entry.phase if entry else "setup", failure_file, dry_run=args.print_command)
    finally:
        if entry is not None and entry.publisher is not None:
            entry.publisher.stop(wait=False)
