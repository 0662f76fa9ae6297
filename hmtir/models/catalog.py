"""Every shipped network, declared: typed metadata plus the ``"module:function"`` that builds it.

This module imports nothing heavy (no torch), so ``hmtir list`` reads it anywhere; a network's module is
imported only when the network is built (:class:`hmtir.registry.LazyFactory`). A model's ``params`` are its
default configuration: ``create_model(name, **overrides)`` builds from ``params`` with ``overrides``
applied, and code that needs a default configuration reads ``MODELS.meta(name).params``.

Backbones enter twice (:func:`_backbone`): ``<name>``, the prompt-free "Baseline", and ``ppfn_<name>``,
the same network with PPFN prompt units, so PPFN stays a plug-in around any of them. A new backbone is a
module with the two factories (see :func:`hmtir.models.ppfn.plain_backbone`), one ``_backbone`` line
here, and the typed schema of its config in :mod:`hmtir.models.config_schema` (what training accepts).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hmtir.models import MODELS
from hmtir.registry import WeightsSpec

PPFN_PAPER = "Enhancing Infrared Vision: Progressive Prompt Fusion Network and Benchmark (NeurIPS 2025)"
RESTORMER_PAPER = (
    "Restormer: Efficient Transformer for High-Resolution Image Restoration (Zamir et al., CVPR 2022)"
)
NAFNET_PAPER = "Simple Baselines for Image Restoration (Chen et al., ECCV 2022)"
FOCALNET_PAPER = (
    "Focal Modulation Networks (Yang et al., NeurIPS 2022), in a Restormer-style restoration U-Net"
)
DACLIP_PAPER = "Controlling Vision-Language Models for Multi-Task Image Restoration (Luo et al., ICLR 2024)"
DIFFUIR_PAPER = (
    "Selective Hourglass Mapping for Universal Image Restoration Based on Diffusion Model "
    "(Zheng et al., CVPR 2024)"
)

# ``PromptConfig()`` as a dict: the prompt defaults a ``ppfn_<name>`` model lists (tests pin the two equal).
PROMPT_DEFAULTS: dict[str, Any] = {
    "dim": 64,
    "map_channels": 1,
    "scenario_dim": 64,
    "fusion": "concat",
    "activation": "relu",
}


def release(package: str) -> dict[str, Any]:
    """The ``release.json`` of ``hmtir/models/<package>/`` (settings of a reimplemented release), torch-free."""
    text = resources.files("hmtir.models").joinpath(package, "release.json").read_text(encoding="utf-8")
    return json.loads(text)


def _backbone(
    name: str, module: str, config: dict[str, Any], *, paper: str, summary: str, ppfn_summary: str
) -> None:
    """Declare ``name`` (``module:name``) and ``ppfn_<name>`` (``module:ppfn_<name>``) with default ``config``."""
    common: dict[str, Any] = {"license": "MIT", "needs_gpu": False}
    MODELS.declare(name, f"{module}:{name}", summary=summary, paper=paper, params=config, **common)
    MODELS.declare(
        f"ppfn_{name}",
        f"{module}:ppfn_{name}",
        summary=ppfn_summary,
        paper=PPFN_PAPER,
        params={**config, "prompt": dict(PROMPT_DEFAULTS)},
        **common,
    )


# Constructor arguments of the released Restormer-PPFN (names as in its config, so it loads unchanged).
RESTORMER_CONFIG: dict[str, Any] = {
    "inp_channels": 1,
    "out_channels": 1,
    "dim": 48,
    "num_blocks": [4, 6, 6, 8],
    "num_refinement_blocks": 4,
    "heads": [1, 2, 4, 8],
    "ffn_expansion_factor": 2.66,
    "bias": False,
    "LayerNorm_type": "WithBias",
    "global_residual": True,
}
_backbone(
    "restormer",
    "hmtir.models.restormer",
    RESTORMER_CONFIG,
    paper=RESTORMER_PAPER,
    summary="Restormer U-Net, 1-channel, released configuration (26.0 M parameters); the prompt-free Baseline.",
    ppfn_summary="Restormer-PPFN: the released PPFN model (26.6 M parameters); loads the official weights strictly.",
)

# Compact config of the shipped reference models: 1.75 M parameters (2.21 M with PPFN); the pixel-unshuffle
# stem runs the U-Net at half resolution so 3 SPT passes on 640×512 take ~0.5 CPU-seconds.
_backbone(
    "nafnet",
    "hmtir.models.nafnet",
    {
        "in_channels": 1,
        "out_channels": 1,
        "width": 16,
        "enc_blocks": [1, 1, 2, 2],
        "middle_blocks": 2,
        "dec_blocks": [1, 1, 1, 1],
        "stem_downsample": 2,
    },
    paper=NAFNET_PAPER,
    summary="NAFNet U-Net, 1-channel, compact config (width 16); the prompt-free Baseline of the shipped model.",
    ppfn_summary="PPFN-NAFNet: compact NAFNet with PPFN prompt units and FiLM heads (shipped reference model).",
)

# The Restormer skeleton, smaller, with the focal-modulation token mixer (hmtir/models/focalnet.py).
_backbone(
    "focalnet",
    "hmtir.models.focalnet",
    {**RESTORMER_CONFIG, "dim": 32, "num_blocks": [2, 3, 3, 4], "num_refinement_blocks": 2, "mixer": "focal"},
    paper=FOCALNET_PAPER,
    summary="FocalNet-style U-Net (focal-modulation mixer in the Restormer skeleton); prompt-free Baseline.",
    ppfn_summary="PPFN on the FocalNet-style U-Net (same prompt units and modulation points as Restormer-PPFN).",
)

MODELS.declare(
    "daclip_unet",
    "hmtir.models.daclip:daclip_unet",
    summary="IR-SDE conditional U-Net of DA-CLIP (release config).",
    paper=DACLIP_PAPER,
    license="MIT",
)
MODELS.declare(
    "daclip_clip",
    "hmtir.models.daclip:daclip_clip",
    summary="open_clip ViT-B/32 wrapped with the DA-CLIP controller.",
    paper=DACLIP_PAPER,
    license="MIT",
)
MODELS.declare(
    "diffuir_unet",
    "hmtir.models.diffuir:diffuir_unet",
    summary="DiffUIR residual-prediction U-Net; size T/S/B/L as released (L = model-300.pt).",
    paper=DIFFUIR_PAPER,
    license="MIT",
)

# The shipped degradation estimator (hmtir/models/weights/estimator.pt): update sha256 after retraining.
ESTIMATOR_WEIGHTS = WeightsSpec(
    filename="estimator.pt",
    sha256="7e263791aeb6ad4111d34a6435b8a62c091ab1907a21c04b827395e69c24b7c5",
    license="CC BY 4.0 (trained on HIT-UAV frames) + procedural scenes",
)
MODELS.declare(
    "estimator",
    "hmtir.models.estimator:estimator",
    summary="Degradation estimator: whole-frame statistics + MLP → P(contrast), P(blur), P(noise) per frame.",
    license="CC BY 4.0 (weights trained on HIT-UAV) / MIT (code)",
    # feature_version: bump when the features change (old weights are then refused); min_side: smallest
    # frame side the features are defined for (every spectral band must hold a few frequency bins).
    params={"hidden": 64, "dropout": 0.1, "feature_version": 2, "min_side": 48},
    weights=ESTIMATOR_WEIGHTS,
    needs_gpu=False,
)
