"""DA-CLIP: a frozen OpenCLIP model plus a trainable copy of its image tower (the controller).

The controller sees the degraded image, returns a *degradation* embedding from its own head, and after each
of its transformer blocks emits ``zero_modules[i](tokens)``; those are added to the frozen tower's blocks in
reverse order (frozen block 0 gets the controller's last output), which yields the *image* embedding of the
content with the degradation "explained away". The CLIP parts come from ``open_clip``; only the wiring is
here. Module names follow the released ``daclip_ViT-B-32.pt`` so it loads with ``strict=True``:
``clip.*`` (full CLIP), ``visual.*`` (the same image tower registered a second time), ``visual_control.*``
and ``logit_scale``. The towers' embedding and pooling steps are open_clip 3.x's ``_embeds``/``_pool``, so the
injected forward stays in step with whatever pooling the tower was built with.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn


def _block_layout(transformer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """open_clip blocks run batch-first unless the tower was built sequence-first."""
    return x if getattr(transformer, "batch_first", True) else x.transpose(0, 1)


class ControlTransformer(nn.Module):
    """The controller's transformer: the copied blocks plus one zero-initialised Linear per block."""

    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.transformer = transformer
        width = transformer.width
        self.zero_modules = nn.ModuleList(nn.Linear(width, width) for _ in range(transformer.layers))
        for layer in self.zero_modules:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Tokens through all blocks, plus the per-block control signals (in the blocks' own layout)."""
        x = _block_layout(self.transformer, x)
        hiddens = []
        for block, zero in zip(self.transformer.resblocks, self.zero_modules):
            x = block(x)
            hiddens.append(zero(x))
        return _block_layout(self.transformer, x), hiddens


def _head(tower: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The image tower's pooling, final norm and projection (whatever pooling the tower was built with)."""
    pooled, _ = tower._pool(tokens)
    return pooled @ tower.proj if tower.proj is not None else pooled


class DaCLIP(nn.Module):
    """Wraps an ``open_clip`` CLIP; ``encode_image(x, control=True)`` → ``(image_features, degra_features)``."""

    def __init__(self, clip_model: nn.Module) -> None:
        super().__init__()
        self.clip = clip_model
        self.visual = clip_model.visual
        self.visual_control = copy.deepcopy(clip_model.visual)
        self.visual_control.transformer = ControlTransformer(self.visual_control.transformer)
        self.logit_scale = nn.Parameter(clip_model.logit_scale.detach().clone())

    @classmethod
    def from_config(cls, config: str | dict[str, Any]) -> DaCLIP:
        """Build from an open_clip config name (``"ViT-B-32"``) or a ``CLIP(**config)`` dict; random weights."""
        import open_clip
        from open_clip.model import CLIP

        if isinstance(config, str):
            resolved = open_clip.get_model_config(config)
            if resolved is None:
                raise ValueError(f"open_clip has no model config named {config!r}")
            config = resolved
        config = {k: v for k, v in config.items() if k != "custom_text"}
        return cls(CLIP(**config))

    @property
    def image_size(self) -> int:
        size = self.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def encode_image(
        self, image: torch.Tensor, control: bool = False, normalize: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not control:
            return self.clip.encode_image(image, normalize=normalize)
        tokens, hiddens = self.visual_control.transformer(self.visual_control._embeds(image))
        degra_features = _head(self.visual_control, tokens)

        frozen = self.visual.transformer
        x = _block_layout(frozen, self.visual._embeds(image))
        for block, hidden in zip(frozen.resblocks, reversed(hiddens)):
            x = block(x) + hidden
        image_features = _head(self.visual, _block_layout(frozen, x))
        if normalize:
            image_features = nn.functional.normalize(image_features, dim=-1)
            degra_features = nn.functional.normalize(degra_features, dim=-1)
        return image_features, degra_features


def clip_preprocess(rgb: torch.Tensor, size: int = 224) -> torch.Tensor:
    """B×3×H×W in [0, 1] → B×3×size×size CLIP input, exactly as the release prepares the degraded image.

    Truncation to uint8 (not rounding), PIL bicubic resize of the shorter side, centre crop, OpenAI mean/std.
    """
    import open_clip
    from PIL import Image
    from torchvision import transforms

    to_input = transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD),
        ]
    )
    frames = (rgb.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    return torch.stack([to_input(Image.fromarray(frame)) for frame in frames]).to(rgb.device)
