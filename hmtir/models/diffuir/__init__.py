"""DiffUIR universal image restoration (Zheng et al., CVPR 2024), reimplemented to load the released weights.

``DiffuirUNet`` (residual predictor), ``ResidualSchedule`` + ``sample_residual`` (3-step deterministic
sampler), ``DiffuirRestorer`` (both, with optional tiling) and ``load_unet`` (EMA weights of the trainer
checkpoint). Release settings and the four released sizes live in ``release.json`` next to this file.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hmtir.models.diffuir.checkpoints import (
    SCHEDULE_BUFFERS,
    config_from_state_dict,
    load_unet,
    unet_state_dict,
    wrapper_state_dict,
)
from hmtir.models.diffuir.sampler import DiffuirRestorer, ResidualSchedule, sample_residual
from hmtir.models.diffuir.unet import DiffuirUNet

RELEASE: dict[str, Any] = json.loads(resources.files(__name__).joinpath("release.json").read_text())


def diffuir_unet(size: str = "L", **overrides: Any) -> DiffuirUNet:
    sizes = RELEASE["sizes"]
    if size not in sizes:
        raise ValueError(f"unknown DiffUIR size {size!r} (expected one of {', '.join(sizes)})")
    shape = {k: v for k, v in sizes[size].items() if k != "num_params"}
    return DiffuirUNet(**{**RELEASE["unet"], **shape, **overrides})


def release_schedule() -> ResidualSchedule:
    return ResidualSchedule.build(**RELEASE["sampling"])


__all__ = [
    "RELEASE",
    "SCHEDULE_BUFFERS",
    "DiffuirRestorer",
    "DiffuirUNet",
    "ResidualSchedule",
    "config_from_state_dict",
    "diffuir_unet",
    "load_unet",
    "release_schedule",
    "sample_residual",
    "unet_state_dict",
    "wrapper_state_dict",
]
