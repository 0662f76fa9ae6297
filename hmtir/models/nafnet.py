"""NAFNet (Chen et al., ECCV 2022) for 1-channel TIR, with or without PPFN prompts.

Activation-free blocks (SimpleGate + simplified channel attention) in a U-Net; cheap on CPU, which is
why the shipped compact reference model is a PPFN-NAFNet. PPFN points mirror the released Restormer
wiring: middle blocks (unit 1), deepest decoder level (unit 2), the other decoder levels (unit 3, shared)
and the 1-channel output before the global residual (unit 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hmtir.models.ppfn import FilmPoint, Modulation, PromptableNet, plain_backbone, prompted_backbone
from hmtir.models.prompts import PromptConfig


class LayerNorm2d(nn.Module):
    """Per-pixel LayerNorm over channels of a ``B×C×H×W`` map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, x.shape[-1:], self.weight, self.bias, eps=1e-6)
        return x.permute(0, 3, 1, 2)


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=1)
    return first * second


class NAFBlock(nn.Module):
    """Depthwise-conv mixer + gated FFN; learned residual scales start at 0 so a fresh block is identity."""

    def __init__(self, channels: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = channels * expansion
        self.norm1 = LayerNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden // 2, hidden // 2, 1))
        self.conv3 = nn.Conv2d(hidden // 2, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.conv4 = nn.Conv2d(channels, hidden, 1)
        self.conv5 = nn.Conv2d(hidden // 2, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = simple_gate(self.conv2(self.conv1(self.norm1(x))))
        y = x + self.conv3(y * self.sca(y)) * self.beta
        z = self.conv5(simple_gate(self.conv4(self.norm2(y))))
        return y + z * self.gamma


class NAFNet(PromptableNet):
    """NAFNet U-Net; ``prompt`` (a :class:`PromptConfig`) turns it into PPFN-NAFNet."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 16,
        enc_blocks: Sequence[int] = (1, 1, 2, 2),
        middle_blocks: int = 2,
        dec_blocks: Sequence[int] = (1, 1, 1, 1),
        global_residual: bool = True,
        stem_downsample: int = 1,
        range_head: bool = False,
        prompt: PromptConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks must have the same length (one per U-Net level)")
        prompt_config = None if prompt is None else PromptConfig.from_any(prompt)
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "width": width,
            "enc_blocks": list(enc_blocks),
            "middle_blocks": middle_blocks,
            "dec_blocks": list(dec_blocks),
            "global_residual": global_residual,
            "stem_downsample": stem_downsample,
            "range_head": range_head,
            "prompt": None if prompt_config is None else prompt_config.as_dict(),
        }
        self.global_residual = global_residual and in_channels == out_channels
        self.size_multiple = stem_downsample * 2 ** len(enc_blocks)
        # Optional lossless pixel-unshuffle stem: the whole U-Net runs at 1/s resolution (CPU speed).
        self.stem = nn.PixelUnshuffle(stem_downsample) if stem_downsample > 1 else nn.Identity()
        self.unstem = nn.PixelShuffle(stem_downsample) if stem_downsample > 1 else nn.Identity()
        self.intro = nn.Conv2d(in_channels * stem_downsample**2, width, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        channels = width
        for depth in enc_blocks:
            self.encoders.append(nn.Sequential(*(NAFBlock(channels) for _ in range(depth))))
            self.downs.append(nn.Conv2d(channels, channels * 2, 2, stride=2))
            channels *= 2
        self.middle = nn.Sequential(*(NAFBlock(channels) for _ in range(middle_blocks)))
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        points = [FilmPoint("1", channels, 1)]
        for level, depth in enumerate(dec_blocks):
            self.ups.append(
                nn.Sequential(nn.Conv2d(channels, channels * 2, 1, bias=False), nn.PixelShuffle(2))
            )
            channels //= 2
            self.decoders.append(nn.Sequential(*(NAFBlock(channels) for _ in range(depth))))
            points.append(FilmPoint(str(level + 2), channels, 2 if level == 0 else 3))
        self.ending = nn.Conv2d(width, out_channels * stem_downsample**2, 3, padding=1)
        points.append(FilmPoint("out", out_channels, 4))
        self.setup_prompts(prompt_config, tuple(points))
        self.setup_range_head(range_head)

    def forward(
        self,
        x: torch.Tensor,
        degradation_prompt: torch.Tensor | None = None,
        scenario_prompt: torch.Tensor | None = None,
        frame_stats: torch.Tensor | None = None,
        range_correction: bool = True,
    ) -> torch.Tensor:
        mod: Modulation | None = self.modulation(degradation_prompt, scenario_prompt)
        feat = self.intro(self.stem(x))
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            feat = encoder(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.film(self.middle(feat), mod, "1")
        for level, (up, decoder, skip) in enumerate(zip(self.ups, self.decoders, reversed(skips))):
            feat = self.film(decoder(up(feat) + skip), mod, str(level + 2))
        out = self.film(self.unstem(self.ending(feat)), mod, "out")
        out = out + x if self.global_residual else out
        return self.range_correct(out, x, frame_stats, degradation_prompt, scenario_prompt, range_correction)


def nafnet(**overrides: Any) -> PromptableNet:
    """The registered ``nafnet`` model (prompt-free Baseline): its catalog configuration + ``overrides``."""
    return plain_backbone("nafnet", NAFNet, **overrides)


def ppfn_nafnet(prompt: PromptConfig | dict[str, Any] | None = None, **overrides: Any) -> PromptableNet:
    """The registered ``ppfn_nafnet`` model: ``nafnet`` with PPFN prompt units (``prompt``: their config)."""
    return prompted_backbone("nafnet", NAFNet, prompt, **overrides)
