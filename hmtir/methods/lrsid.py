"""``lrsid``: low-rank single-image decomposition destriping (Y. Chang, L. Yan, T. Wu, S. Zhong,
"Remote sensing image stripe noise removal: from image decomposition perspective", IEEE TGRS 54(12), 2016).

The observed frame is split exactly as ``O = B + S`` (no separate noise term: HM-TIR's Gaussian noise stays in
B). For per-column stripes we solve

    min_S  tau * (||D_x (O - S)||_1 + ||D_y (O - S)||_1)  +  lambda1 * ||D_y S||_1  +  lambda2 * sqrt(HW) * ||S||_*

— the clean image ``B = O - S`` is piecewise smooth (anisotropic total variation), the stripe layer is
smooth along the stripes (its vertical gradient is sparse) and low-rank (a column pattern repeated down the
frame is rank one). ADMM splits the four non-smooth terms (``D_x B``, ``D_y B``, ``D_y S``, ``S``) with one
penalty ``mu`` that grows geometrically; the S-step is a linear system made diagonal by the 2-D FFT
(periodic boundaries), the split variables are updated by soft-thresholding and singular-value
thresholding. Iteration stops when the relative change of ``S`` drops below ``tol`` or at ``max_iter``.

Singular-value thresholding uses the eigen-decomposition of the smaller Gram matrix instead of a full SVD
(see :func:`singular_value_threshold`).

Row stripes are handled on the transpose; the orientation is detected per frame by default (see
:func:`hmtir.methods.destripe.stripe_orientation`). Runs in torch on the input's device (CPU or GPU). On
contrast or blur subsets it still runs and only destripes.
"""

from __future__ import annotations

from typing import Any

import torch

from hmtir.methods import METHODS
from hmtir.methods.base import Method
from hmtir.methods.destripe import DestripeMethod, classical_params


def _dx(u: torch.Tensor) -> torch.Tensor:
    return torch.roll(u, -1, dims=1) - u


def _dy(u: torch.Tensor) -> torch.Tensor:
    return torch.roll(u, -1, dims=0) - u


def _dxt(v: torch.Tensor) -> torch.Tensor:
    return torch.roll(v, 1, dims=1) - v


def _dyt(v: torch.Tensor) -> torch.Tensor:
    return torch.roll(v, 1, dims=0) - v


def soft_threshold(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Proximal operator of ``threshold * ||x||_1``."""
    return torch.sign(x) * torch.clamp(x.abs() - threshold, min=0.0)


def singular_value_threshold(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Proximal operator of ``threshold * ||x||_*``: shrink every singular value of ``x`` by ``threshold``.

    Computed from the eigen-decomposition of the smaller Gram matrix ``x xᵀ`` and only the singular vectors
    that survive the threshold (a stripe layer keeps few): singular values below the threshold are zeroed
    anyway, so the precision the Gram matrix loses on them does not matter, and it is 10-30x faster than
    ``torch.linalg.svd`` on a 512×640 frame on CPU.
    """
    wide = x.shape[0] <= x.shape[1]
    gram = x @ x.T if wide else x.T @ x
    eigenvalues, vectors = torch.linalg.eigh(gram)
    sigma = eigenvalues.clamp(min=0.0).sqrt()
    keep = sigma > threshold
    vectors, scale = vectors[:, keep], 1.0 - threshold / sigma[keep]
    if wide:  # x = U Σ Vᵀ with U = eigenvectors of x xᵀ: shrink along U
        return vectors @ (scale[:, None] * (vectors.T @ x))
    return ((x @ vectors) * scale) @ vectors.T


def lrsid_columns(
    observed: torch.Tensor,
    *,
    tau: float,
    lambda1: float,
    lambda2: float,
    mu: float,
    mu_growth: float,
    mu_max: float,
    max_iter: int,
    tol: float,
) -> tuple[torch.Tensor, int]:
    """Destripe an H×W frame with per-column stripes; returns ``(B, iterations run)``."""
    height, width = observed.shape
    device, dtype = observed.device, observed.dtype
    ky = torch.arange(height, device=device, dtype=dtype)[:, None]
    kx = torch.arange(width // 2 + 1, device=device, dtype=dtype)[None, :]
    eig_dy = 2.0 - 2.0 * torch.cos(2.0 * torch.pi * ky / height)  # spectrum of D_y^T D_y
    eig_dx = 2.0 - 2.0 * torch.cos(2.0 * torch.pi * kx / width)  # spectrum of D_x^T D_x
    # Normal matrix of the S-step: D_x^T D_x + D_y^T D_y (TV of B) + D_y^T D_y (stripe smoothness) + I.
    denominator = eig_dx + 2.0 * eig_dy + 1.0

    grad_x_obs, grad_y_obs = _dx(observed), _dy(observed)
    stripes = torch.zeros_like(observed)
    low_rank = torch.zeros_like(observed)
    split_bx, split_by, split_sy = (torch.zeros_like(observed) for _ in range(3))
    dual_bx, dual_by, dual_sy, dual_s = (torch.zeros_like(observed) for _ in range(4))

    # ||S||_* of a repeated column pattern grows like sqrt(H·W) while the l1 terms grow like H·W: scaling
    # lambda2 keeps the balance, and so the tuned default, independent of the frame size.
    nuclear_weight = lambda2 * (height * width) ** 0.5
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        previous = stripes
        rhs = (
            _dxt(grad_x_obs - split_bx + dual_bx / mu)
            + _dyt(grad_y_obs - split_by + dual_by / mu)
            + _dyt(split_sy - dual_sy / mu)
            + (low_rank - dual_s / mu)
        )
        stripes = torch.fft.irfft2(torch.fft.rfft2(rhs) / denominator, s=(height, width))

        grad_x_clean = grad_x_obs - _dx(stripes)
        grad_y_clean = grad_y_obs - _dy(stripes)
        grad_y_stripes = _dy(stripes)
        split_bx = soft_threshold(grad_x_clean + dual_bx / mu, tau / mu)
        split_by = soft_threshold(grad_y_clean + dual_by / mu, tau / mu)
        split_sy = soft_threshold(grad_y_stripes + dual_sy / mu, lambda1 / mu)
        low_rank = singular_value_threshold(stripes + dual_s / mu, nuclear_weight / mu)

        dual_bx = dual_bx + mu * (grad_x_clean - split_bx)
        dual_by = dual_by + mu * (grad_y_clean - split_by)
        dual_sy = dual_sy + mu * (grad_y_stripes - split_sy)
        dual_s = dual_s + mu * (stripes - low_rank)
        mu = min(mu * mu_growth, mu_max)

        change = torch.linalg.vector_norm(stripes - previous) / torch.linalg.vector_norm(stripes).clamp(
            min=1e-12
        )
        if iterations > 1 and float(change) < tol:
            break
    return observed - stripes, iterations


class LRSID(DestripeMethod):
    """ADMM solver of the LRSID model on the input's device; the last frame's iteration count is kept."""

    last_iterations: int = 0

    def destripe_columns(self, image: torch.Tensor) -> torch.Tensor:
        p = self.params
        keys = ("tau", "lambda1", "lambda2", "mu", "mu_growth", "mu_max", "max_iter", "tol")
        clean, self.last_iterations = lrsid_columns(image, **{k: p[k] for k in keys})
        return clean


def lrsid(**overrides: Any) -> Method:
    return LRSID(METHODS.meta("lrsid"), classical_params("lrsid", **overrides))
