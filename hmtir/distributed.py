"""Process-group setup for ``torchrun``: one code path for a single process and for many (training, evaluation).

``torchrun`` exports ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; without them the run is a single process.
Backend: NCCL when the process drives a CUDA device, gloo otherwise (CPU tests, CPU clusters).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from hmtir.runtime import resolve_device


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched() -> bool:
    """True inside a multi-process ``torchrun`` (or SLURM-with-torchrun) launch."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "auto", threads: int = 0) -> DistContext:
    """Join the torchrun process group if launched by torchrun; return this process's rank and device.

    CPU processes get ``threads`` intra-op threads (0: this node's cores split among its processes), as
    oversubscribed OpenMP threads slow small convolutions down by an order of magnitude.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch_device = torch.device(resolve_device(device))  # under torchrun, "cuda" is cuda:LOCAL_RANK
    if threads > 0 or world_size > 1:
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
        torch.set_num_threads(threads if threads > 0 else max(1, (os.cpu_count() or 1) // local_world))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch_device.type == "cuda" else "gloo"
        if torch_device.type == "cuda":
            torch.cuda.set_device(torch_device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, torch_device)


def teardown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def mean_across(ctx: DistContext, value: torch.Tensor) -> torch.Tensor:
    """Average a scalar over ranks (for logging the global loss)."""
    if not ctx.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size


def gather_floats(ctx: DistContext, value: float) -> list[float]:
    """Every rank's ``value`` (rank order); a single process gets ``[value]``."""
    return [float(v) for v in gather_objects(ctx, value)]  # type: ignore[arg-type]


def broadcast_flag(ctx: DistContext, flag: bool) -> bool:
    """Rank 0's decision, shared (e.g. 'a resume checkpoint exists')."""
    return bool(broadcast_object(ctx, flag))


def gather_objects(ctx: DistContext, value: object) -> list[object]:
    """Every rank's ``value`` (picklable), in rank order; a single process gets ``[value]``."""
    if not ctx.distributed:
        return [value]
    gathered: list[object] = [None] * ctx.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(ctx: DistContext, value: object) -> object:
    """Rank 0's ``value`` on every rank."""
    if not ctx.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
