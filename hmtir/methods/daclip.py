"""``daclip``: DA-CLIP universal restoration (visible-light all-in-one baseline) on grey TIR frames.

The released model is RGB: a grey frame is replicated to three channels, restored, clamped to [0, 1] (the
release clamps when writing 8-bit images) and averaged back to one channel. Sampling is seeded per frame, so
a frame's output does not depend on batch size or device order of noise draws; it is slow on CPU (100 U-Net
calls per frame) and memory can be bounded with ``tile_size``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.methods import METHODS
from hmtir.methods.base import Method, MethodMeta
from hmtir.methods.catalog import DACLIP_CLIP_WEIGHTS
from hmtir.weights import resolve_weights, sha256_file

if TYPE_CHECKING:  # torch loads only when the method is built
    import torch

# Defaults, weights and the CLIP file's spec live in hmtir/methods/catalog.py (readable without torch).
_DEFAULTS: dict[str, Any] = METHODS.meta("daclip").params


class Daclip(Method):
    def __init__(
        self, meta: MethodMeta, restorer: Any, seed: int, weights_sha256: str | None, clip_sha256: str | None
    ):
        self.meta = meta
        self.restorer = restorer
        self.seed = seed
        self.weights_sha256 = weights_sha256
        self.clip_weights_sha256 = clip_sha256

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        return self.restore_with_rgb_model(
            batch, lambda rgb: self.restorer.restore(rgb, [self.seed] * rgb.shape[0])
        )

    def to(self, device: str) -> Daclip:
        self.restorer.to(device)
        return super().to(device)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "clip_weights_sha256": self.clip_weights_sha256}


def daclip(
    weights: str | Path | None = None,
    clip_weights: str | Path | None = None,
    seed: int = _DEFAULTS["seed"],
    tile_size: int | None = _DEFAULTS["tile_size"],
    tile_overlap: int = _DEFAULTS["tile_overlap"],
) -> Method:
    """``weights``/``clip_weights`` override the lookup of ``universal-ir.pth``/``daclip_ViT-B-32.pt``."""
    from hmtir.models.diffusion_parts import check_tiling

    check_tiling("daclip", tile_size, tile_overlap)
    unet_weights = METHODS.meta("daclip").weights
    assert unet_weights is not None
    unet_path = resolve_weights(unet_weights, weights)
    clip_path = resolve_weights(DACLIP_CLIP_WEIGHTS, clip_weights)

    from hmtir.models.checkpoint import extract_state_dict, load_state_dict_strict, read_checkpoint
    from hmtir.models.daclip import DaclipRestorer, daclip_clip, daclip_unet, release_schedule

    def loaded(network: torch.nn.Module, path: Path) -> Any:
        # Strict for both files (the release loads the U-Net non-strictly, silently accepting absent keys).
        source = f"weights file {path}"
        load_state_dict_strict(network, extract_state_dict(read_checkpoint(path), source), source)
        return network

    unet, clip = loaded(daclip_unet(), unet_path), loaded(daclip_clip(), clip_path)
    restorer = DaclipRestorer(clip, unet, release_schedule(), tile_size, tile_overlap)
    meta = METHODS.with_meta(
        "daclip", params={**_DEFAULTS, "seed": seed, "tile_size": tile_size, "tile_overlap": tile_overlap}
    )
    return Daclip(meta, restorer, seed, sha256_file(unet_path), sha256_file(clip_path))
