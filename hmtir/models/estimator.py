"""``estimator``: which steps of the HM-TIR cascade (contrast, blur, noise) a frame shows.

PPFN must be told the degradation; the paper names automatic degradation perception as its main open
limitation. This is a deliberately small answer to it: fixed whole-frame statistics that each step of the
cascade moves in a known direction, and a two-layer MLP on top that says, per step, how likely it is
present. The features are global (quantiles and means over the whole frame, at three scales), so they do
not depend on where a frame was cropped, and they work at any frame size above :data:`MIN_SIDE`:

* **contrast** (``x·α + β``): quantiles of a lightly smoothed copy (Gaussian noise would otherwise widen the
  tails), the black level, the span, clipping at 0 and 1;
* **blur** (Gaussian, 7–23 px): gradient-magnitude quantiles at scales 1, 2 and 4, and their ratios — blur
  removes fine-scale gradients first — both raw and divided by the span (contrast scales every gradient);
* **noise** (non-uniformity, stripes, Gaussian): Immerkær's Laplacian noise estimate (mean and median of
  the absolute response) at three scales, the high-passed spread of the column and row means (stripes),
  the anisotropy of the fine-scale differences, and the low-frequency spread of an 8×8 block mean grid.

The network is a :class:`torch.nn.Module` with ``config`` and ``uses_prompts`` so it is saved and loaded
as an ordinary ``hmtir-model/1`` checkpoint (:mod:`hmtir.models.checkpoint`); the feature standardisation
and the per-step decision thresholds are buffers of the checkpoint, so the file is the whole model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.errors import HmtirError
from hmtir.models import MODELS
from hmtir.vocabulary import STEPS

# The feature version and the smallest frame side are metadata of the registered model, declared (with the
# weights file) in hmtir/models/catalog.py so they are readable without torch.
_PARAMS = MODELS.meta("estimator").params
#: Smallest frame side the features are defined for (every spectral band must hold a few frequency bins).
MIN_SIDE: int = _PARAMS["min_side"]
#: Frames are subsampled to at most this many pixels for the quantiles (a sort), never for the means.
QUANTILE_PIXELS = 1 << 20
FEATURE_VERSION: int = _PARAMS["feature_version"]
#: Band edges of the spectral profile, cycles/pixel (frames of MIN_SIDE px still have bins in each).
_SPECTRUM_EDGES = tuple(float(v) for v in torch.logspace(-4, -1, 10, base=2.0))
_QUANTILES = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
_GRAD_QUANTILES = (0.5, 0.9, 0.99)
_SCALES = (1, 2, 4)
_EPS = 1e-4
#: Immerkær (1996), "Fast noise variance estimation": this kernel cancels locally linear structure.
_IMMERKAER = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
_IMMERKAER_SCALE = (torch.pi / 2) ** 0.5 / 6.0


def _quantiles(flat: torch.Tensor, qs: tuple[float, ...]) -> torch.Tensor:
    """Per-row quantiles of B×N values; rows longer than :data:`QUANTILE_PIXELS` are strided first."""
    step = max(1, -(-flat.shape[1] // QUANTILE_PIXELS))
    sample = flat[:, ::step]
    q = torch.tensor(qs, device=flat.device, dtype=sample.dtype)
    return torch.quantile(sample, q, dim=1).T  # B×len(qs)


def _log(t: torch.Tensor) -> torch.Tensor:
    return torch.log(t.clamp_min(0) + _EPS)


def frame_features(x: torch.Tensor) -> torch.Tensor:
    """B×1×H×W frames in [0, 1] → B×:func:`feature_count` statistics (float32). See the module docstring."""
    return torch.cat([spatial_features(x), spectral_features(x)], 1)


def spatial_features(x: torch.Tensor) -> torch.Tensor:
    """The quantile, gradient, noise, stripe and non-uniformity statistics (56 numbers, version 1)."""
    x = x.float()
    batch = x.shape[0]
    feats: list[torch.Tensor] = []

    # contrast: the intensity distribution of a smoothed copy (σ≈1 px box) so noise does not widen the tails
    smooth = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    q = _quantiles(smooth.flatten(1), _QUANTILES)
    span = (q[:, _QUANTILES.index(0.995)] - q[:, _QUANTILES.index(0.005)]).clamp_min(1.0 / 255)
    feats += [q, _log(span)[:, None]]
    flat = x.flatten(1)
    feats.append(
        torch.stack([(flat <= 0.5 / 255).float().mean(1), (flat >= 1 - 0.5 / 255).float().mean(1)], 1)
    )
    feats.append(torch.stack([flat.mean(1), flat.std(1)], 1))

    kernel = torch.tensor(_IMMERKAER, device=x.device, dtype=x.dtype).view(1, 1, 3, 3)
    grad_means = []
    for scale in _SCALES:
        xs = F.avg_pool2d(x, scale) if scale > 1 else x
        lap = F.conv2d(xs, kernel).abs().flatten(1) * _IMMERKAER_SCALE
        noise = torch.stack([lap.mean(1), _quantiles(lap, (0.5,))[:, 0]], 1)
        dx = (xs[..., :, 1:] - xs[..., :, :-1]).abs()
        dy = (xs[..., 1:, :] - xs[..., :-1, :]).abs()
        grad = torch.sqrt(dx[..., :-1, :] ** 2 + dy[..., :, :-1] ** 2).flatten(1)
        gq = _quantiles(grad, _GRAD_QUANTILES)
        gmean = grad.mean(1)
        grad_means.append(gmean)
        anisotropy = _log(dx.flatten(1).mean(1)) - _log(dy.flatten(1).mean(1))
        feats += [
            _log(noise),
            _log(gq),
            _log(gmean)[:, None],
            (_log(gmean) - _log(span))[:, None],
            (_log(noise[:, 1]) - _log(span))[:, None],
            anisotropy[:, None],
        ]
    feats.append(
        torch.stack([_log(grad_means[0]) - _log(grad_means[1]), _log(grad_means[1]) - _log(grad_means[2])], 1)
    )

    # stripes: column/row means with their slow trend removed; Gaussian noise alone averages away here
    for dim in (2, 3):
        profile = x.mean(dim=dim)  # B×1×L
        trend = F.avg_pool1d(F.pad(profile, (4, 4), mode="replicate"), 9, stride=1)
        hp = (profile - trend).flatten(1)
        feats.append((_log(hp.std(1)) - _log(span))[:, None])
        feats.append(_log(hp.std(1))[:, None])

    # non-uniformity: how far an 8×8 grid of block means departs from a plane (a tilt is scene content)
    grid = F.adaptive_avg_pool2d(x, 8).flatten(1)
    ys, xs_ = torch.meshgrid(
        torch.linspace(-1, 1, 8, device=x.device), torch.linspace(-1, 1, 8, device=x.device), indexing="ij"
    )
    design = torch.stack(
        [torch.ones(64, device=x.device), ys.flatten(), xs_.flatten(), (ys**2 + xs_**2).flatten()], 1
    )
    coef = torch.linalg.lstsq(design[None].expand(batch, -1, -1), grid[..., None]).solution[..., 0]
    feats.append(torch.stack([coef[:, 3], coef[:, 3] / span, _log((grid - (design @ coef.T).T).std(1))], 1))
    return torch.cat(feats, 1).float()


def spectral_features(x: torch.Tensor) -> torch.Tensor:
    """The shape of the whole frame's power spectrum, and how much of it lies on the axes (stripes).

    Blur is a Gaussian fall-off of the spectrum from ~0.07 cycles/px (σ = 3 px) up; white noise is a flat
    floor at high frequencies; the two can coexist, and this profile sees both where pixel statistics see
    a mixture. Hann-windowed, mean removed, off-axis bins only, each band's log power relative to the
    mean over all bands (so the profile does not depend on contrast). Column/row stripes put their energy on
    the fy = 0 / fx = 0 lines: two log ratios of line power to off-axis power at the same frequencies.
    """
    x = x.float()
    height, width = x.shape[-2:]
    window = torch.hann_window(height, periodic=False, device=x.device)[:, None] * torch.hann_window(
        width, periodic=False, device=x.device
    )
    power = torch.fft.rfft2((x - x.mean((2, 3), keepdim=True)) * window).abs().pow(2)[:, 0]
    fy = torch.fft.fftfreq(height, device=x.device).abs()[:, None]
    fx = torch.fft.rfftfreq(width, device=x.device)[None, :]
    radius = torch.sqrt(fy**2 + fx**2)
    off_axis = (fy >= 2.0 / height) & (fx >= 2.0 / width)
    edges = _SPECTRUM_EDGES
    in_range = off_axis & (radius >= edges[0]) & (radius < edges[-1])
    total = power[:, in_range].mean(1)
    bands = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = off_axis & (radius >= low) & (radius < high)
        bands.append(power[:, mask].mean(1) if bool(mask.any()) else total)
    profile = _log(torch.stack(bands, 1)) - _log(total)[:, None]
    high_off = off_axis & (radius >= 0.1)
    reference = power[:, high_off].mean(1)
    columns = power[:, 0, fx[0] >= 0.1].mean(1)  # fy = 0: patterns constant down each column
    rows = power[:, (fy[:, 0] >= 0.1), 0].mean(1)  # fx = 0: constant along each row
    lines = torch.stack([_log(columns) - _log(reference), _log(rows) - _log(reference)], 1)
    return torch.cat([profile, lines], 1).float()


def feature_count() -> int:
    return int(frame_features(torch.rand(1, 1, MIN_SIDE, MIN_SIDE)).shape[1])


class DegradationEstimator(nn.Module):
    """Frame statistics → standardisation → MLP → one logit per step (:data:`hmtir.vocabulary.STEPS`).

    ``forward`` returns B×3 probabilities; :meth:`present` applies the per-step thresholds (chosen on
    validation frames when the shipped weights were trained, see the model card).
    """

    uses_prompts = False

    def __init__(
        self,
        hidden: int = 64,
        features: int | None = None,
        feature_version: int = FEATURE_VERSION,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if feature_version != FEATURE_VERSION:
            raise HmtirError(
                f"this estimator was trained on features v{feature_version}, but this hmtir computes "
                f"v{FEATURE_VERSION}: use the shipped weights or retrain (benchmarks/train_estimator.py)"
            )
        features = features or feature_count()
        self.config: dict[str, Any] = {
            "hidden": hidden,
            "features": features,
            "feature_version": feature_version,
            "dropout": dropout,
        }
        self.register_buffer("feature_mean", torch.zeros(features))
        self.register_buffer("feature_std", torch.ones(features))
        self.register_buffer("thresholds", torch.full((len(STEPS),), 0.5))
        self.mlp = nn.Sequential(  # dropout: a few thousand samples, a 56-feature input; it overfits without
            nn.Linear(features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, len(STEPS)),
        )

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        return self.mlp((feats - self.feature_mean) / self.feature_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits_from_features(frame_features(x)))

    def present(self, probabilities: torch.Tensor) -> torch.Tensor:
        """B×3 booleans: which steps are judged present."""
        return probabilities >= self.thresholds


def estimator(
    hidden: int = 64,
    features: int | None = None,
    feature_version: int = FEATURE_VERSION,
    dropout: float = 0.1,
) -> DegradationEstimator:
    """An untrained estimator of this architecture (load the shipped one with :func:`hmtir.estimate.load_estimator`)."""
    return DegradationEstimator(hidden, features, feature_version, dropout)
