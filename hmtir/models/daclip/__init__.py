"""DA-CLIP universal image restoration (Luo et al., ICLR 2024), reimplemented to load the released weights.

``ConditionalUNet`` (IR-SDE noise predictor), ``DaCLIP`` (open_clip ViT + controller), ``IRSDESchedule``
(sampler) and ``DaclipRestorer`` (the two networks plus 100 posterior steps). Release settings live in
``release.json`` next to this file.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hmtir.models.daclip.controller import ControlTransformer, DaCLIP, clip_preprocess
from hmtir.models.daclip.pipeline import DaclipRestorer
from hmtir.models.daclip.sde import IRSDESchedule, sample_posterior
from hmtir.models.daclip.unet import ConditionalUNet
from hmtir.models.diffusion_parts import NoiseStream, tile_starts

RELEASE: dict[str, Any] = json.loads(resources.files(__name__).joinpath("release.json").read_text())


def daclip_unet(**overrides: Any) -> ConditionalUNet:
    return ConditionalUNet(**{**RELEASE["unet"], **overrides})


def daclip_clip(config: str | dict[str, Any] | None = None) -> DaCLIP:
    return DaCLIP.from_config(config or RELEASE["clip"]["open_clip_config"])


def release_schedule() -> IRSDESchedule:
    sde = RELEASE["sde"]
    if (sde["schedule"], sde["sampling_mode"]) != ("cosine", "posterior"):
        raise ValueError(
            f"only the cosine schedule with posterior sampling is implemented, release.json asks {sde}"
        )
    return IRSDESchedule.cosine(sde["T"], sde["max_sigma"], sde["eps"])


__all__ = [
    "RELEASE",
    "ConditionalUNet",
    "ControlTransformer",
    "DaCLIP",
    "DaclipRestorer",
    "IRSDESchedule",
    "NoiseStream",
    "clip_preprocess",
    "release_schedule",
    "sample_posterior",
    "tile_starts",
]
