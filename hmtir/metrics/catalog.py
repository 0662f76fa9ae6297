"""Every shipped metric, declared: typed metadata plus the ``"module:function"`` that builds it.

This module imports nothing heavy (no torch, no pyiqa), so ``hmtir list`` and the leaderboard's metric facts
(``leaderboard``, ``decimals``, ``score_range``, ``lower_better``) are readable anywhere; a metric's
implementation module is imported only when the metric is built (:class:`hmtir.registry.LazyFactory`).
A new shipped metric is a factory in :mod:`hmtir.metrics.full_reference` or
:mod:`hmtir.metrics.no_reference` plus one ``METRICS.declare`` here (``_pyiqa_metric`` for a pyiqa
one).
"""

from __future__ import annotations

from typing import Any

from hmtir.metrics import METRICS
from hmtir.registry import WeightsSpec

PYIQA_WEIGHTS_URL = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/{}"


def _pyiqa_metric(name: str, weights: str, **meta: Any) -> None:
    """Declare the no-reference metric ``name``, built by ``no_reference:_<name>`` on pyiqa's ``weights``
    file, which the `hmtir download` entry ``pyiqa-<name>`` fetches (see hmtir/data/sources.yaml)."""
    METRICS.declare(
        name,
        f"hmtir.metrics.no_reference:_{name}",
        mode="NR",
        version="1",
        weights=WeightsSpec(filename=weights, url=PYIQA_WEIGHTS_URL.format(weights), source=f"pyiqa-{name}"),
        **meta,
    )


METRICS.declare(
    "psnr",
    "hmtir.metrics.full_reference:_psnr",
    mode="FR",
    lower_better=False,
    score_range=(0.0, float("inf")),
    version="1",
    decimals=2,
    leaderboard=True,
    summary="PSNR = 20*log10(1/RMSE) on images clamped to [0,1], float64 accumulation; identical images give +inf",
    paper="HM-TIR (NeurIPS 2025) evaluation protocol",
)

METRICS.declare(
    "ssim",
    "hmtir.metrics.full_reference:_ssim",
    mode="FR",
    lower_better=False,
    score_range=(-1.0, 1.0),
    version="1",
    decimals=4,
    leaderboard=True,
    summary="SSIM, Gaussian 11x11 window sigma=1.5, valid filtering, K1=0.01, K2=0.03, data range 1, float32, "
    "mean over the map (pytorch_msssim definition)",
    paper="Wang et al., IEEE TIP 2004; HM-TIR (NeurIPS 2025) evaluation protocol",
)

_pyiqa_metric(
    "niqe",
    "niqe_modelparameters.mat",
    lower_better=True,
    score_range=(0.0, 100.0),
    leaderboard=True,
    summary="NIQE (Mittal et al. 2012), pyiqa 'niqe': 96x96 blocks, two scales, original pristine model; "
    "1-channel input scored directly on x*255 rounded",
    paper="Mittal, Soundararajan, Bovik, IEEE SPL 2013",
)

_pyiqa_metric(
    "brisque",
    "brisque_svm_weights.pth",
    lower_better=True,
    score_range=(0.0, 150.0),
    summary="BRISQUE (Mittal et al. 2012), pyiqa 'brisque': 7x7 Gaussian sigma 7/6, two scales, LIVE SVM",
    paper="Mittal, Moorthy, Bovik, IEEE TIP 2012",
)

_pyiqa_metric(
    "nima",
    "NIMA_InceptionV2_ava-b0c77c00.pth",
    lower_better=False,
    score_range=(1.0, 10.0),
    leaderboard=True,
    summary="NIMA (Talebi & Milanfar 2018), pyiqa 'nima': inception_resnet_v2 trained on AVA, resize 299 + "
    "center crop, mean of the 10-bin score distribution; 1-channel input replicated to RGB",
    paper="Talebi, Milanfar, IEEE TIP 2018",
)

_pyiqa_metric(
    "musiq",
    "musiq_koniq_ckpt-e95806b9.pth",
    lower_better=False,
    score_range=(0.0, 100.0),
    leaderboard=True,
    summary="MUSIQ (Ke et al. 2021), pyiqa 'musiq': KonIQ-10k checkpoint, multi-scale patches at longer sides "
    "224 and 384 plus the original; 1-channel input replicated to RGB",
    paper="Ke, Wang, Wang, Milanfar, Yang, ICCV 2021",
)
