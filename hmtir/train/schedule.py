"""The run's step budget and learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable

from hmtir.errors import HmtirError
from hmtir.train.config import TrainConfig


def batches_per_epoch(frames: int, batch_size: int, world_size: int) -> int:
    """Whole batches each process draws per epoch (the sampler drops the remainder); at least one."""
    batches = frames // world_size // batch_size
    if batches < 1:
        raise HmtirError(
            f"{frames} training frames cannot fill one batch of {batch_size} "
            f"on each of {world_size} process(es); lower --batch-size or add frames"
        )
    return batches


def total_steps_for(config: TrainConfig, frames: int, world_size: int) -> int:
    """Optimizer steps of the run: ``steps``, or ``epochs`` whole epochs of this many frames per process."""
    if config.epochs is None:
        return config.steps
    return config.epochs * batches_per_epoch(frames, config.batch_size, world_size)


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
