"""``diffuir``: the released DiffUIR-L all-in-one restorer (visible-light RGB) run on grey TIR frames.

The grey frame is replicated to three channels, restored by 3 deterministic residual-diffusion steps with
the checkpoint's EMA weights, and the output channels are averaged back to grey. Each frame's single noise
draw comes from its own CPU generator seeded with ``seed``, so results are reproducible and independent of
batch composition. Low-light histogram equalisation (applied by the release to LOL inputs only) is not
used: TIR frames are not low-light RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hmtir.methods import METHODS
from hmtir.methods.base import Method, MethodMeta
from hmtir.models.diffuir import DiffuirRestorer, load_unet, release_schedule
from hmtir.weights import resolve_weights, sha256_file

# Defaults and weights live in hmtir/methods/catalog.py (readable without torch).
_DEFAULTS: dict[str, Any] = METHODS.meta("diffuir").params


class DiffuirMethod(Method):
    def __init__(
        self, meta: MethodMeta, restorer: DiffuirRestorer, seed: int, checkpoint: str, weights_sha256: str
    ) -> None:
        self.meta = meta
        self.restorer = restorer
        self.seed = seed
        self.checkpoint = checkpoint
        self.weights_sha256 = weights_sha256

    def to(self, device: str) -> Method:
        self.restorer.to(device)
        return super().to(device)

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        return self.restore_with_rgb_model(
            batch.to(self.device, torch.float32),
            lambda rgb: self.restorer.restore(rgb, [self.seed] * rgb.shape[0]),
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            checkpoint=self.checkpoint,
            weights_copy="ema",
            unet_config=self.restorer.unet.config,
        )
        return info


def diffuir(
    weights: str | Path | None = None,
    seed: int = _DEFAULTS["seed"],
    tile_size: int | None = _DEFAULTS["tile_size"],
    tile_overlap: int = _DEFAULTS["tile_overlap"],
) -> Method:
    """``weights``: a DiffUIR trainer checkpoint (default: ``model-300.pt`` from the weights folder).

    ``tile_size`` (e.g. 256) caps memory by running the U-Net on overlapping tiles; the default runs the
    whole frame as the release does (a 640×512 frame peaks at about 2.5 GB of CPU memory).
    """
    from hmtir.models.diffusion_parts import check_tiling

    check_tiling("diffuir", tile_size, tile_overlap)
    spec = METHODS.meta("diffuir").weights
    assert spec is not None
    path = resolve_weights(spec, explicit=weights)
    restorer = DiffuirRestorer(load_unet(path), release_schedule(), tile_size, tile_overlap)
    meta = METHODS.with_meta(
        "diffuir", params={**_DEFAULTS, "seed": seed, "tile_size": tile_size, "tile_overlap": tile_overlap}
    )
    return DiffuirMethod(meta, restorer, seed, path.name, sha256_file(path))
