"""The sample stream of a run: which frames, in which order, with which crop/flip seed, step by step.

Determinism is structural rather than stateful, so a resumed (or differently sharded) run repeats an
uninterrupted one exactly: the sample order of epoch ``e`` comes from ``DistributedSampler`` seeded with
``(seed, e)``; every item's crop/flip randomness is seeded from ``(seed, epoch, rank, position)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from hmtir.data.datasets import TrainFrames
from hmtir.errors import HmtirError
from hmtir.parallel import worker_context
from hmtir.train import distributed
from hmtir.train.config import TrainConfig


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
