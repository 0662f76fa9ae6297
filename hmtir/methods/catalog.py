"""Every shipped restoration method, declared: typed metadata plus the ``"module:function"`` that builds it.

This module imports nothing heavy (no torch), so ``hmtir list`` reads it anywhere; a method's module is
imported only when the method is built (:class:`hmtir.registry.LazyFactory`). The metadata here is the one
source of a method's defaults and weights: implementations read ``METHODS.meta(name)``.

A new shipped method is a factory function returning a :class:`~hmtir.methods.base.Method` in
``hmtir/methods/`` plus one ``METHODS.declare`` here (a test fails when a factory is not declared).
"""

from __future__ import annotations

from typing import Any

from hmtir.methods import METHODS
from hmtir.methods.destripe import classical_params
from hmtir.models.catalog import (
    DACLIP_PAPER,
    DIFFUIR_PAPER,
    NAFNET_PAPER,
    PPFN_PAPER,
    RESTORMER_PAPER,
    release,
)
from hmtir.registry import WeightsSpec

_DACLIP_HF = "https://huggingface.co/weblzw/daclip-uir-ViT-B-32-irsde/resolve/main/"
# DA-CLIP's second file (the CLIP controller); the U-Net file is the method's ``weights``.
DACLIP_CLIP_WEIGHTS = WeightsSpec(
    "daclip_ViT-B-32.pt", url=_DACLIP_HF + "daclip_ViT-B-32.pt", source="daclip", license="MIT"
)

# Inference options every network method takes (see hmtir.models.accel).
_OPTION_PARAMS: dict[str, Any] = {"precision": "fp32 | bf16 | fp16", "channels_last": False, "compile": False}


def _baseline(backbone: str, weights: str, *, summary: str, paper: str) -> None:
    """The paper's prompt-free "Baseline" row of ``backbone``: method name = model name (no prompts, no SPT)."""
    METHODS.declare(
        backbone,
        f"hmtir.methods.networks:{backbone}",
        kind="learned",
        backbone=backbone,
        summary=summary,
        paper=paper,
        license="MIT",
        params={"weights": weights, **_OPTION_PARAMS},
    )


METHODS.declare(
    "identity",
    "hmtir.methods.identity:identity",
    kind="reference",
    summary="No restoration: scores the degraded input itself.",
    license="MIT",
)

METHODS.declare(
    "wfaf",
    "hmtir.methods.wfaf:wfaf",
    kind="classical",
    paper=(
        "The HM-TIR paper's WFAF baseline, identified (an assumption) as Münch, Trtik, Marone, Stampanoni, "
        "'Stripe and ring artifact removal with combined wavelet-Fourier filtering', Optics Express 17(10), 2009"
    ),
    license="MIT (own implementation)",
    params=classical_params("wfaf"),
    summary=(
        "Wavelet-FFT destriping: Gaussian notch at zero frequency along the stripes in each DWT level's "
        "stripe-direction detail band; orientation auto-detected per frame (columns or rows). Only "
        "destripes: on contrast/blur subsets it leaves the frame nearly unchanged."
    ),
)

METHODS.declare(
    "lrsid",
    "hmtir.methods.lrsid:lrsid",
    kind="classical",
    paper=(
        "Y. Chang, L. Yan, T. Wu, S. Zhong, 'Remote sensing image stripe noise removal: from image "
        "decomposition perspective', IEEE TGRS 54(12), 2016"
    ),
    license="MIT (own implementation)",
    params=classical_params("lrsid"),
    summary=(
        "Low-rank single-image decomposition O = B + S (TV image, smooth low-rank stripes) solved by ADMM in "
        "torch (CPU or GPU); orientation auto-detected per frame (columns or rows). Only destripes: on "
        "contrast/blur subsets it changes the frame little."
    ),
)

METHODS.declare(
    "daclip",
    "hmtir.methods.daclip:daclip",
    kind="learned",
    summary="DA-CLIP: CLIP degradation/content embeddings steer an IR-SDE U-Net (100 posterior steps); RGB model on grey.",
    paper=DACLIP_PAPER,
    license="MIT",
    weights=WeightsSpec(
        "universal-ir.pth", url=_DACLIP_HF + "universal-ir.pth", source="daclip", license="MIT"
    ),
    params={"seed": 0, "tile_size": None, "tile_overlap": 32, "clip_weights": DACLIP_CLIP_WEIGHTS.filename},
    needs_gpu=False,
)

_DIFFUIR_RELEASE = release("diffuir")["weights"]
METHODS.declare(
    "diffuir",
    "hmtir.methods.diffuir:diffuir",
    kind="learned",
    summary="DiffUIR-L all-in-one diffusion restorer (RGB model on replicated grey; 3 steps; slow on CPU).",
    paper=DIFFUIR_PAPER,
    license="MIT",
    weights=WeightsSpec(
        filename=_DIFFUIR_RELEASE["file"],
        url=_DIFFUIR_RELEASE["google_drive_folder"],
        source="diffuir",
        license="MIT",
    ),
    needs_gpu=False,
    params={"seed": 0, "tile_size": None, "tile_overlap": 32},
)

METHODS.declare(
    "ppfn",
    "hmtir.methods.networks:ppfn",
    kind="learned",
    backbone="nafnet",
    uses_prompts=True,
    summary="PPFN + SPT (prompted network, 3 progressive passes on composite inputs); shipped compact PPFN-NAFNet,"
    " its pair chosen per data set from the degraded frames (ppfn.agc full-range, ppfn.dim darker frames).",
    paper=PPFN_PAPER,
    license="MIT",
    params={"weights": "shipped (agc or dim, per data set) | agc | dim | official | PATH", **_OPTION_PARAMS},
)


_baseline(
    "restormer",
    "PATH",
    summary="Restormer without prompts or SPT (the paper's Baseline row); needs --weights PATH.",
    paper=RESTORMER_PAPER,
)
_baseline(
    "nafnet",
    "shipped (agc or dim, per data set) | agc | dim | PATH",
    summary="Compact NAFNet without prompts or SPT, same training budget as the shipped PPFN (Baseline row;"
    " its pair chosen per data set like ppfn's).",
    paper=NAFNET_PAPER,
)

METHODS.declare(
    "onnx",
    "hmtir.methods.onnx:onnx",
    kind="learned",
    summary="Any single-input grey ONNX model, or an `hmtir export-model` PPFN (prompt inputs, SPT run"
    " around it), under ONNX Runtime (CPU, or CUDA when present); needs --weights MODEL.onnx.",
    license="the model's own",
    needs_gpu=False,
    params={"weights": "PATH (.onnx)"},
)
