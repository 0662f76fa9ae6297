"""Per-batch augmentation on the device, drawn from the step's generator: exposure, AGC levels, windows."""

from __future__ import annotations

import torch

from hmtir.degrade.torch_ops import DegradedBatch
from hmtir.io.radiometric import AGC_PERCENTILES
from hmtir.models.range_head import stat_pixels


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
