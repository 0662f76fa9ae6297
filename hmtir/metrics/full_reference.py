"""PSNR and SSIM exactly as the HM-TIR paper evaluates them (float, single channel, data range 1).

* PSNR = 20·log10(1 / RMSE) of the prediction and target clamped to [0, 1], accumulated in float64.
  Identical images give ``+inf``: that is the true value, so it is returned as such. The mean over a set
  that contains an identical pair is therefore ``+inf`` too; evaluation reports should show the number of
  infinite scores next to any mean rather than drop or cap them silently.
* SSIM = Gaussian window 11×11 with σ = 1.5, "valid" filtering (no padding), K1 = 0.01, K2 = 0.03,
  data range 1, map computed in float32, mean over the map (accumulated in float64 so a score does not
  depend on the batch it was computed in) and then over channels: the definition of
  ``pytorch_msssim.ssim(x, y, data_range=1, size_average=False)``, equal to scikit-image's
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)``
  to within 1e-5. (pyiqa's ``ssim`` is a different definition: 8-bit rounding, Y channel, ReLU on the
  contrast-structure map.)

On GPU the separable Gaussian is 11 shifted multiply-adds per axis on the five stacked moment maps (one
batched kernel chain); on CPU OpenCV's SIMD ``sepFilter2D`` on each map is about 2× faster still (the "valid"
region is cropped from its output, so the border mode never matters). See ``benchmarks/bench_metrics.py``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch

from hmtir.errors import HmtirError
from hmtir.metrics import METRICS, Metric, create_metric

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


@lru_cache(maxsize=8)
def gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> tuple[float, ...]:
    """Normalised 1-D Gaussian taps, computed in float32 exactly as pytorch_msssim builds its window."""
    coords = torch.arange(size, dtype=torch.float32) - size // 2
    taps = torch.exp(-(coords**2) / (2 * sigma**2))
    return tuple((taps / taps.sum()).tolist())


def _filter_valid(maps: torch.Tensor, taps: tuple[float, ...]) -> torch.Tensor:
    """Separable 'valid' correlation of ``(N, H, W)`` maps with ``taps`` along H then W."""
    size = len(taps)
    out_h, out_w = maps.shape[-2] - size + 1, maps.shape[-1] - size + 1
    rows = maps[:, 0:out_h] * taps[0]
    for k in range(1, size):
        rows.add_(maps[:, k : k + out_h], alpha=taps[k])
    cols = rows[..., 0:out_w] * taps[0]
    for k in range(1, size):
        cols.add_(rows[..., k : k + out_w], alpha=taps[k])
    return cols


def _ssim_chunk(pred: torch.Tensor, target: torch.Tensor, taps: tuple[float, ...]) -> torch.Tensor:
    batch, channels, height, width = pred.shape
    moments = torch.stack([pred, target, pred * pred, target * target, pred * target], dim=1)
    filtered = _filter_valid(moments.reshape(batch * 5 * channels, height, width), taps)
    size = len(taps)
    mu_p, mu_t, e_pp, e_tt, e_pt = filtered.reshape(
        batch, 5, channels, height - size + 1, width - size + 1
    ).unbind(1)
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    mu_pt, mu_pp, mu_tt = mu_p * mu_t, mu_p * mu_p, mu_t * mu_t
    contrast_structure = (2 * (e_pt - mu_pt) + c2) / ((e_pp - mu_pp) + (e_tt - mu_tt) + c2)
    ssim_map = (2 * mu_pt + c1) / (mu_pp + mu_tt + c1) * contrast_structure
    # float64 mean: the score of an image must not depend on which batch it was scored in
    return ssim_map.flatten(2).to(torch.float64).mean(-1).mean(1)


KERNELS = ("torch", "host")  # the device path (any device) and the faster host-only path


def _kernel(pred: torch.Tensor, kernel: str | None) -> str:
    """``None``: the host path for CPU tensors, the torch path elsewhere; either can be forced (tests run
    the GPU formula on CPU tensors this way, so both paths are checked on every machine)."""
    if kernel is None:
        return "host" if pred.device.type == "cpu" else "torch"
    if kernel not in KERNELS or (kernel == "host" and pred.device.type != "cpu"):
        raise ValueError(f"kernel must be one of {KERNELS} ('host' for CPU tensors only), got {kernel!r}")
    return kernel


def ssim_scores(pred: torch.Tensor, target: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
    """Per-image SSIM (shape ``(B,)``, float64 mean of the float32 map) of ``B×C×H×W`` float32 tensors
    already clamped to [0, 1]; ``kernel`` as in :func:`_kernel`."""
    height, width = pred.shape[-2:]
    if min(height, width) < SSIM_WINDOW:
        raise HmtirError(
            f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} px, got {height}×{width}"
        )
    taps = gaussian_taps()
    if _kernel(pred, kernel) == "torch":
        return _ssim_chunk(pred, target, taps)
    return _ssim_cpu(pred, target, taps)


def _ssim_cpu(pred: torch.Tensor, target: torch.Tensor, taps: tuple[float, ...]) -> torch.Tensor:
    """The same float32 map as :func:`_ssim_chunk`, filtered by OpenCV one image and channel at a time."""
    import cv2

    kernel = np.asarray(taps, dtype=np.float32)
    half = len(taps) // 2
    batch, channels, height, width = pred.shape
    valid = (slice(half, height - half), slice(half, width - half))
    c1, c2 = np.float32(SSIM_K1**2), np.float32(SSIM_K2**2)
    scores = np.zeros(batch, dtype=np.float64)

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(image, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)[valid]

    for b, (p_img, t_img) in enumerate(zip(pred.detach().numpy(), target.detach().numpy())):
        for p, t in zip(p_img, t_img):
            mu_p, mu_t = blur(p), blur(t)
            e_pp, e_tt, e_pt = blur(p * p), blur(t * t), blur(p * t)
            mu_pt, mu_pp, mu_tt = mu_p * mu_t, mu_p * mu_p, mu_t * mu_t
            contrast_structure = (2 * (e_pt - mu_pt) + c2) / ((e_pp - mu_pp) + (e_tt - mu_tt) + c2)
            ssim_map = (2 * mu_pt + c1) / (mu_pp + mu_tt + c1) * contrast_structure
            scores[b] += ssim_map.mean(dtype=np.float64)
    return torch.from_numpy(scores / channels)


def psnr_scores(pred: torch.Tensor, target: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
    """Per-image PSNR (shape ``(B,)``, float64) of tensors already clamped to [0, 1]; ``+inf`` if identical."""
    if _kernel(pred, kernel) == "host":  # numpy casts while subtracting and sums with BLAS: ~3× faster on CPU
        p, t = pred.detach().numpy().reshape(len(pred), -1), target.detach().numpy().reshape(len(target), -1)
        diff = np.subtract(p, t, dtype=np.float64)
        # one dot product per image: a score never depends on the batch it was computed in
        mse = torch.tensor([np.dot(row, row) / row.size for row in diff], dtype=torch.float64)
    else:
        diff = pred.to(torch.float64) - target.to(torch.float64)
        mse = diff.square().flatten(1).mean(1)
    with np.errstate(divide="ignore"):
        return 20.0 * torch.log10(1.0 / mse.sqrt())


class PSNR(Metric):
    def _score(self, pred: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return psnr_scores(pred, target)

    def settings(self) -> dict[str, Any]:
        return {
            "formula": "20*log10(1/RMSE)",
            "data_range": 1.0,
            "clamp": [0.0, 1.0],
            "accumulate": "float64",
        }


class SSIM(Metric):
    def _score(self, pred: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return ssim_scores(pred, target)

    def settings(self) -> dict[str, Any]:
        return {
            "window": "gaussian",
            "window_size": SSIM_WINDOW,
            "sigma": SSIM_SIGMA,
            "filtering": "valid",
            "K1": SSIM_K1,
            "K2": SSIM_K2,
            "data_range": 1.0,
            "dtype": "float32 map, float64 mean",
            "reduction": "mean over map, then over channels",
            "equivalent_to": "pytorch_msssim.ssim(x, y, data_range=1, size_average=False)",
        }


def _psnr(quantize_8bit: bool = False) -> PSNR:
    return PSNR(METRICS.meta("psnr"), quantize_8bit=quantize_8bit)


def _ssim(quantize_8bit: bool = False) -> SSIM:
    return SSIM(METRICS.meta("ssim"), quantize_8bit=quantize_8bit)


def _as_batch(image: np.ndarray, role: str) -> torch.Tensor:
    array = np.asarray(image)
    if array.ndim != 2:
        raise HmtirError(f"{role} must be an H×W array, got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]


def _numpy_score(name: str, pred: np.ndarray, target: np.ndarray) -> float:
    metric = create_metric(name)
    return float(metric(_as_batch(pred, "prediction"), _as_batch(target, "target"))[0])


def psnr_numpy(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR of two H×W arrays in [0, 1] (the registered ``psnr`` definition)."""
    return _numpy_score("psnr", pred, target)


def ssim_numpy(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two H×W arrays in [0, 1] (the registered ``ssim`` definition)."""
    return _numpy_score("ssim", pred, target)
