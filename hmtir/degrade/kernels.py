"""Tensor kernels the batched ops share: separable Gaussian blur with OpenCV's borders, radial masks.

Kept below :mod:`hmtir.degrade.ops` (which imports them inside its torch methods) and above nothing of this
package, so the import graph of ``hmtir.degrade`` stays one-way and the numpy path never loads torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hmtir.errors import HmtirError


def gaussian_kernels(ksize: torch.Tensor, sigma: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) 1-D Gaussian kernels as OpenCV builds them for σ > 0, zero-padded to a common odd width."""
    offsets = torch.arange(width, device=sigma.device, dtype=torch.float64) - (width - 1) / 2
    weights = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma.double()[:, None] ** 2))
    weights = weights * (offsets[None, :].abs() <= (ksize[:, None] - 1) / 2)
    return (weights / weights.sum(dim=1, keepdim=True)).float()


def separable_blur(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Separable per-sample convolution with reflect-101 borders (OpenCV's BORDER_REFLECT_101)."""
    batch, _, height, width = x.shape
    pad = kernels.shape[1] // 2
    if pad >= min(height, width):
        raise HmtirError(f"blur kernel of {2 * pad + 1} px needs frames larger than {height}×{width}")
    rows = F.pad(x, (pad, pad, 0, 0), mode="reflect").view(1, batch, height, width + 2 * pad)
    rows = F.conv2d(rows, kernels.view(batch, 1, 1, -1), groups=batch)
    cols = F.pad(rows, (0, 0, pad, pad), mode="reflect")
    return F.conv2d(cols, kernels.view(batch, 1, -1, 1), groups=batch).view(batch, 1, height, width)


def radial_masks(
    centre_x: torch.Tensor, centre_y: torch.Tensor, height: int, width: int, device: torch.device
) -> torch.Tensor:
    """(B,1,H,W) masks cos(r·π/2)^4 about per-sample centres given as fractions of (W-1, H-1)."""
    cx = centre_x.float() * (width - 1)
    cy = centre_y.float() * (height - 1)
    r_max = torch.hypot(torch.maximum(cx, width - 1 - cx), torch.maximum(cy, height - 1 - cy)).clamp_min(1.0)
    ys = torch.arange(height, device=device, dtype=torch.float32).view(1, 1, height, 1)
    xs = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, 1, width)
    r = torch.sqrt((ys - cy.view(-1, 1, 1, 1)) ** 2 + (xs - cx.view(-1, 1, 1, 1)) ** 2)
    return torch.cos(r * (math.pi / 2) / r_max.view(-1, 1, 1, 1)) ** 4
