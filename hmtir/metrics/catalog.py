"""Every shipped metric, declared: typed metadata plus the ``"module:function"`` that builds it.

This module imports nothing heavy (no torch, no pyiqa), so ``hmtir list`` and the leaderboard's metric facts
(``leaderboard``, ``decimals``, ``score_range``, ``lower_better``) are readable anywhere; a metric's
implementation module is imported only when the metric is built (:class:`hmtir.registry.LazyFactory`).
A new shipped metric is a factory in :mod:`hmtir.metrics.full_reference` or
:mod:`hmtir.metrics.no_reference` plus one ``METRICS.declare`` here.
"""

from __future__ import annotations

from hmtir.metrics import METRICS
from hmtir.registry import WeightsSpec

PYIQA_WEIGHTS_URL = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/{}"


def _pyiqa_weights(filename: str, source: str, license: str | None = None) -> WeightsSpec:
    """``source`` names the `hmtir download` entry that fetches the file (see hmtir/data/sources.yaml)."""
    return WeightsSpec(
        filename=filename, url=PYIQA_WEIGHTS_URL.format(filename), source=source, license=license
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

METRICS.declare(
    "niqe",
    "hmtir.metrics.no_reference:_niqe",
    mode="NR",
    lower_better=True,
    score_range=(0.0, 100.0),
    version="1",
    leaderboard=True,
    summary="NIQE (Mittal et al. 2012), pyiqa 'niqe': 96x96 blocks, two scales, original pristine model; "
    "1-channel input scored directly on x*255 rounded",
    paper="Mittal, Soundararajan, Bovik, IEEE SPL 2013",
    weights=_pyiqa_weights("niqe_modelparameters.mat", "pyiqa-niqe"),
)

METRICS.declare(
    "brisque",
    "hmtir.metrics.no_reference:_brisque",
    mode="NR",
    lower_better=True,
    score_range=(0.0, 150.0),
    version="1",
    summary="BRISQUE (Mittal et al. 2012), pyiqa 'brisque': 7x7 Gaussian sigma 7/6, two scales, LIVE SVM",
    paper="Mittal, Moorthy, Bovik, IEEE TIP 2012",
    weights=_pyiqa_weights("brisque_svm_weights.pth", "pyiqa-brisque"),
)

METRICS.declare(
    "nima",
    "hmtir.metrics.no_reference:_nima",
    mode="NR",
    lower_better=False,
    score_range=(1.0, 10.0),
    version="1",
    leaderboard=True,
    summary="NIMA (Talebi & Milanfar 2018), pyiqa 'nima': inception_resnet_v2 trained on AVA, resize 299 + "
    "center crop, mean of the 10-bin score distribution; 1-channel input replicated to RGB",
    paper="Talebi, Milanfar, IEEE TIP 2018",
    weights=_pyiqa_weights("NIMA_InceptionV2_ava-b0c77c00.pth", "pyiqa-nima"),
)

METRICS.declare(
    "musiq",
    "hmtir.metrics.no_reference:_musiq",
    mode="NR",
    lower_better=False,
    score_range=(0.0, 100.0),
    version="1",
    leaderboard=True,
    summary="MUSIQ (Ke et al. 2021), pyiqa 'musiq': KonIQ-10k checkpoint, multi-scale patches at longer sides "
    "224 and 384 plus the original; 1-channel input replicated to RGB",
    paper="Ke, Wang, Wang, Milanfar, Yang, ICCV 2021",
    weights=_pyiqa_weights("musiq_koniq_ckpt-e95806b9.pth", "pyiqa-musiq"),
)
