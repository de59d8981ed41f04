"""Train the builtin policy: ``python -m sagemaker_entry.builtin.train --request FILE`` (plain or under torchrun).

The request file is described in :mod:`.settings`; ``--dataset DIR`` (repeatable) adds datasets to mix with the
request's (what the container entry passes for the further folders of datasetPath, see :mod:`.mixture`). Under torchrun (WORLD_SIZE > 1) the Trainer runs DDP over
gloo on CPU and NCCL on GPU. Rank 0 prints the Trainer's log dicts and ``[gr00t-sm] step=...`` lines on stdout,
and at the end writes into the output folder:

* ``checkpoint-N/`` every saveSteps and at the last step (``.complete`` written last, see :mod:`.checkpoint`),
* ``train_result.json``: global_step, initial/final loss, runtime, samples/s, parameter counts,
  datasets (path, episodes, frames of each), ignored_parameters, eval (open-loop MSE vs the repeat-state baseline), interrupted, warnings,
* ``loss_curve.png`` and ``eval_open_loop.png``,

and, when the request names a ``tensorboard_dir``, TensorBoard event files there (rank 0): the Trainer's logs as
``train/*`` and the open-loop evaluation as ``eval/*``.

SIGTERM saves a checkpoint at the current step and exits 0 (``interrupted: true``); resuming from that checkpoint
continues to the same maxSteps. Exit codes: 0 done (or stopped cleanly), 2 the user's input is wrong (one message
on stderr, no traceback), anything else an unexpected failure (with its traceback).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch.utils.data import DataLoader
from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import seed_worker

from gr00t_core.errors import ConfigError, UserError
from sagemaker_entry.builtin.callbacks import (
    CompleteCheckpoints,
    ConsoleLog,
    StopOnSignal,
    tensorboard_callback,
    write_eval_scalars,
)
from sagemaker_entry.builtin.checkpoint import (
    POLICY_FILE,
    WEIGHTS_FILE,
    CheckpointInfo,
    checkpoint_step,
    is_complete,
    read_policy_file,
)
from sagemaker_entry.builtin.data import ChunkDataset, EpisodeWindowSampler, collate
from sagemaker_entry.builtin.evaluate import evaluate
from sagemaker_entry.builtin.lerobot import LeRobotDataset
from sagemaker_entry.builtin.mixture import describe, open_datasets
from sagemaker_entry.builtin.model import (
    TUNE_FLAGS,
    FlowMatchingPolicy,
    PolicyConfig,
    build_vision,
    inject_lora,
    lora_targets,
    merged_state_dict,
    parameter_counts,
    set_trainable,
)
from sagemaker_entry.builtin.plots import loss_curve
from sagemaker_entry.builtin.policy import load_policy
from sagemaker_entry.builtin.settings import ModelOptions, TrainRequest, ignored_parameters, read_request

RESULT_FILE = "train_result.json"
LOSS_PLOT_FILE = "loss_curve.png"
PREFIX = "[gr00t-sm]"


class _Log:
    """Rank-0 messages on stderr; each warning once, all kept for the run summary."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if message in self.warnings:
            return
        self.warnings.append(message)
        if self.rank == 0:
            print(f"{PREFIX} warning: {message}", file=sys.stderr, flush=True)

    def info(self, message: str) -> None:
        if self.rank == 0:
            print(f"{PREFIX} {message}", flush=True)


def _start_worker(worker_id: int, *, num_workers: int, rank: int) -> None:
    # A worker leaves the rank's process group: torchrun stops a rank by signalling that whole group, and torch
    # makes a worker die of any SIGTERM not sent by its parent, which would crash the rank before it saves its
    # checkpoint. The rank stops its workers itself (and a worker exits if its rank dies).
    os.setpgid(0, 0)
    seed_worker(worker_id, num_workers=num_workers, rank=rank)


class _Trainer(Trainer):
    """The stock Trainer fed by the episode-window sampler (keeps each worker's decoded-video cache warm)."""

    def __init__(self, *args: Any, sampler: EpisodeWindowSampler, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._window_sampler = sampler

    def get_train_dataloader(self) -> DataLoader:
        a = self.args
        workers = a.dataloader_num_workers
        if self.train_dataset is None:  # as the stock Trainer.get_train_dataloader says it
            raise ValueError("Trainer: training requires a train_dataset.")
        loader = DataLoader(
            self.train_dataset,
            batch_size=self._train_batch_size,
            sampler=self._window_sampler,
            collate_fn=self.data_collator,
            num_workers=workers,
            pin_memory=a.dataloader_pin_memory,
            persistent_workers=workers > 0,
            prefetch_factor=a.dataloader_prefetch_factor if workers else None,
            worker_init_fn=partial(_start_worker, num_workers=workers, rank=a.process_index) if workers else None,
            drop_last=a.dataloader_drop_last,
        )
        return self.accelerator.prepare(loader)


def _base_policy(request: TrainRequest, log: _Log) -> tuple[PolicyConfig, dict[str, torch.Tensor]] | None:
    """The shape and merged weights of a builtin checkpoint given as the base model, or None (random init)."""
    base = request.base_model_dir
    if base is None or not (base / POLICY_FILE).is_file():
        return None
    info = read_policy_file(base)
    policy = load_policy(base, device="cpu")
    log.info(f"starting from the builtin checkpoint {base}")
    return PolicyConfig.from_json(info["policy"]), merged_state_dict(policy.model)


class _Shape(TypedDict):
    """What the dataset fixes of the network; a base checkpoint must have the same."""

    state_dim: int
    action_dim: int
    cameras: int
    horizon: int


def _policy_config(request: TrainRequest, source: LeRobotDataset, base: PolicyConfig | None) -> PolicyConfig:
    layout = source.layout
    shape = _Shape(state_dim=layout.state_dim, action_dim=layout.action_dim, cameras=len(layout.cameras), horizon=layout.horizon)
    if base is not None:
        differs = [f"{k}: checkpoint {getattr(base, k)}, dataset {v}" for k, v in shape.items() if getattr(base, k) != v]
        if differs:
            raise ConfigError(differs, header=f"The base model {request.base_model_dir} does not fit this dataset")
        sizes = {k: v for k, v in base.to_json().items() if not k.startswith("lora_")}
        return PolicyConfig(**sizes)
    o: ModelOptions = request.options
    return PolicyConfig(
        **shape,
        image_size=o.image_size, patch_size=o.patch_size, vision_hidden_size=o.vision_hidden_size,
        vision_layers=o.vision_layers, hidden_size=o.hidden_size, layers=o.layers, heads=o.heads,
        text_vocab=o.text_vocab, text_tokens=o.text_tokens, inference_steps=o.inference_steps,
    )


def build_model(request: TrainRequest, source: LeRobotDataset, log: _Log) -> tuple[FlowMatchingPolicy, bool]:
    """The policy ready to train (tune flags and LoRA applied) and whether a base checkpoint was loaded."""
    config = request.config
    base = _base_policy(request, log)
    cfg = _policy_config(request, source, base[0] if base else None)
    model = FlowMatchingPolicy(cfg, build_vision(cfg, request.options.vision_model if base is None else None))
    if base is not None:
        model.load_state_dict(base[1], strict=True)
    tuned = {part for part, flag in TUNE_FLAGS.items() if config[flag]}
    set_trainable(model, tuned)
    if config["loraRank"] > 0:
        cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout = config["loraRank"], config["loraAlpha"], config["loraDropout"]
        cfg.lora_targets = lora_targets(model, tuned)
        inject_lora(model)
    return model, base is not None


def training_arguments(request: TrainRequest, *, distributed: bool) -> TrainingArguments:
    c = request.config
    cuda = torch.cuda.is_available()
    warmup = c["warmupRatio"] if c["warmupRatio"] < 1 else c["maxSteps"]  # transformers 5: a float < 1 is a ratio
    workers = c["dataloaderNumWorkers"]
    return TrainingArguments(
        output_dir=str(request.output_dir),
        max_steps=c["maxSteps"],
        per_device_train_batch_size=c["batchSize"],
        gradient_accumulation_steps=c["gradientAccumulationSteps"],
        learning_rate=c["learningRate"],
        weight_decay=c["weightDecay"],
        warmup_steps=warmup,
        lr_scheduler_type="cosine",
        optim="adamw_torch",
        adam_beta1=0.95,  # GR00T N1.5's betas
        adam_beta2=0.999,
        save_strategy="steps",
        save_steps=c["saveSteps"],
        save_total_limit=c["saveTotalLimit"],
        logging_strategy="steps",
        logging_steps=request.logging_steps,
        logging_first_step=True,
        seed=c["seed"],
        dataloader_num_workers=workers,
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        ddp_backend=("nccl" if cuda else "gloo") if distributed else None,
        ddp_find_unused_parameters=False if distributed else None,
    )


def _limit_cpu_threads(workers: int, local_world: int) -> None:
    """On CPU, leave a core to each DataLoader worker: torch's intra-op threads otherwise compete with the
    decoding workers, and on a small shared machine two threads can be several times slower than one."""
    if torch.cuda.is_available() or "OMP_NUM_THREADS" in os.environ:
        return  # GPU training, or the user (or torchrun) chose
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, cores // max(1, local_world) - workers))


def _resume_path(request: TrainRequest, model: FlowMatchingPolicy, log: _Log) -> str | None:
    path = request.resume_from_checkpoint
    if path is None:
        return None
    if not path.is_dir() or not (path / WEIGHTS_FILE).is_file() or not (path / "trainer_state.json").is_file():
        raise ConfigError([f"resume_from_checkpoint {path}: not a checkpoint folder (needs {WEIGHTS_FILE} and trainer_state.json)"])
    if not is_complete(path):
        log.warn(f"resuming from {path}, which has no .complete marker: it may be a checkpoint cut short")
    if (path / POLICY_FILE).is_file():
        # The Trainer loads weights non-strictly: a network of another shape would resume half-loaded, silently.
        saved, now = read_policy_file(path)["policy"], model.cfg.to_json()
        differs = [f"{k}: checkpoint {saved.get(k)!r}, this run {v!r}" for k, v in now.items() if saved.get(k) != v]
        if differs:
            raise ConfigError(differs, header=f"resume_from_checkpoint {path} was trained with another network or LoRA setup")
    return str(path)


def _samples(source: LeRobotDataset, episodes: list[int], cfg: PolicyConfig, cache_bytes: int,
             more: list[tuple[LeRobotDataset, list[int]]] | None = None) -> ChunkDataset:
    # Sizes from the network (a base checkpoint fixes them), not from the request's engine options.
    return ChunkDataset(source, episodes, image_size=cfg.image_size, text_vocab=cfg.text_vocab,
                        text_tokens=cfg.text_tokens, frame_cache_bytes=cache_bytes, more=more or [])


def _split(sources: list[LeRobotDataset], eval_episodes: int, log: _Log) -> list[tuple[LeRobotDataset, list[int], list[int]]]:
    """(dataset, trained episodes, held-out episodes) per dataset: each holds out its last ``eval_episodes``."""
    out = []
    for source in sources:
        train, held = source.split(eval_episodes)
        if eval_episodes and len(held) < eval_episodes:
            which = f"dataset {source.root}" if len(sources) > 1 else "the dataset"
            log.warn(
                f"evalEpisodes={eval_episodes} but {which} has {len(source.episode_indices)} episode(s): "
                f"{len(held)} held out for the evaluation"
                + ("; the open-loop evaluation is skipped" if not held and len(sources) == 1 else "")
            )
        out.append((source, train, held))
    return out


def _pool(parts: list[tuple[LeRobotDataset, list[int]]], cfg: PolicyConfig, cache_bytes: int) -> ChunkDataset | None:
    """One sample pool over the given episodes of every dataset (None when there are none)."""
    parts = [(source, episodes) for source, episodes in parts if episodes]
    if not parts:
        return None
    (first, episodes), *more = parts
    return _samples(first, episodes, cfg, cache_bytes, more)


def training_samples(
    splits: list[tuple[LeRobotDataset, list[int], list[int]]], cfg: PolicyConfig, cache_bytes: int, seed: int
) -> tuple[ChunkDataset, EpisodeWindowSampler]:
    """The pool of trained episodes of every dataset and the order the Trainer draws it in."""
    dataset = _pool([(s, train) for s, train, _ in splits], cfg, cache_bytes)
    assert dataset is not None  # split() keeps at least one episode of each dataset for training
    # Windows of half the cache: the next window's episodes fit beside the current one's at a boundary. Episodes of
    # every dataset share the windows, so batches mix the datasets in proportion to their frames, as GR00T's do.
    return dataset, EpisodeWindowSampler(dataset.episode_lengths, dataset.frame_bytes, cache_bytes // 2, seed)


def _summary(
    trainer: Trainer,
    *,
    start_step: int,
    runtime: float,
    samples_per_step: int,
    counts: tuple[int, int],
    ignored: dict[str, str],
    interrupted: bool,
    log: _Log,
) -> dict[str, Any]:
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    steps = trainer.state.global_step - start_step
    return {
        "engine": "builtin",
        "global_step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "interrupted": interrupted,
        "world_size": trainer.args.world_size,  # ranks that trained together (all nodes)
        "initial_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_runtime": round(runtime, 3),
        "samples_per_second": round(steps * samples_per_step / runtime, 3) if runtime > 0 else None,
        "trainable_parameters": counts[0],
        "total_parameters": counts[1],
        "ignored_parameters": sorted(ignored),
        "ignored_reasons": ignored,
        "checkpoint": f"checkpoint-{trainer.state.global_step}",  # the last one, inside output_dir
        "warnings": list(log.warnings),
        "eval": None,
    }


def run(request: TrainRequest) -> dict[str, Any] | None:
    """Train, save, evaluate; returns the run summary on rank 0 (None on other ranks)."""
    stop = StopOnSignal()
    previous = stop.install()  # before any DataLoader worker is forked
    try:
        return _run(request, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(request: TrainRequest, stop: StopOnSignal) -> dict[str, Any] | None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    log = _Log(rank)
    config = request.config

    sources = open_datasets(request.dataset_dirs, config["dataConfig"], warn=log.warn)
    source = sources[0]  # every dataset shares its layout and (merged) statistics
    splits = _split(sources, config["evalEpisodes"], log)

    set_seed(config["seed"])  # same initial weights on every rank and every run with this seed
    model, base_loaded = build_model(request, source, log)
    ignored = ignored_parameters(config, base_model_loaded=base_loaded)
    for why in ignored.values():
        log.warn(why)
    counts = parameter_counts(model)
    log.info(f"trainable_parameters={counts[0]} total_parameters={counts[1]}")

    _limit_cpu_threads(config["dataloaderNumWorkers"], int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    options = request.options
    cache_bytes = options.frame_cache_mb * 2**20
    dataset, sampler = training_samples(splits, model.cfg, cache_bytes, config["seed"])
    info = CheckpointInfo(
        policy=model.cfg.to_json(), layout=source.layout, statistics=source.statistics,
        embodiment_tag=config["embodimentTag"], data_config=config["dataConfig"], fps=source.fps,
    )
    args = training_arguments(request, distributed=world > 1)
    samples_per_step = config["batchSize"] * config["gradientAccumulationSteps"] * world
    callbacks = [ConsoleLog(samples_per_step), stop, CompleteCheckpoints(info)]
    if rank == 0 and request.tensorboard_dir is not None:
        callbacks.append(tensorboard_callback(request.tensorboard_dir))
    trainer = _Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collate,
        callbacks=callbacks,
        sampler=sampler,
    )
    trainer.remove_callback(PrinterCallback)

    resume = _resume_path(request, model, log)
    start_step = (checkpoint_step(Path(resume)) or 0) if resume else 0
    # Objects made so far stay put in the forked workers' copy-on-write pages instead of being copied when the
    # collector walks them (part of the memory growth of forked DataLoader workers).
    gc.freeze()
    began = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=resume)
    finally:
        gc.unfreeze()
    runtime = time.perf_counter() - began
    if rank != 0:
        return None

    interrupted = stop.stopped_at is not None  # a SIGTERM after the last step still lets the run count as whole
    summary = _summary(
        trainer, start_step=start_step, runtime=runtime, samples_per_step=samples_per_step, counts=counts,
        ignored=ignored, interrupted=interrupted, log=log,
    )
    summary["datasets"] = describe(sources)
    output = request.output_dir
    plot = loss_curve(trainer.state.log_history, output / LOSS_PLOT_FILE)
    summary["plots"] = {"loss_curve": plot.name if plot else None}
    final = output / summary["checkpoint"]
    if not final.is_dir() and resume:  # resumed from a checkpoint already at maxSteps: nothing new was saved
        final = Path(resume)
        summary["checkpoint"] = str(final)
    stopping = interrupted or stop.requested  # (under DDP another rank may have got the signal)
    held_out = None if stopping else _pool([(s, held) for s, _, held in splits], model.cfg, cache_bytes)
    if held_out is not None:
        policy = load_policy(final, device=args.device, seed=config["seed"])
        summary["eval"] = evaluate(policy, held_out, output, should_stop=lambda: stop.requested)
        summary["plots"]["eval"] = summary["eval"].get("plot")
        if "mse" in summary["eval"]:
            e = summary["eval"]
            log.info(f"eval open_loop_mse={e['mse']:.6g} baseline_repeat_state_mse={e['baseline_repeat_state_mse']}")
            if request.tensorboard_dir is not None:
                write_eval_scalars(request.tensorboard_dir, trainer.state.global_step, e)
    elif stopping:
        summary["eval"] = {"skipped": "the run was stopped by SIGTERM; resume it to finish and evaluate"}
    summary["warnings"] = list(log.warnings)
    (output / RESULT_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagemaker_entry.builtin.train", description=__doc__.splitlines()[0])
    parser.add_argument("--request", type=Path, required=True, help="JSON request file (see sagemaker_entry.builtin.settings)")
    parser.add_argument("--dataset", type=Path, action="append", default=[], metavar="DIR",
                        help="a further prepared dataset mixed with the request's (repeatable)")
    args = parser.parse_args(argv)
    try:
        request = read_request(args.request)
        if args.dataset:
            request = replace(request, more_dataset_dirs=(*request.more_dataset_dirs, *args.dataset))
        request.output_dir.mkdir(parents=True, exist_ok=True)
        run(request)
    except UserError as exc:
        print(f"{PREFIX} error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


def _exit(code: int) -> None:
    """Exit; under DDP skip the interpreter's teardown.

    A gloo process group still alive at teardown can abort a rank ("terminate called without an active
    exception", SIGABRT) after its work is done, and destroy_process_group() can deadlock on the GIL with gloo's
    run-loop threads. Every output is written and flushed by now, so the process leaves at once instead.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
