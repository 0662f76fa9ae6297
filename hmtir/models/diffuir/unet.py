"""The DiffUIR residual-prediction U-Net (Zheng et al., CVPR 2024), written to load the released weights.

A DDPM-style U-Net: weight-standardised 3×3 convolutions with GroupNorm and a time scale/shift, linear
attention at every level, full softmax attention in the middle, and a long skip from the stem to the last
block. Module names mirror the release so its ``model.unet0.*`` weights load with ``strict=True`` once that
prefix is stripped. Frames whose sides are not a multiple of ``2**len(dim_mults)`` are reflect-padded on the
bottom/right and the prediction is cropped back, as the release does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.models.diffusion_parts import (
    ChannelLayerNorm,
    PreNorm,
    Residual,
    SinusoidalTimeEmbedding,
    norm_eps,
)


class WeightStandardizedConv2d(nn.Conv2d):
    """Conv2d whose kernels are standardised per output channel (zero mean, unit biased variance)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        mean = weight.mean(dim=(1, 2, 3), keepdim=True)
        var = weight.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        weight = (weight - mean) * (var + norm_eps(x)).rsqrt()
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvBlock(nn.Module):
    """Standardised conv → GroupNorm → optional ``x·(scale+1)+shift`` → SiLU."""

    def __init__(self, dim: int, dim_out: int, groups: int) -> None:
        super().__init__()
        self.proj = WeightStandardizedConv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(
        self, x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    """Two conv blocks, the first modulated by the time embedding, plus a 1×1 shortcut when widths differ."""

    def __init__(self, dim: int, dim_out: int, time_dim: int, groups: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, dim_out * 2))
        self.block1 = ConvBlock(dim, dim_out, groups)
        self.block2 = ConvBlock(dim_out, dim_out, groups)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        scale_shift = self.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)
        h = self.block1(x, scale_shift)
        h = self.block2(h)
        return h + self.res_conv(x)


def _split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """``B×(heads·d)×H×W`` → ``B×heads×d×(H·W)``."""
    b, _, h, w = t.shape
    return t.reshape(b, heads, -1, h * w)


class LinearAttention(nn.Module):
    """Softmax-kernel linear attention (queries normalised over features, keys over positions): O(H·W).

    Values are divided by the number of positions, as in the release; the output LayerNorm follows a biased
    conv, so this changes the result and is part of what the weights were trained with.
    """

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32) -> None:
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), ChannelLayerNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (_split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q)
        return self.to_out(out.reshape(b, -1, h, w))


class Attention(nn.Module):
    """Full multi-head softmax attention over all positions (used only at the coarsest level)."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32) -> None:
        super().__init__()
        self.heads = heads
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (_split_heads(t, self.heads).transpose(-1, -2) for t in self.to_qkv(x).chunk(3, dim=1))
        out = F.scaled_dot_product_attention(q, k, v)  # B×heads×(H·W)×d, scale d**-0.5 as the release
        return self.to_out(out.transpose(-1, -2).reshape(b, -1, h, w))


def _downsample(dim: int, dim_out: int) -> nn.Module:
    return nn.Conv2d(dim, dim_out, 4, stride=2, padding=1)


def _upsample(dim: int, dim_out: int) -> nn.Module:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim, dim_out, 3, padding=1))


class DiffuirUNet(nn.Module):
    """Predicts the residual ``degraded − clean`` (in [-1, 1] units) from ``cat[state, degraded]`` and a time.

    ``forward(x, time)``: ``x`` is ``B×2C×H×W`` (current state then degraded input, both in [-1, 1]),
    ``time`` a float per sample (``A_t·1000`` in the sampler). Returns ``B×C×H×W``.
    """

    def __init__(
        self,
        dim: int = 64,
        dim_mults: Sequence[int] = (1, 2, 4, 8),
        channels: int = 3,
        resnet_block_groups: int = 8,
        heads: int = 4,
        dim_head: int = 32,
    ) -> None:
        super().__init__()
        self.config = {
            "dim": dim,
            "dim_mults": list(dim_mults),
            "channels": channels,
            "resnet_block_groups": resnet_block_groups,
            "heads": heads,
            "dim_head": dim_head,
        }
        self.size_multiple = 2 ** len(dim_mults)
        groups = resnet_block_groups
        time_dim = dim * 4
        widths = [dim, *(dim * m for m in dim_mults)]
        pairs = list(zip(widths[:-1], widths[1:], strict=True))

        self.init_conv = nn.Conv2d(channels * 2, dim, 7, padding=3)
        self.time_mlp = nn.Sequential(
            SinusoidalTimeEmbedding(dim), nn.Linear(dim, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim)
        )

        def linear_attention(width: int) -> nn.Module:
            return Residual(PreNorm(width, LinearAttention(width, heads, dim_head)))

        self.downs = nn.ModuleList()
        for level, (dim_in, dim_out) in enumerate(pairs):
            last = level == len(pairs) - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        ResnetBlock(dim_in, dim_in, time_dim, groups),
                        ResnetBlock(dim_in, dim_in, time_dim, groups),
                        linear_attention(dim_in),
                        nn.Conv2d(dim_in, dim_out, 3, padding=1) if last else _downsample(dim_in, dim_out),
                    ]
                )
            )

        mid = widths[-1]
        self.mid_block1 = ResnetBlock(mid, mid, time_dim, groups)
        self.mid_attn = Residual(PreNorm(mid, Attention(mid, heads, dim_head)))
        self.mid_block2 = ResnetBlock(mid, mid, time_dim, groups)

        self.ups = nn.ModuleList()
        for level, (dim_in, dim_out) in enumerate(reversed(pairs)):
            last = level == len(pairs) - 1
            self.ups.append(
                nn.ModuleList(
                    [
                        ResnetBlock(dim_out + dim_in, dim_out, time_dim, groups),
                        ResnetBlock(dim_out + dim_in, dim_out, time_dim, groups),
                        linear_attention(dim_out),
                        nn.Conv2d(dim_out, dim_in, 3, padding=1) if last else _upsample(dim_out, dim_in),
                    ]
                )
            )

        self.final_res_block = ResnetBlock(dim * 2, dim, time_dim, groups)
        self.final_conv = nn.Conv2d(dim, channels, 1)

    def forward(self, x: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        m = self.size_multiple
        pad_h, pad_w = (-height) % m, (-width) % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")

        x = self.init_conv(x)
        stem = x
        t = self.time_mlp(time)
        skips = []
        for block1, block2, attn, down in self.downs:
            x = block1(x, t)
            skips.append(x)
            x = attn(block2(x, t))
            skips.append(x)
            x = down(x)

        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)), t)

        for block1, block2, attn, up in self.ups:
            x = block1(torch.cat((x, skips.pop()), dim=1), t)
            x = attn(block2(torch.cat((x, skips.pop()), dim=1), t))
            x = up(x)

        x = self.final_res_block(torch.cat((x, stem), dim=1), t)
        return self.final_conv(x)[..., :height, :width]
