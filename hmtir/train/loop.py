"""The training loop: on-the-fly degradation, SPT losses, DDP, exact resume, validation, checkpoints.

Determinism is structural rather than stateful, so a resumed (or differently sharded) run repeats an
uninterrupted one exactly: the sample order of epoch ``e`` comes from ``DistributedSampler`` seeded with
``(seed, e)``; every item's crop/flip randomness is seeded from ``(seed, epoch, rank, position)``; the
degradation generator of step ``s`` is reseeded from ``(seed, s, rank)``. The global RNG states are still
saved and restored, for anything else that draws from them.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from hmtir.data.datasets import TrainFrames
from hmtir.data.layout import CLEAN_DIR, list_images
from hmtir.degrade.torch_ops import ALL_STEPS, COMPOSITE, DegradedBatch, degrade
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.image import read_image
from hmtir.io.radiometric import AGC_PERCENTILES
from hmtir.io.safety import output_folder
from hmtir.models import create_model
from hmtir.models.accel import autocast, compile_module
from hmtir.models.checkpoint import load_state_dict_strict, save_checkpoint
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank
from hmtir.models.range_head import frame_statistics, stat_pixels
from hmtir.models.spt import input_statistics, spt_losses, spt_restore, uses_frame_stats
from hmtir.parallel import worker_context
from hmtir.runtime import count_parameters
from hmtir.train import distributed
from hmtir.train.checkpointing import last_checkpoint, load_training_state, restore_rng, save_training_state
from hmtir.train.config import TrainConfig
from hmtir.train.logging import ScalarLogger
from hmtir.vocabulary import SPT_ORDER, STEPS

FINAL_MODEL = "model.pt"
SUMMARY_FILE = "train_summary.json"
# What a run writes into --out; a fresh run refuses to start over these unless told to (--overwrite).
RUN_OUTPUTS = ("checkpoints", FINAL_MODEL, SUMMARY_FILE, "scalars.csv", "tensorboard")


def derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers (SeedSequence mixing: neighbouring inputs give unrelated seeds)."""
    return int(
        np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


class SeededItems(Dataset):
    """Wraps :class:`TrainFrames` so item ``(index, seed)`` draws its crop/flips from ``seed`` alone."""

    def __init__(self, frames: TrainFrames) -> None:
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            item = self.frames[index]
        return {"clean": item["clean"]}


def scale_exposure(clean: torch.Tensor, exposure: list[float], generator: torch.Generator) -> torch.Tensor:
    """Each clean frame times its own k ~ U(low, high): cameras differ in exposure and AGC.

    The contrast step ``(1 + c)·x + β`` cannot be inverted from one frame without knowing how bright the
    clean frame was, so a network learns its training set's brightness; a spread of exposures keeps it
    from learning one (HIT-UAV's frames are mid-grey, the official HM-TIR frames about 0.45× as bright).
    A factor above 1 saturates the brightest pixels at white, as a camera's AGC does.
    """
    low, high = exposure
    k = torch.rand((clean.shape[0], 1, 1, 1), generator=generator, device=clean.device, dtype=clean.dtype)
    return (clean * (low + (high - low) * k)).clamp_max(1.0)


def restretch_levels(clean: torch.Tensor, restretch: list[float], generator: torch.Generator) -> torch.Tensor:
    """Each clean frame's 0.5th/99.5th grey percentiles moved to a black level ~ U(0, black_max) and a white
    level ~ U(white_min, 1), linearly, clipped to [0, 1]: cameras' AGCs differ in how much of the 8-bit range
    a scene fills (HIT-UAV 0.17–0.83 on average; a full-range AGC 0–1), and the contrast step's inverse
    depends on it."""
    black_max, white_min = restretch
    count = clean.shape[0]
    flat = stat_pixels(clean)
    levels = torch.tensor(AGC_PERCENTILES, dtype=flat.dtype, device=flat.device) / 100
    low, high = torch.quantile(flat, levels, dim=1).view(2, count, 1, 1, 1)
    draws = torch.rand((2, count, 1, 1, 1), generator=generator, device=clean.device, dtype=clean.dtype)
    black, white = black_max * draws[0], white_min + (1 - white_min) * draws[1]
    return (black + (clean - low) * (white - black) / (high - low).clamp_min(1e-3)).clamp(0.0, 1.0)


def crop_window(
    batch: DegradedBatch, clean: torch.Tensor, size: int, generator: torch.Generator
) -> tuple[DegradedBatch, torch.Tensor]:
    """The same random ``size``×``size`` window (per sample) of every tensor of a degraded batch.

    Degrading a large window and training on a crop of it shows the network frame-scale degradations
    (the non-uniformity's radial falloff spans the frame, as in a benchmark) instead of degradations
    rescaled to the crop, which is what degrading the crop itself (the released code) does.
    """
    count, _, height, width = clean.shape
    device = clean.device
    tops = torch.randint(0, height - size + 1, (count,), generator=generator, device=device).tolist()
    lefts = torch.randint(0, width - size + 1, (count,), generator=generator, device=device).tolist()

    def cut(t: torch.Tensor) -> torch.Tensor:
        return torch.stack([t[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(tops, lefts))])

    windowed = DegradedBatch(
        cut(batch.degraded),
        {k: cut(v) for k, v in batch.steps.items()} if batch.steps is not None else None,
        batch.labels,
        batch.params,
        {k: cut(v) for k, v in batch.singles.items()},
    )
    return windowed, cut(clean)


@dataclass
class Schedule:
    """Where global step ``s`` falls: epoch and position inside it (all ranks have equal batch counts)."""

    batches_per_epoch: int

    def locate(self, step: int) -> tuple[int, int]:
        return divmod(step, self.batches_per_epoch)


def batch_keys(
    sampler: DistributedSampler, epoch: int, batch_size: int, seed: int, rank: int
) -> list[tuple[int, int]]:
    """This rank's (index, item seed) list for ``epoch``, cut to whole batches."""
    sampler.set_epoch(epoch)
    indices = list(sampler)
    usable = len(indices) // batch_size * batch_size
    return [
        (index, derived_seed(seed, epoch, rank, position)) for position, index in enumerate(indices[:usable])
    ]


def iterate_batches(
    items: SeededItems, config: TrainConfig, ctx: distributed.DistContext, start_step: int, total_steps: int
) -> Iterator[tuple[int, torch.Tensor]]:
    """(global step, clean batch) from ``start_step`` on, epoch after epoch."""
    sampler = DistributedSampler(
        items, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed, drop_last=True
    )
    schedule = Schedule(len(sampler) // config.batch_size)
    if schedule.batches_per_epoch < 1:
        raise HmtirError(
            f"{len(items)} training frames cannot fill one batch of {config.batch_size} "
            f"on each of {ctx.world_size} process(es); lower --batch-size or add frames"
        )
    step = start_step
    while step < total_steps:
        epoch, position = schedule.locate(step)
        keys = batch_keys(sampler, epoch, config.batch_size, config.seed, ctx.rank)[
            position * config.batch_size :
        ]
        loader = DataLoader(
            items,
            batch_size=config.batch_size,
            sampler=keys,
            num_workers=config.workers,
            pin_memory=ctx.device.type == "cuda",
            persistent_workers=False,
            # never fork a process whose torch/OpenCV threads are live (hmtir.parallel explains why)
            multiprocessing_context=worker_context() if config.workers > 0 else None,
        )
        for batch in loader:
            yield step, batch["clean"]
            step += 1
            if step >= total_steps:
                return


def lr_factor(
    config: TrainConfig, total_steps: int, batches_per_epoch: int | None = None
) -> Callable[[int], float]:
    """The learning-rate multiplier of optimizer step ``step``.

    Step schedule (``warmup_epochs`` unset): linear warm-up (≤5 % of the run), then cosine from ``lr`` down
    to ``lr_min``. Epoch schedule (``warmup_epochs`` = W, the release's GradualWarmupScheduler followed by
    CosineAnnealingLR, both stepped once per epoch): epoch e < W trains at e/W of ``lr`` (epoch 0 at 0),
    epochs W and W+1 at ``lr``, then cosine over E − W epochs, E the run's epoch count.
    """
    floor = config.lr_min / config.lr

    def cosine(progress: float) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    if config.warmup_epochs is not None:
        per_epoch = max(1, batches_per_epoch or 1)
        warm = config.warmup_epochs
        epochs = math.ceil(total_steps / per_epoch)

        def by_epoch(step: int) -> float:
            epoch = step // per_epoch
            if epoch <= warm:
                return epoch / warm if warm else 1.0
            return cosine((epoch - warm - 1) / max(1, epochs - warm))

        return by_epoch
    warmup = min(config.warmup_steps, max(0, total_steps // 20))

    def by_step(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return cosine((step - warmup) / max(1, total_steps - warmup))

    return by_step


DEGRADED = "degraded"  # window_statistics key of the batch's degraded frames (the others: single steps)


class Group(NamedTuple):
    """Passes of one degradation type in a batch, weighted by its share of the batch."""

    weight: float
    part: str  # name of its loss part (composite, single_noise, ...)
    inputs: torch.Tensor
    targets: list[torch.Tensor]  # one per pass
    degradation: str
    scenario: str | None
    frame_stats: torch.Tensor | None  # whole-window statistics of ``inputs`` (range-head models)


def window_statistics(model: nn.Module, batch: DegradedBatch) -> dict[str, torch.Tensor] | None:
    """Whole-window statistics of every network input of ``batch``, taken before it is cropped."""
    if not uses_frame_stats(model):
        return None
    frames = {DEGRADED: batch.degraded, **batch.singles}
    return {key: frame_statistics(value) for key, value in frames.items()}


class SPTObjective:
    """One training objective per batch.

    Composite samples train ``iterations`` passes (3: the SPT passes with targets contrast+blur,
    contrast-only, clean and stop-gradient between passes; 1: straight to clean). A one-step sample trains
    one pass with its degradation prompt and the ``single`` scenario; an all-steps sample (the released
    code) trains one such pass per step, noise → blur → contrast, each on that step alone applied to the
    clean frame and each against the clean frame. Every pass's L1 is weighted by its group's share of the
    batch, which equals the release's batch-mean L1 per pass. A prompt-free net sees the same samples
    without prompts: one pass per single-step frame, and per composite one pass degraded → clean or, with
    ``iterations=3``, three passes with the SPT targets (naive iteration).

    Calling it returns the summed loss with its graph; with ``backward=True`` it back-propagates pass by
    pass instead (same gradients, one pass's activations alive at a time). ``net`` runs the passes: the model,
    or its ``DistributedDataParallel`` wrapper, in which case only the step's last pass all-reduces the
    accumulated gradients. ``precision`` autocasts the forward passes (never the backward).
    """

    def __init__(
        self,
        model: PromptableNet,
        bank: PromptBank | None,
        spt: bool,
        net: nn.Module | None = None,
        precision: str = "fp32",
        iterations: int | None = None,
    ) -> None:
        if model.uses_prompts != spt:
            raise HmtirError(
                "SPT training needs a PPFN (prompted) model and prompt-free training a plain one"
            )
        self.bank, self.spt = bank, spt
        self.net = net if net is not None else model
        self.precision = precision
        self.iterations = iterations if iterations is not None else (len(SPT_ORDER) if spt else 1)

    def _composite_targets(self, clean: torch.Tensor, steps: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        if self.iterations == 1:
            return [clean]
        return [steps["blur"], steps["contrast"], clean]  # after undoing noise, then blur, then contrast

    def _groups(
        self,
        degraded: torch.Tensor,
        clean: torch.Tensor,
        steps: dict[str, torch.Tensor],
        labels: torch.Tensor | None,
        singles: dict[str, torch.Tensor] | None = None,
        frame_stats: dict[str, torch.Tensor] | None = None,
    ) -> list[Group]:
        """One :data:`Group` of passes per degradation type present in the batch."""
        stats = frame_stats or {}

        def pick(key: str, idx: torch.Tensor | None = None) -> torch.Tensor | None:
            value = stats.get(key)
            return value if value is None or idx is None else value[idx]

        if labels is None:  # chains only (the "composite" mix)
            targets = self._composite_targets(clean, steps)
            return [Group(1.0, "composite", degraded, targets, "composite", None, pick(DEGRADED))]
        groups: list[Group] = []
        for label in torch.unique(labels).tolist():
            idx = (labels == label).nonzero().flatten()
            weight = idx.numel() / degraded.shape[0]
            if label == COMPOSITE:
                targets = self._composite_targets(clean[idx], {k: v[idx] for k, v in steps.items()})
                groups.append(
                    Group(weight, "composite", degraded[idx], targets, "composite", None, pick(DEGRADED, idx))
                )
            elif label == ALL_STEPS:
                if not singles:
                    raise HmtirError(
                        "all-steps samples need their single-step frames (degrade(..., 'all_steps'))"
                    )
                for stage in SPT_ORDER:  # the release's pass order: noise, blur, contrast prompts
                    inputs = singles[stage][idx]
                    groups.append(
                        Group(
                            weight, f"single_{stage}", inputs, [clean[idx]], stage, "single", pick(stage, idx)
                        )
                    )
            else:
                name = STEPS[label]
                groups.append(
                    Group(
                        weight,
                        f"single_{name}",
                        degraded[idx],
                        [clean[idx]],
                        name,
                        "single",
                        pick(DEGRADED, idx),
                    )
                )
        return groups

    def __call__(
        self,
        degraded: torch.Tensor,
        clean: torch.Tensor,
        steps: dict[str, torch.Tensor],
        labels: torch.Tensor | None,
        backward: bool = False,
        singles: dict[str, torch.Tensor] | None = None,
        frame_stats: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(total loss, its detached parts). ``backward=True`` accumulates the gradients into ``.grad``
        pass by pass and returns the total detached. ``singles``: :attr:`DegradedBatch.singles`.
        ``frame_stats``: :func:`window_statistics` of the uncropped batch (range-head models)."""
        groups = self._groups(degraded, clean, steps, labels, singles, frame_stats)
        passes_left = sum(len(group.targets) for group in groups)
        ddp = backward and isinstance(self.net, nn.parallel.DistributedDataParallel)

        @contextlib.contextmanager
        def pass_context() -> Iterator[None]:
            nonlocal passes_left
            passes_left -= 1
            # DDP decides at forward time whether a backward all-reduces; only the last pass syncs the sum
            sync = self.net.no_sync() if ddp and passes_left > 0 else contextlib.nullcontext()
            with sync, autocast(degraded.device, self.precision):
                yield

        total = degraded.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for weight, part, inputs, targets, degradation, scenario, stats in groups:
            out = spt_losses(
                self.net,
                self.bank,
                inputs,
                targets,
                degradation,
                scenario,
                backward=(lambda loss, w=weight: (w * loss.float()).backward()) if backward else None,
                pass_context=pass_context,
                iterations=self.iterations if part == "composite" else None,
                frame_stats=stats,
            )
            if part != "composite":
                parts[part] = out.total.detach()
            elif self.spt or len(out.per_pass) > 1:
                for index, ((stage, _), loss) in enumerate(zip(out.schedule, out.per_pass)):
                    parts[f"composite_{stage if self.spt else f'pass{index + 1}'}"] = loss.detach()
            total = total + weight * out.total.float()
        return total, parts


@dataclass
class ValidationSet:
    """Held-out frames degraded once (fixed seed) so every validation scores the same inputs."""

    degraded: list[torch.Tensor]
    clean: list[torch.Tensor]
    preset: str

    @classmethod
    def build(cls, folder: Path, config: TrainConfig) -> ValidationSet:
        root = folder / CLEAN_DIR if (folder / CLEAN_DIR).is_dir() else folder
        names = list_images(root)[: config.val_max_frames]
        if not names:
            raise HmtirError(f"--val-data {folder} holds no images")
        generator = torch.Generator().manual_seed(derived_seed(config.seed, 7919))
        degraded, clean = [], []
        for name in names:
            image = torch.from_numpy(read_image(root / name, luminance=True).data)[None, None]
            if config.val_crop:
                height, width = image.shape[-2:]
                size_h, size_w = min(config.val_crop, height), min(config.val_crop, width)
                top, left = (height - size_h) // 2, (width - size_w) // 2
                image = image[..., top : top + size_h, left : left + size_w].contiguous()
            degraded.append(degrade(image, config.val_preset, generator, gate=config.gate).degraded)
            clean.append(image)
        return cls(degraded, clean, config.val_preset)

    def score(
        self,
        model: PromptableNet,
        bank: PromptBank | None,
        device: torch.device,
        iterations: int | None = None,
    ) -> dict[str, float]:
        from hmtir.metrics import create_metric
        from hmtir.models.ppfn import pad_to_multiple

        metrics = {name: create_metric(name) for name in ("psnr", "ssim")}
        totals = {name: 0.0 for name in metrics}
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            for degraded, clean in zip(self.degraded, self.clean):
                degraded = degraded.to(device)
                stats = input_statistics(model, degraded)
                padded, (height, width) = pad_to_multiple(degraded, model.size_multiple)
                out = (
                    spt_restore(
                        model,
                        bank,
                        padded,
                        "composite",
                        "composite",
                        iterations=iterations,
                        frame_stats=stats,
                    )[..., :height, :width]
                    .float()
                    .cpu()
                )
                for name, metric in metrics.items():
                    totals[name] += float(metric(out, clean)[0])
        model.train(was_training)
        return {f"val/{name}": total / len(self.degraded) for name, total in totals.items()}


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


def build_network(config: TrainConfig) -> tuple[str, PromptableNet, PromptBank | None]:
    name = config.model if config.spt else config.plain_model
    overrides = dict(config.model_config)
    if not name.startswith("ppfn_"):
        overrides.pop("prompt", None)
    try:
        model = create_model(name, **overrides)
    except TypeError as err:
        raise HmtirError(f"--model {name}: bad model config {overrides} ({err})") from None
    if not isinstance(model, PromptableNet):
        raise HmtirError(f"--model {name} is not a trainable restoration network")
    return name, model, PromptBank.seeded() if model.uses_prompts else None


def total_steps_for(config: TrainConfig, frames: int, world_size: int) -> int:
    if config.epochs is None:
        return config.steps
    per_rank = frames // world_size
    batches = per_rank // config.batch_size
    if batches < 1:
        raise HmtirError(
            f"{frames} frames cannot fill one batch of {config.batch_size} on each of {world_size} process(es)"
        )
    return config.epochs * batches


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
    out = output_folder(out)
    ctx = distributed.setup(device, config.threads)
    try:
        _prepare_out(out, resume, overwrite, ctx)
        return _train(config, Path(data), out, val_data, resume, ctx, on_step, max_seconds, compile)
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
        for name in existing:
            target = out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    distributed.barrier(ctx)


def _train(
    config: TrainConfig,
    data: Path,
    out: Path,
    val_data: Path | str | None,
    resume: bool,
    ctx: distributed.DistContext,
    on_step: ProgressHook | None,
    max_seconds: float | None,
    compile: bool = False,
) -> TrainResult:
    torch.manual_seed(config.seed)
    frames = TrainFrames(data, crop=max(config.crop, config.degrade_size), flips=config.flips)
    items = SeededItems(frames)
    total_steps = total_steps_for(config, len(frames), ctx.world_size)
    batches_per_epoch = len(frames) // ctx.world_size // config.batch_size
    name, model, bank = build_network(config)
    model.to(ctx.device).train()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=config.lr,
        betas=tuple(config.optimizer.get("betas", (0.9, 0.999))),
        weight_decay=float(config.optimizer.get("weight_decay", 0.0)),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor(config, total_steps, batches_per_epoch)
    )
    config_dict = config.as_dict()
    start_step = 0
    checkpoint_path = last_checkpoint(out)
    if resume:
        state = load_training_state(checkpoint_path, config_dict)
        load_state_dict_strict(model, state["state_dict"], source=f"checkpoint {checkpoint_path}")
        if state.get("prompt_bank") is not None:
            bank = PromptBank.from_dict(state["prompt_bank"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        start_step = int(state["step"])
    precision = "bf16" if config.amp == "bf16" else "fp32"
    net: nn.Module = compile_module(model, ctx.device, precision=precision)[0] if compile else model
    if ctx.distributed:
        ddp_kwargs = {"device_ids": [ctx.device.index]} if ctx.device.type == "cuda" else {}
        net = nn.parallel.DistributedDataParallel(net, **ddp_kwargs)
    objective = SPTObjective(model, bank, config.spt, net=net, precision=precision, iterations=config.passes)
    logger = ScalarLogger(out, resume_step=start_step if start_step else None) if ctx.is_main else None
    validation = ValidationSet.build(Path(val_data), config) if val_data is not None and ctx.is_main else None
    meta = {
        "recipe": config_dict,
        "data": str(Path(data).resolve()),
        "frames": len(frames),
        "world_size": ctx.world_size,
        "parameters": count_parameters(model),
        "compiled": compile,
    }

    def save(step: int, scores: dict[str, float]) -> None:
        if ctx.is_main:
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
        atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2, default=str))
        logger.close()
    distributed.barrier(ctx)
    return TrainResult(out, final_step, final_model, checkpoint_path, losses, scores, seconds, checksums)
