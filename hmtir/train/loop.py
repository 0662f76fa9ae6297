"""The training loop: on-the-fly degradation, SPT losses, DDP, exact resume, validation, checkpoints.

Determinism is structural rather than stateful, so a resumed (or differently sharded) run repeats an
uninterrupted one exactly: the sample stream is seeded per epoch and item (:mod:`hmtir.train.batches`) and
the degradation generator of step ``s`` is reseeded from ``(seed, s, rank)``. The global RNG states are
still saved and restored, for anything else that draws from them. The stages live beside it: augmentation
(:mod:`~hmtir.train.augment`), objective (:mod:`~hmtir.train.objective`), validation
(:mod:`~hmtir.train.validation`), step budget and LR (:mod:`~hmtir.train.schedule`).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hmtir.data.datasets import TrainFrames
from hmtir.degrade.torch_ops import degrade
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.safety import check_output_folder, mark_output_folder
from hmtir.models.accel import compile_module
from hmtir.models.checkpoint import load_state_dict_strict, save_checkpoint
from hmtir.models.prompts import PromptBank
from hmtir.runtime import count_parameters
from hmtir.train import distributed
from hmtir.train.augment import crop_window, restretch_levels, scale_exposure
from hmtir.train.batches import SeededItems, check_windows, derived_seed, iterate_batches
from hmtir.train.checkpointing import (
    check_adam_state,
    last_checkpoint,
    load_training_state,
    restore_rng,
    save_training_state,
)
from hmtir.train.config import TrainConfig
from hmtir.train.logging import ScalarLogger, writing_run
from hmtir.train.network import build_network, plan_network
from hmtir.train.objective import SPTObjective, window_statistics
from hmtir.train.schedule import batches_per_epoch, lr_factor, total_steps_for
from hmtir.train.validation import ValidationSet

FINAL_MODEL = "model.pt"
SUMMARY_FILE = "train_summary.json"
# What a run writes into --out; a fresh run refuses to start over these unless told to (--overwrite).
RUN_OUTPUTS = ("checkpoints", FINAL_MODEL, SUMMARY_FILE, "scalars.csv", "tensorboard")


@dataclass
class TrainResult:
    out: Path
    steps: int
    final_model: Path
    last_checkpoint: Path
    losses: list[float] = field(default_factory=list)
    validation: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    rank_checksums: list[float] = field(default_factory=list)


def parameter_checksum(model: nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() for p in model.parameters()))


ProgressHook = Callable[[int, int, dict[str, float]], None]


def train(
    config: TrainConfig,
    data: Path | str,
    out: Path | str,
    val_data: Path | str | None = None,
    resume: bool = False,
    device: str = "auto",
    on_step: ProgressHook | None = None,
    max_seconds: float | None = None,
    compile: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train ``config.model`` on clean frames in ``data``; rank 0 writes checkpoints and logs under ``out``.

    ``max_seconds`` stops early at a wall-clock budget (the final checkpoint records the reached step).
    ``compile`` runs the passes through ``torch.compile`` (checkpoints hold the plain network's weights).
    A folder that already holds a run is continued with ``resume`` or replaced with ``overwrite``, never
    silently; ``resume`` without a checkpoint is an error, not a fresh start.
    """
    out = check_output_folder(
        out, overwrite=overwrite, own=lambda run: any((run / n).exists() for n in RUN_OUTPUTS)
    )
    # every option checked against the frames (headers only) and the network (sized on the meta device)
    # before any frame, weight or file is allocated or touched
    frames = TrainFrames(data, crop=max(config.crop, config.degrade_size), flips=config.flips)
    plan = plan_network(config)
    check_windows(config, frames, plan.size_multiple, plan.name)
    ctx = distributed.setup(device, config.threads)
    try:
        batches_per_epoch(len(frames), config.batch_size, ctx.world_size)
        validation = (
            ValidationSet.build(Path(val_data), config) if val_data is not None and ctx.is_main else None
        )
        _prepare_out(out, resume, overwrite, ctx)
        if ctx.is_main:
            with writing_run(out):
                mark_output_folder(out)
        return _train(config, frames, Path(data), out, validation, resume, ctx, on_step, max_seconds, compile)
    finally:
        distributed.teardown(ctx)


def _prepare_out(out: Path, resume: bool, overwrite: bool, ctx: distributed.DistContext) -> None:
    """Refuse to start over an existing run unless told to; all ranks decide on rank 0's view."""
    checkpoint = last_checkpoint(out)
    has_checkpoint = distributed.broadcast_flag(ctx, checkpoint.is_file())
    existing = [name for name in RUN_OUTPUTS if (out / name).exists()]
    holds_run = distributed.broadcast_flag(ctx, bool(existing))
    if resume:
        if not has_checkpoint:
            raise HmtirError(
                f"--resume: no checkpoint at {checkpoint}; start without --resume to train afresh"
            )
        return
    if holds_run and not overwrite:
        raise HmtirError(
            f"{out} already holds a training run ({', '.join(existing) or 'on rank 0'}); "
            "pass --resume to continue it or --overwrite to start again"
        )
    if holds_run and ctx.is_main:
        with writing_run(out):
            for name in existing:
                target = out / name
                shutil.rmtree(target) if target.is_dir() else target.unlink()
    distributed.barrier(ctx)


def _train(
    config: TrainConfig,
    frames: TrainFrames,
    data: Path,
    out: Path,
    validation: ValidationSet | None,
    resume: bool,
    ctx: distributed.DistContext,
    on_step: ProgressHook | None,
    max_seconds: float | None,
    compile: bool = False,
) -> TrainResult:
    torch.manual_seed(config.seed)
    items = SeededItems(frames)
    total_steps = total_steps_for(config, len(frames), ctx.world_size)
    per_epoch = batches_per_epoch(len(frames), config.batch_size, ctx.world_size)
    name, model, bank = build_network(config)
    model.to(ctx.device).train()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=config.lr,
        betas=tuple(config.optimizer.get("betas", (0.9, 0.999))),
        weight_decay=float(config.optimizer.get("weight_decay", 0.0)),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, total_steps, per_epoch))
    config_dict = config.as_dict()
    start_step = 0
    checkpoint_path = last_checkpoint(out)
    if resume:
        state = load_training_state(checkpoint_path, config_dict)
        load_state_dict_strict(model, state["state_dict"], source=f"checkpoint {checkpoint_path}")
        try:  # a file that passed as a training checkpoint but lacks a part, or holds one of another shape
            if state.get("prompt_bank") is not None:
                bank = PromptBank.from_dict(state["prompt_bank"])
            optimizer.load_state_dict(state["optimizer"])
            check_adam_state(optimizer)
            scheduler.load_state_dict(state["scheduler"])
            restore_rng(state["rng"])
            start_step = int(state["step"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
            raise HmtirError(
                f"--resume: {checkpoint_path} is not a usable training checkpoint "
                f"({type(err).__name__}: {str(err)[:120]})"
            ) from None
    precision = "bf16" if config.amp == "bf16" else "fp32"
    net: nn.Module = compile_module(model, ctx.device, precision=precision)[0] if compile else model
    if ctx.distributed:
        ddp_kwargs = {"device_ids": [ctx.device.index]} if ctx.device.type == "cuda" else {}
        net = nn.parallel.DistributedDataParallel(net, **ddp_kwargs)
    objective = SPTObjective(model, bank, config.spt, net=net, precision=precision, iterations=config.passes)
    logger = ScalarLogger(out, resume_step=start_step if start_step else None) if ctx.is_main else None
    meta = {
        "recipe": config_dict,
        "data": str(data.resolve()),
        "frames": len(frames),
        "world_size": ctx.world_size,
        "parameters": count_parameters(model),
        "compiled": compile,
    }

    def save(step: int, scores: dict[str, float]) -> None:
        if not ctx.is_main:
            return
        with writing_run(out):
            save_training_state(
                checkpoint_path,
                name,
                model,
                bank,
                optimizer,
                scheduler,
                step,
                config_dict,
                {**meta, "step": step, "validation": scores},
            )

    generator = torch.Generator(device=ctx.device)
    losses: list[float] = []
    scores: dict[str, float] = {}
    scored_at = -1
    started = time.perf_counter()
    step = start_step
    for step, clean in iterate_batches(items, config, ctx, start_step, total_steps):
        clean = clean.to(ctx.device, non_blocking=True)
        generator.manual_seed(derived_seed(config.seed, step, ctx.rank))
        preset = config.presets[step % len(config.presets)]
        if config.restretch is not None:
            clean = restretch_levels(clean, config.restretch, generator)
        if config.exposure is not None:
            clean = scale_exposure(clean, config.exposure, generator)
        with torch.no_grad():
            batch = degrade(
                clean,
                preset,
                generator,
                gate=config.gate,
                return_steps=True,
                training_mix=config.mix,
            )
            frame_stats = window_statistics(model, batch)
            if config.degrade_size > config.crop:
                batch, clean = crop_window(batch, clean, config.crop, generator)
        optimizer.zero_grad(set_to_none=True)
        loss, parts = objective(
            batch.degraded,
            clean,
            batch.steps,
            batch.labels,
            backward=True,
            singles=batch.singles,
            frame_stats=frame_stats,
        )
        optimizer.step()
        scheduler.step()
        done = step + 1
        global_loss = float(distributed.mean_across(ctx, loss.detach().float()))
        if not math.isfinite(global_loss):
            raise HmtirError(
                f"training diverged at step {done}: loss is {global_loss} (lower --lr or disable --amp)"
            )
        losses.append(global_loss)
        if logger is not None and (done % config.log_every == 0 or done == total_steps):
            logger.log(
                done,
                {
                    "train/loss": global_loss,
                    "train/lr": scheduler.get_last_lr()[0],
                    **{f"train/{k}": float(v) for k, v in parts.items()},
                },
            )
        if validation is not None and done % config.val_every == 0:
            scores, scored_at = validation.score(model, bank, ctx.device, config.passes), done
            logger.log(done, scores)
        if done % config.ckpt_every == 0:
            save(done, scores)
            distributed.barrier(ctx)
        if on_step is not None:
            on_step(done, total_steps, {"loss": global_loss, "lr": scheduler.get_last_lr()[0], **scores})
        step = done
        if max_seconds is not None and distributed.broadcast_flag(
            ctx, time.perf_counter() - started > max_seconds
        ):
            break
    final_step = step
    if validation is not None and scored_at != final_step:
        scores = validation.score(model, bank, ctx.device, config.passes)
        logger.log(final_step, scores)
    if final_step % config.ckpt_every != 0 or final_step == start_step:
        save(final_step, scores)
    checksums = distributed.gather_floats(ctx, parameter_checksum(model))
    seconds = time.perf_counter() - started
    final_model = out / FINAL_MODEL
    if ctx.is_main:
        with writing_run(out):
            save_checkpoint(
                final_model, name, model, bank, meta={**meta, "step": final_step, "validation": scores}
            )
        summary = {
            "model": name,
            "steps": final_step,
            "resumed_from": start_step,
            "seconds": seconds,
            "validation": scores,
            "rank_parameter_checksums": checksums,
            "config": config_dict,
            "meta": meta,
        }
        with writing_run(out):
            atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2, default=str))
        logger.close()
    distributed.barrier(ctx)
    return TrainResult(out, final_step, final_model, checkpoint_path, losses, scores, seconds, checksums)
