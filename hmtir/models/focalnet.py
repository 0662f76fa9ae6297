"""FocalNet-style backbone: focal modulation (Yang et al., NeurIPS 2022) as the token mixer of the Restormer U-Net.

Focal modulation replaces attention by gathering context with a stack of growing depthwise convolutions
plus a global average, gating the levels per pixel and multiplying the query by the aggregated context.
Everything else (levels, resampling, GDFN, PPFN modulation points) is the Restormer skeleton, so the
"baseline vs PPFN" comparison isolates the token mixer.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.models.ppfn import PromptableNet, plain_backbone, prompted_backbone
from hmtir.models.prompts import PromptConfig
from hmtir.models.restormer import TOKEN_MIXERS, Restormer


class FocalModulation(nn.Module):
    """Query × gated multi-scale context. ``heads`` is accepted for interface parity and unused."""

    def __init__(
        self, dim: int, heads: int, bias: bool, focal_levels: int = 2, focal_window: int = 3
    ) -> None:
        super().__init__()
        self.focal_levels = focal_levels
        self.f = nn.Conv2d(dim, 2 * dim + focal_levels + 1, 1, bias=bias)
        self.focal_layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(
                    dim,
                    dim,
                    focal_window + 2 * level,
                    padding=(focal_window + 2 * level) // 2,
                    groups=dim,
                    bias=False,
                ),
                nn.GELU(),
            )
            for level in range(focal_levels)
        )
        self.h = nn.Conv2d(dim, dim, 1, bias=bias)
        self.proj = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        query, context, gates = torch.split(self.f(x), (channels, channels, self.focal_levels + 1), dim=1)
        aggregated = torch.zeros_like(query)
        for level, layer in enumerate(self.focal_layers):
            context = layer(context)
            aggregated = aggregated + context * gates[:, level : level + 1]
        global_context = F.gelu(context.mean(dim=(2, 3), keepdim=True))
        aggregated = aggregated + global_context * gates[:, self.focal_levels :]
        return self.proj(query * self.h(aggregated))


TOKEN_MIXERS["focal"] = FocalModulation


def focalnet(**overrides: Any) -> PromptableNet:
    """The registered ``focalnet`` model (prompt-free Baseline): its catalog configuration + ``overrides``."""
    return plain_backbone("focalnet", Restormer, **overrides)


def ppfn_focalnet(prompt: PromptConfig | dict[str, Any] | None = None, **overrides: Any) -> PromptableNet:
    """The registered ``ppfn_focalnet`` model: ``focalnet`` with PPFN prompt units (``prompt``: their config)."""
    return prompted_backbone("focalnet", Restormer, prompt, **overrides)
