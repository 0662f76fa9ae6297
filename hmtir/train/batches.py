"""The sample stream of a run: which frames, in which order, with which crop/flip seed, step by step.

Determinism is structural rather than stateful, so a resumed (or differently sharded) run repeats an
uninterrupted one exactly: the sample order of epoch ``e`` comes from ``DistributedSampler`` seeded with
``(seed, e)``; every item's crop/flip randomness is seeded from ``(seed, epoch, rank, position)``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from hmtir.data.datasets import TrainFrames
from hmtir.errors import HmtirError
from hmtir.io.image import check_pixel_count, read_image
from hmtir.parallel import worker_context
from hmtir.train import distributed
from hmtir.train.config import TrainConfig
from hmtir.train.schedule import batches_per_epoch


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
    schedule = Schedule(batches_per_epoch(len(items), config.batch_size, ctx.world_size))
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


#: Pillow's names of the formats hmtir decodes (:data:`hmtir.io.image.DECODED_FORMATS`)
HEADER_FORMATS = ("PNG", "JPEG", "MPO", "TIFF", "BMP")


def frame_size(path: Path) -> tuple[int, int]:
    """(width, height) of a frame from its header: Pillow parses it and decodes no pixel, so sizing every
    training frame costs milliseconds. A file Pillow cannot size (or not a regular file: a pipe would block
    the open) is left to :func:`read_image`, whose one-line refusal names it."""
    from PIL import Image

    size = None
    if path.is_file():
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=HEADER_FORMATS) as image:
                size = image.size
    if size is None:
        height, width = read_image(path).data.shape[:2]
    else:
        width, height = size
    check_pixel_count(width, height, f"cannot read image {path}")
    return width, height


def smallest_frame(frames: TrainFrames) -> tuple[str, int, int]:
    """(name, width, height) of the training frame with the shortest side, read from the headers."""
    best: tuple[str, int, int] | None = None
    for name in frames.names:
        width, height = frame_size(Path(frames.folder) / name)
        if best is None or min(width, height) < min(best[1], best[2]):
            best = (name, width, height)
    assert best is not None  # TrainFrames refuses an empty folder
    return best


def check_windows(config: TrainConfig, frames: TrainFrames, size_multiple: int, model: str) -> None:
    """The window each item reads (``--crop``, or ``--degrade-size`` when larger) must fit in every frame, and
    the network's window (``--crop``) must be a multiple of what its U-Net needs; checked on the headers,
    before any frame is decoded (a frame smaller than the window was padded up to it: 37 GiB for 100000)."""
    if config.crop % size_multiple:
        low = config.crop // size_multiple * size_multiple
        hint = f"{low} or {low + size_multiple}" if low else f"{size_multiple}"
        raise HmtirError(
            f"--crop {config.crop} must be a multiple of {size_multiple} for --model {model} "
            f"(the factor its U-Net downsamples by); use {hint}"
        )
    option, window = "--crop", config.crop
    if config.degrade_size > config.crop:
        option, window = "--degrade-size", config.degrade_size
    name, width, height = smallest_frame(frames)
    if window > min(width, height):
        raise HmtirError(
            f"{option} {window} is larger than the smallest training frame ({name}: {width}×{height}); "
            f"use at most {min(width, height)}"
        )
