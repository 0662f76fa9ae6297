"""Pieces DA-CLIP's and DiffUIR's U-Nets share: layers with the releases' exact numerics, tiles, noise streams."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from hmtir.errors import HmtirError


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of overlapping tiles covering ``length``; the last tile is flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return [*starts, length - tile]


def check_tiling(owner: str, tile_size: int | None, tile_overlap: int) -> None:
    """Tiles must be at least 32 px (the U-Nets' deepest level) and overlap by less than a whole tile."""
    if tile_size is not None and (tile_size < 32 or not 0 <= tile_overlap < tile_size):
        raise HmtirError(
            f"{owner} tile_size must be ≥ 32 with 0 ≤ tile_overlap < tile_size (got {tile_size}, {tile_overlap})"
        )


def tiled_map(
    run: Callable[[slice, slice], torch.Tensor], height: int, width: int, tile: int | None, overlap: int
) -> torch.Tensor:
    """``run(rows, cols)`` over overlapping windows, averaged where they overlap.

    ``tile=None`` (or a frame that fits in one tile) runs the whole frame at once, exactly as the released
    models do; tiling bounds memory at the cost of a small approximation at tile borders.
    """
    if tile is None or (height <= tile and width <= tile):
        return run(slice(None), slice(None))
    total: torch.Tensor | None = None
    count: torch.Tensor | None = None
    for y in tile_starts(height, tile, overlap):
        for x in tile_starts(width, tile, overlap):
            rows, cols = slice(y, y + tile), slice(x, x + tile)
            part = run(rows, cols)
            if total is None or count is None:
                total = part.new_zeros((*part.shape[:-2], height, width))
                count = part.new_zeros((1, 1, height, width))
            total[..., rows, cols] += part
            count[..., rows, cols] += 1
    assert total is not None and count is not None
    return total / count


class NoiseStream:
    """Standard-normal draws, one CPU generator per sample, so a frame's result never depends on its batch.

    With a single sample this reproduces ``torch.manual_seed(seed)`` followed by ``torch.randn`` calls, i.e. the
    releases' draws on CPU; drawing on CPU and moving the result makes CPU and GPU runs share their noise.
    """

    def __init__(
        self, seeds: Sequence[int], sample_shape: Sequence[int], device: torch.device | str = "cpu"
    ) -> None:
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.sample_shape = (1, *sample_shape)
        self.device = device

    def __call__(self) -> torch.Tensor:
        draws = [torch.randn(self.sample_shape, generator=g) for g in self.generators]
        return torch.cat(draws).to(self.device)


def norm_eps(x: torch.Tensor) -> float:
    """Both releases normalise with eps 1e-5 in float32 and a looser 1e-3 in half precision."""
    return 1e-5 if x.dtype == torch.float32 else 1e-3


class SinusoidalTimeEmbedding(nn.Module):
    """``[sin(t·f_k), cos(t·f_k)]`` with ``f_k = exp(-k·ln(10000)/(dim/2 − 1))``; ``t`` is a float per sample."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        step = math.log(10000) / (half - 1)
        freqs = torch.exp(torch.arange(half, device=t.device) * -step)
        angles = t[:, None] * freqs[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


class ChannelLayerNorm(nn.Module):
    """LayerNorm across channels at every pixel, with a gain ``g`` and no bias."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(dim=1, unbiased=False, keepdim=True)
        mean = x.mean(dim=1, keepdim=True)
        return (x - mean) * (var + norm_eps(x)).rsqrt() * self.g


class PreNorm(nn.Module):
    """``fn(norm(x), *extra)``: extra arguments (e.g. a cross-attention context) pass straight through."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.norm = ChannelLayerNorm(dim)

    def forward(self, x: torch.Tensor, *extra: torch.Tensor | None) -> torch.Tensor:
        return self.fn(self.norm(x), *extra)


class Residual(nn.Module):
    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, *extra: torch.Tensor | None) -> torch.Tensor:
        return self.fn(x, *extra) + x
