"""Shared pieces of the diffusion baselines: overlapping tiles (bounded memory) and per-frame noise streams."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of overlapping tiles covering ``length``; the last tile is flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return [*starts, length - tile]


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
