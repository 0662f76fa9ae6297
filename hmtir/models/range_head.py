"""Range head: a per-frame affine correction ``out + a·x + b`` driven by whole-frame grey statistics.

The contrast step of the cascade is ``y = α·x + β`` for the *whole frame*; its inverse ``x = y/α − β/α`` is
affine in the input with coefficients only the frame's grey-level distribution reveals (a low-contrast frame
has a narrow, lifted histogram). A U-Net trained on 128² crops sees a crop's histogram, which cannot tell a
low-contrast frame from a flat part of a normal one, so it learns its training set's average brightness
instead. The head reads quantiles, mean, spread and log inter-quantile ranges of the whole input frame
(training passes those of the uncropped degraded window) and, for a PPFN model, its own prompt feature.
A PPFN model runs it only in passes that undo the contrast step (``hmtir.models.spt.RANGE_PASSES``): a
prompt-conditioned head still stretched blur-only frames a little (demo single/blur −0.6 dB vs identity).
Its last layer starts at zero: a fresh head is the identity.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hmtir.models.prompts import PromptConfig, PromptUnit

RANGE_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_SPREADS = ((0, 6), (1, 5), (2, 4))  # quantile index pairs: 1–99, 5–95, 25–75
FRAME_STATS = len(RANGE_QUANTILES) + 2 + len(_SPREADS)
MAX_STAT_PIXELS = 1 << 16  # larger frames are subsampled with a fixed stride (quantiles barely move)


def stat_pixels(frames: torch.Tensor) -> torch.Tensor:
    """``B×N`` pixels of each frame for its grey statistics: all, or a fixed stride of at most MAX_STAT_PIXELS."""
    flat = frames.flatten(1)
    return flat[:, :: math.ceil(flat.shape[1] / MAX_STAT_PIXELS)] if flat.shape[1] > MAX_STAT_PIXELS else flat


def frame_statistics(frames: torch.Tensor) -> torch.Tensor:
    """``B×FRAME_STATS`` (float32): quantiles, mean, std and log spreads of each ``B×C×H×W`` frame."""
    flat = stat_pixels(frames.detach().float())
    levels = torch.tensor(RANGE_QUANTILES, dtype=flat.dtype, device=flat.device)
    quantiles = torch.quantile(flat, levels, dim=1).T
    spreads = torch.stack([quantiles[:, hi] - quantiles[:, lo] for lo, hi in _SPREADS], dim=1)
    return torch.cat(
        [
            quantiles,
            flat.mean(dim=1, keepdim=True),
            flat.std(dim=1, keepdim=True),
            spreads.clamp_min(1e-3).log(),
        ],
        dim=1,
    )


class RangeHead(nn.Module):
    """MLP (statistics [+ prompt feature]) → per-frame gain ``a`` and offset ``b`` on the input."""

    def __init__(self, prompt: PromptConfig | None, hidden: int = 64) -> None:
        super().__init__()
        self.prompt_unit = PromptUnit(prompt) if prompt is not None else None
        in_dim = FRAME_STATS + (prompt.dim if prompt is not None else 0)
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 2)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(
        self,
        out: torch.Tensor,
        x: torch.Tensor,
        stats: torch.Tensor,
        degradation_prompt: torch.Tensor | None = None,
        scenario_prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = stats.to(out.dtype)
        if self.prompt_unit is not None:
            feature = self.prompt_unit(degradation_prompt, scenario_prompt)  # one row serves the whole batch
            inputs = torch.cat([inputs, feature.expand(inputs.shape[0], -1)], dim=1)
        gain, offset = self.mlp(inputs).unsqueeze(-1).unsqueeze(-1).unbind(dim=1)
        return out + gain.unsqueeze(1) * x + offset.unsqueeze(1)
