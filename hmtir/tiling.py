"""Tiled inference for frames too large to restore whole: overlapping tiles, blended with a linear window.

Why: a Restormer-PPFN pass holds activations of many channels at full resolution, so a 1280×1024 frame or a
4K mosaic can exceed a laptop's memory. Tiles bound what one pass sees (``tile`` pixels), while the frame
itself is only held as the input and two float64 accumulators. Restormer's channel attention (MDTA) is
global over the frame, so a tiled result is *not* the whole-frame result for that network: how close it
comes is measured on real frames (``benchmarks/bench_engines.py --tiling``), not assumed. For a purely local
network whose receptive field fits in the overlap, the blend reproduces the whole-frame output exactly.

A range-head network reads statistics of the whole frame; :func:`tiled_restore` computes them once from the
full frame and gives them to every tile, as untiled inference does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError

if TYPE_CHECKING:
    import torch


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``size`` with at least ``overlap`` shared pixels."""
    if tile >= size:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(length: int, overlap: int, before: bool, after: bool) -> Any:
    """1-D blend weights: rising over ``overlap`` pixels where a neighbour tile comes before, falling where
    one comes after, 1 elsewhere (and at the frame's own edges, where nothing else covers the pixels)."""
    import torch

    index = torch.arange(length, dtype=torch.float64) + 0.5
    weight = torch.ones(length, dtype=torch.float64)
    if overlap > 0:
        if before:
            weight = torch.minimum(weight, index / overlap)
        if after:
            weight = torch.minimum(weight, (length - index) / overlap)
    return weight


def check_tiling(tile: tuple[int, int], overlap: int) -> None:
    """One line for a tile or overlap that cannot work (overlap must leave each tile a stride)."""
    if len(tile) != 2 or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in tile):
        raise HmtirError(f"tile: expected two positive pixel counts (height, width), got {tile!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise HmtirError(f"tile overlap: expected a pixel count of 0 or more, got {overlap!r}")
    if overlap >= min(tile):
        raise HmtirError(f"tile overlap {overlap} must be smaller than the tile ({tile[0]}×{tile[1]})")


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: tuple[int, int] = (256, 320),
    overlap: int = 32,
) -> torch.Tensor:
    """``fn`` applied to overlapping ``tile``-sized windows of ``x`` (``B×C×H×W``), blended into one frame.

    ``fn`` must return a tensor of its input's shape. Accumulation is float64, so where every tile agrees
    (a local ``fn``) the float32 result equals the untiled one exactly.
    """
    import torch

    check_tiling(tile, overlap)
    height, width = x.shape[-2:]
    th, tw = min(tile[0], height), min(tile[1], width)
    total = torch.zeros(x.shape, dtype=torch.float64)
    weights = torch.zeros((height, width), dtype=torch.float64)
    ys, xs = tile_starts(height, th, overlap), tile_starts(width, tw, overlap)
    for i, top in enumerate(ys):
        wy = _ramp(th, overlap, i > 0, i < len(ys) - 1)
        for j, left in enumerate(xs):
            wx = _ramp(tw, overlap, j > 0, j < len(xs) - 1)
            window = wy[:, None] * wx[None, :]
            out = fn(x[..., top : top + th, left : left + tw])
            if tuple(out.shape) != tuple(x[..., top : top + th, left : left + tw].shape):
                raise HmtirError(f"a tile of {th}×{tw} came back as {tuple(out.shape)}")
            total[..., top : top + th, left : left + tw] += out.detach().cpu().double() * window
            weights[top : top + th, left : left + tw] += window
    return (total / weights).to(torch.float32).to(x.device)


def tiled_restore(
    method: Any,
    batch: torch.Tensor,
    degradation: str = "composite",
    scenario: str = "composite",
    tile: tuple[int, int] = (256, 320),
    overlap: int = 32,
) -> torch.Tensor:
    """A network method's restoration of ``batch`` tile by tile (its engine, SPT passes, padding per tile),
    with a range head's statistics taken from the whole frame; any other method's ``restore`` per tile."""
    import torch

    from hmtir.engines import TorchRunner, restore
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import input_statistics

    loaded = getattr(method, "loaded", None)
    if loaded is None:
        return tiled_apply(lambda t: method.restore(t, degradation, scenario), batch, tile, overlap)
    model = loaded.model
    x = batch.to(method.device, torch.float32)
    stats = input_statistics(model, x)
    runner = getattr(method, "_runner", None) or TorchRunner(
        model, method._bank, method.options.precision, method.device, method._network
    )

    def one_tile(part: Any) -> Any:
        padded, (height, width) = pad_to_multiple(part, model.size_multiple)
        return restore(runner, padded, degradation, scenario, stats)[..., :height, :width]

    return tiled_apply(one_tile, x, tile, overlap)


__all__ = ["check_tiling", "tile_starts", "tiled_apply", "tiled_restore"]
