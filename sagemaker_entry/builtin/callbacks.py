"""Trainer callbacks: log lines for SageMaker metrics, a clean stop on SIGTERM, complete checkpoints.

* :class:`ConsoleLog` prints the Trainer's log dicts as Python dict reprs with numeric values (the format
  :mod:`gr00t_core.metrics` parses; the stock PrinterCallback of transformers 5 quotes the numbers) and a
  ``[gr00t-sm] step=N samples_per_second=X`` line, on the global rank 0 only, flushed line by line.
* :class:`StopOnSignal` turns SIGTERM (spot interruption, StopTrainingJob, torchrun shutting its workers down)
  into "save a checkpoint at this step and stop". Under DDP the ranks agree on the step with an all-reduce, since
  a rank stopping alone would leave the others waiting in a collective forever.
* :class:`CompleteCheckpoints` adds the files that make a checkpoint loadable alone and, after every rank is done
  writing, the ``.complete`` marker uploaders wait for.
* :func:`tensorboard_callback` and :func:`write_eval_scalars`: TensorBoard event files (global rank 0 only).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import TrainerCallback

from gr00t_core.metrics import step_line
from sagemaker_entry.builtin.checkpoint import CheckpointInfo, mark_complete, write_extras


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _tidy(value: Any) -> Any:
    # Six significant digits keep lines short; the value stays a number so the metric regexes match it.
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


class ConsoleLog(TrainerCallback):
    def __init__(self, samples_per_step: int, stream: Any = None) -> None:
        self.samples_per_step = samples_per_step  # per device batch x accumulation x world size
        self.stream = stream
        self._last_time: float | None = None
        self._last_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last_time = time.perf_counter()
        self._last_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = True  # the last step's loss is the run's final loss
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        stream = self.stream or sys.stdout
        shown = {k: _tidy(v) for k, v in logs.items() if k != "total_flos"}
        print(shown, file=stream, flush=True)
        if "loss" in logs and self._last_time is not None:
            now = time.perf_counter()
            steps = state.global_step - self._last_step
            rate = steps * self.samples_per_step / max(now - self._last_time, 1e-9)
            print(step_line(state.global_step, rate), file=stream, flush=True)
            self._last_time, self._last_step = now, state.global_step


class StopOnSignal(TrainerCallback):
    def __init__(self) -> None:
        self.requested = False  # set by the signal handler (this process)
        self.stopped_at: int | None = None  # the step training stopped at because of a signal

    def install(self) -> Any:
        """Catch SIGTERM; call before the DataLoader starts its workers (they inherit the handler and ignore it).

        Returns the previous handler, for the caller to put back when training is over.
        """
        return signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def _agreed(self, device: torch.device) -> bool:
        if not _distributed():
            return self.requested
        flag = torch.tensor([1.0 if self.requested else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def on_step_end(self, args, state, control, **kwargs):
        if self._agreed(args.device) and state.global_step < state.max_steps:
            control.should_save = True
            control.should_log = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control


class CompleteCheckpoints(TrainerCallback):
    def __init__(self, info: CheckpointInfo) -> None:
        self.info = info
        self.saved: list[int] = []

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero:
            write_extras(folder, self.info)
        if _distributed():
            dist.barrier()  # every rank's files (its RNG state) are written before the marker says "complete"
        if state.is_world_process_zero:
            mark_complete(folder)
        self.saved.append(state.global_step)
        return control


def _summary_writer(log_dir: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package (requirements.txt)

    return SummaryWriter(log_dir=str(log_dir))


def tensorboard_callback(log_dir: Path) -> TrainerCallback:
    """transformers' own TensorBoardCallback writing into ``log_dir``: every Trainer log as ``train/<key>``
    (loss, learning_rate, grad_norm, epoch, the final train_* figures), the tags GR00T N1.5's runs show too.

    It gets its writer rather than a folder: transformers 5 reads the folder only from the TENSORBOARD_LOGGING_DIR
    variable, 4.x only from TrainingArguments.logging_dir (transformers/integrations/integration_utils.py), and an
    explicit argument is clearer than either. Create it on the global rank 0 only: the writer opens its event file
    at once, and one file per rank would show each run several times.
    """
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=_summary_writer(log_dir))


EVAL_SCALARS = {"mse": "eval/open_loop_mse", "baseline_repeat_state_mse": "eval/baseline_repeat_state_mse",
                "normalized_mse": "eval/normalized_mse"}


def write_eval_scalars(log_dir: Path, step: int, result: dict[str, Any]) -> None:
    """The open-loop evaluation's figures at the last step (it runs after training, outside the Trainer's logs)."""
    with _summary_writer(log_dir) as writer:
        for key, tag in EVAL_SCALARS.items():
            if isinstance(result.get(key), (int, float)):
                writer.add_scalar(tag, float(result[key]), step)


__all__ = ["CompleteCheckpoints", "ConsoleLog", "EVAL_SCALARS", "StopOnSignal", "tensorboard_callback", "write_eval_scalars"]
