"""The IR-SDE conditional U-Net of DA-CLIP's universal image restoration (noise-prediction network).

Written from the checkpoint layout (``universal_ir_unet_manifest.json``) and the behaviour documented in the
reference notes, so that ``universal-ir.pth`` loads with ``strict=True``. Attribute names therefore follow the
released keys (``downs.3.2.fn.fn.transformer_blocks.0.attn2.to_k`` and so on); the wrappers that look
redundant (``Residual`` around ``PreNorm``) exist because the key paths contain them.

The network sees ``cat[x_t - mu, mu]`` (mu = the degraded image), a scalar time step, a degradation
embedding that re-weights a learned prompt added to the time embedding, and an image embedding used as a
one-token context by cross-attention at the deepest level and in the middle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.models.diffusion_parts import ChannelLayerNorm, PreNorm, Residual, SinusoidalTimeEmbedding

HEAD_CHANNELS = 32  # channels per attention head in the cross-attention blocks
CROSS_ATTENTION_FROM_LEVEL = 3  # levels with index >= 3 (and the middle) use cross-attention when enabled


def _conv(dim_in: int, dim_out: int, kernel: int = 3) -> nn.Conv2d:
    """The release's plain convolution: 'same' zero padding and no bias."""
    return nn.Conv2d(dim_in, dim_out, kernel, padding=kernel // 2, bias=False)


class ConvAct(nn.Module):
    """Convolution, optional FiLM from the time embedding, SiLU."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = _conv(dim_in, dim_out)

    def forward(
        self, x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        x = self.proj(x)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return F.silu(x)


class TimeResBlock(nn.Module):
    """Two conv blocks, the first modulated by the time(+prompt) embedding; no normalisation."""

    def __init__(self, dim_in: int, dim_out: int, time_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, dim_out * 2))
        self.block1 = ConvAct(dim_in, dim_out)
        self.block2 = ConvAct(dim_out, dim_out)
        self.res_conv = _conv(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale_shift = self.mlp(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.block2(self.block1(x, scale_shift))
        return h + self.res_conv(x)


class LinearAttention(nn.Module):
    """Softmax-kernel linear attention over all pixels (cost linear in the pixel count).

    Values are divided by the pixel count before pooling (the release does this; the output convolution has
    a bias, so the scaling is not absorbed by the norm that follows).
    """

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32) -> None:
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), ChannelLayerNorm(dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (part.reshape(b, self.heads, -1, h * w) for part in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        kv = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", kv, q)
        return self.to_out(out.reshape(b, -1, h, w))


class CrossAttention(nn.Module):
    """Multi-head attention of tokens ``x`` over ``context`` (self-attention when no context is given)."""

    def __init__(self, query_dim: int, heads: int, dim_head: int, context_dim: int | None = None) -> None:
        super().__init__()
        inner = heads * dim_head
        context_dim = context_dim or query_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Identity())

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        b = x.shape[0]

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(self.to_k(context)), split(self.to_v(context))
        # Fused attention: same maths as softmax(q·kᵀ/√d)·v but without the N×N matrix held twice, which
        # keeps the deepest level of a 640×512 frame well inside CPU memory.
        out = F.scaled_dot_product_attention(q, k.expand(b, *k.shape[1:]), v.expand(b, *v.shape[1:]))
        return self.to_out(out.transpose(1, 2).reshape(b, -1, out.shape[1] * out.shape[3]))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm self-attention, cross-attention to the context, gated feed-forward."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, heads, dim_head, context_dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """GroupNorm, 1×1 in, one transformer block over the pixels as tokens, 1×1 out, residual."""

    def __init__(self, channels: int, heads: int, dim_head: int, context_dim: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(inner, heads, dim_head, context_dim)])
        self.proj_out = nn.Conv2d(inner, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        tokens = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        for block in self.transformer_blocks:
            tokens = block(tokens, context)
        return self.proj_out(tokens.transpose(1, 2).reshape(b, -1, h, w)) + x


def _attention(dim: int, cross: bool, context_dim: int) -> Residual:
    inner = (
        SpatialTransformer(dim, dim // HEAD_CHANNELS, HEAD_CHANNELS, context_dim)
        if cross
        else LinearAttention(dim)
    )
    return Residual(PreNorm(dim, inner))


class ConditionalUNet(nn.Module):
    """Noise predictor ``ε(x_t, mu, t, degradation context, image context)`` of the universal IR-SDE."""

    def __init__(
        self,
        in_nc: int = 3,
        out_nc: int = 3,
        nf: int = 64,
        ch_mult: tuple[int, ...] | list[int] = (1, 2, 4, 8),
        context_dim: int = 512,
        use_degra_context: bool = True,
        use_image_context: bool = True,
    ) -> None:
        super().__init__()
        if nf < HEAD_CHANNELS:
            raise ValueError(
                f"nf must be at least {HEAD_CHANNELS} (attention heads and GroupNorm use 32 channels)"
            )
        self.depth = len(ch_mult)
        self.use_degra_context = use_degra_context and context_dim > 0
        self.use_image_context = use_image_context and context_dim > 0
        time_dim = nf * 4

        self.init_conv = _conv(in_nc * 2, nf, 7)
        self.time_mlp = nn.Sequential(
            SinusoidalTimeEmbedding(nf), nn.Linear(nf, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim)
        )
        if self.use_degra_context:
            self.prompt = nn.Parameter(torch.rand(1, time_dim))
            self.text_mlp = nn.Sequential(
                nn.Linear(context_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)
            )
            self.prompt_mlp = nn.Linear(time_dim, time_dim)

        dims = [nf * m for m in (1, *ch_mult)]
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        for level in range(self.depth):
            dim_in, dim_out = dims[level], dims[level + 1]
            cross = self.use_image_context and level >= CROSS_ATTENTION_FROM_LEVEL
            last = level == self.depth - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        TimeResBlock(dim_in, dim_in, time_dim),
                        TimeResBlock(dim_in, dim_in, time_dim),
                        _attention(dim_in, cross, context_dim),
                        _conv(dim_in, dim_out) if last else nn.Conv2d(dim_in, dim_out, 4, 2, 1),
                    ]
                )
            )
            upsample = (
                _conv(dim_out, dim_in)
                if level == 0
                else nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim_out, dim_in, 3, padding=1)
                )
            )
            self.ups.insert(
                0,
                nn.ModuleList(
                    [
                        TimeResBlock(dim_out + dim_in, dim_out, time_dim),
                        TimeResBlock(dim_out + dim_in, dim_out, time_dim),
                        _attention(dim_out, cross, context_dim),
                        upsample,
                    ]
                ),
            )

        mid = dims[-1]
        self.mid_block1 = TimeResBlock(mid, mid, time_dim)
        self.mid_attn = _attention(mid, self.use_image_context, context_dim)
        self.mid_block2 = TimeResBlock(mid, mid, time_dim)
        self.final_res_block = TimeResBlock(nf * 2, nf, time_dim)
        self.final_conv = nn.Conv2d(nf, out_nc, 3, 1, 1)

    def pad_to_multiple(self, x: torch.Tensor) -> torch.Tensor:
        """Reflect-pad bottom/right so every down-sampling level divides evenly (the release's behaviour)."""
        multiple = 2**self.depth
        h, w = x.shape[-2:]
        return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")

    def forward(
        self,
        xt: torch.Tensor,
        cond: torch.Tensor,
        time: float | torch.Tensor,
        text_context: torch.Tensor | None = None,
        image_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not torch.is_tensor(time):
            time = torch.tensor([float(time)], device=xt.device)
        h, w = xt.shape[-2:]
        x = self.init_conv(self.pad_to_multiple(torch.cat([xt - cond, cond], dim=1)))
        stem = x

        emb = self.time_mlp(time)
        if self.use_degra_context and text_context is not None:
            weights = torch.softmax(self.text_mlp(text_context), dim=1)
            emb = emb + self.prompt_mlp(weights * self.prompt)
        context = image_context.unsqueeze(1) if self.use_image_context and image_context is not None else None

        skips = []
        for block1, block2, attn, downsample in self.downs:
            x = block1(x, emb)
            skips.append(x)
            x = attn(block2(x, emb), context)
            skips.append(x)
            x = downsample(x)

        x = self.mid_block2(self.mid_attn(self.mid_block1(x, emb), context), emb)

        for block1, block2, attn, upsample in self.ups:
            x = block1(torch.cat([x, skips.pop()], dim=1), emb)
            x = block2(torch.cat([x, skips.pop()], dim=1), emb)
            x = upsample(attn(x, context))

        x = self.final_conv(self.final_res_block(torch.cat([x, stem], dim=1), emb))
        return x[..., :h, :w].contiguous()
