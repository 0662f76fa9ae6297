"""Restormer (Zamir et al., CVPR 2022) for 1-channel TIR, with or without PPFN prompts.

The U-Net (4 levels, pixel-(un)shuffle resampling, refinement stage, global residual) is written so its
parameter names match the released PPFN weights (``encoder_level1.0.attn.qkv.weight`` …). The token mixer
is pluggable (``mixer="mdta"`` here; ``hmtir.models.focalnet`` adds focal modulation) so the FocalNet-style
backbone reuses the same skeleton and modulation points.

PPFN modulation points (released wiring): latent (unit 1), decoder level 3 (unit 2), decoder levels 2, 1
and the refinement output (unit 3, shared), and the 1-channel output before the global residual (unit 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.models.ppfn import FilmPoint, Modulation, PromptableNet, plain_backbone, prompted_backbone
from hmtir.models.prompts import PromptConfig


class _PixelLayerNorm(nn.Module):
    """LayerNorm over channels of a channels-last tensor; "BiasFree" scales without centring (Restormer)."""

    def __init__(self, channels: int, with_bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if with_bias else None
        self.with_bias = with_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_bias:
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, eps=1e-5)
        variance = x.var(dim=-1, keepdim=True, unbiased=False)
        return x / torch.sqrt(variance + 1e-5) * self.weight


class ChannelLayerNorm(nn.Module):
    """Per-pixel LayerNorm of a ``B×C×H×W`` map (parameters under ``body`` as in the release)."""

    def __init__(self, channels: int, kind: str = "WithBias") -> None:
        super().__init__()
        if kind not in ("WithBias", "BiasFree"):
            raise ValueError(f"LayerNorm_type must be 'WithBias' or 'BiasFree', not {kind!r}")
        self.body = _PixelLayerNorm(channels, with_bias=kind == "WithBias")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class TransposedAttention(nn.Module):
    """MDTA: attention across channels (C×C per head), so cost is linear in the number of pixels."""

    def __init__(self, dim: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class GatedDconvFFN(nn.Module):
    """GDFN: 1×1 expand, depthwise 3×3, GELU gate, 1×1 project."""

    def __init__(self, dim: int, expansion: float, bias: bool) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


TOKEN_MIXERS: dict[str, Callable[[int, int, bool], nn.Module]] = {"mdta": TransposedAttention}


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, expansion: float, bias: bool, norm: str, mixer: str) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim, norm)
        self.attn = TOKEN_MIXERS[mixer](dim, heads, bias)
        self.norm2 = ChannelLayerNorm(dim, norm)
        self.ffn = GatedDconvFFN(dim, expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class OverlapPatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int, bias: bool) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """Halve resolution, double channels: conv to C/2 then pixel-unshuffle ×2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double resolution, halve channels: conv to 2C then pixel-shuffle ×2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Restormer(PromptableNet):
    """4-level Restormer U-Net; ``prompt`` (a :class:`PromptConfig`) turns it into Restormer-PPFN."""

    size_multiple = 8

    def __init__(
        self,
        inp_channels: int = 1,
        out_channels: int = 1,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        LayerNorm_type: str = "WithBias",  # noqa: N803 - the release's argument name
        global_residual: bool = True,
        mixer: str = "mdta",
        prompt: PromptConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if mixer not in TOKEN_MIXERS:
            raise ValueError(f"unknown token mixer {mixer!r} (available: {', '.join(TOKEN_MIXERS)})")
        prompt_config = None if prompt is None else PromptConfig.from_any(prompt)
        self.config = {
            "inp_channels": inp_channels,
            "out_channels": out_channels,
            "dim": dim,
            "num_blocks": list(num_blocks),
            "num_refinement_blocks": num_refinement_blocks,
            "heads": list(heads),
            "ffn_expansion_factor": ffn_expansion_factor,
            "bias": bias,
            "LayerNorm_type": LayerNorm_type,
            "global_residual": global_residual,
            "mixer": mixer,
            "prompt": None if prompt_config is None else prompt_config.as_dict(),
        }
        self.global_residual = global_residual and inp_channels == out_channels

        def stage(channels: int, n_heads: int, depth: int) -> nn.Sequential:
            return nn.Sequential(
                *(
                    TransformerBlock(channels, n_heads, ffn_expansion_factor, bias, LayerNorm_type, mixer)
                    for _ in range(depth)
                )
            )

        self.patch_embed = OverlapPatchEmbed(inp_channels, dim, bias=False)
        self.encoder_level1 = stage(dim, heads[0], num_blocks[0])
        self.down1_2 = Downsample(dim)
        self.encoder_level2 = stage(dim * 2, heads[1], num_blocks[1])
        self.down2_3 = Downsample(dim * 2)
        self.encoder_level3 = stage(dim * 4, heads[2], num_blocks[2])
        self.down3_4 = Downsample(dim * 4)
        self.latent = stage(dim * 8, heads[3], num_blocks[3])
        self.up4_3 = Upsample(dim * 8)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, 1, bias=bias)
        self.decoder_level3 = stage(dim * 4, heads[2], num_blocks[2])
        self.up3_2 = Upsample(dim * 4)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, 1, bias=bias)
        self.decoder_level2 = stage(dim * 2, heads[1], num_blocks[1])
        self.up2_1 = Upsample(dim * 2)
        self.decoder_level1 = stage(dim * 2, heads[0], num_blocks[0])
        self.refinement = stage(dim * 2, heads[0], num_refinement_blocks)
        self.output = nn.Conv2d(dim * 2, out_channels, 3, padding=1, bias=bias)

        points = (
            FilmPoint("1", dim * 8, 1),  # latent
            FilmPoint("2", dim * 4, 2),  # decoder level 3
            FilmPoint("3", dim * 2, 3),  # decoder level 2
            FilmPoint("4", dim * 2, 3),  # decoder level 1
            FilmPoint("5", dim * 2, 3),  # refinement
            FilmPoint("out", out_channels, 4),  # output conv, before the global residual
        )
        self.setup_prompts(prompt_config, points)

    def forward(
        self,
        x: torch.Tensor,
        degradation_prompt: torch.Tensor | None = None,
        scenario_prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        mod: Modulation | None = self.modulation(degradation_prompt, scenario_prompt)
        enc1 = self.encoder_level1(self.patch_embed(x))
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.film(self.latent(self.down3_4(enc3)), mod, "1")
        dec3 = self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], dim=1))
        dec3 = self.film(self.decoder_level3(dec3), mod, "2")
        dec2 = self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], dim=1))
        dec2 = self.film(self.decoder_level2(dec2), mod, "3")
        dec1 = self.film(self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], dim=1)), mod, "4")
        refined = self.film(self.refinement(dec1), mod, "5")
        out = self.film(self.output(refined), mod, "out")
        return out + x if self.global_residual else out


def restormer(**overrides: Any) -> PromptableNet:
    """The registered ``restormer`` model (prompt-free Baseline): its catalog configuration + ``overrides``."""
    return plain_backbone("restormer", Restormer, **overrides)


def ppfn_restormer(prompt: PromptConfig | dict[str, Any] | None = None, **overrides: Any) -> PromptableNet:
    """The registered ``ppfn_restormer`` model: ``restormer`` with PPFN prompt units (``prompt``: their config)."""
    return prompted_backbone("restormer", Restormer, prompt, **overrides)
