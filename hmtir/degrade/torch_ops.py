"""Batched torch version of the degradation cascade, for on-the-fly training degradation on CPU or CUDA.

Two doors share one cascade kernel (:func:`_cascade`):

* :func:`degrade` samples per-sample parameters *on the batch's device* from a ``torch.Generator``
  (no host round trip per image) and can return the SPT intermediate targets and the official training
  mix (50 % single-step samples, 50 % chained composites);
* :func:`apply_params` applies parameters sampled by the numpy reference (:func:`hmtir.degrade.ops.
  sample_params`), regenerating the same noise fields, so the two implementations can be checked to agree.

Gates are applied as masks (identity kernel, zero offset, unit gain) instead of branches, so a whole batch
runs as a fixed sequence of tensor ops whatever mix of gates it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hmtir.degrade.ops import GREY, OPS, gaussian_field, stripe_fields
from hmtir.degrade.presets import Preset, load_preset
from hmtir.errors import HmtirError
from hmtir.vocabulary import COMPOSITE as COMPOSITE_LABEL
from hmtir.vocabulary import STEPS

#: Labels of the training mix: single-step samples carry their step's index, chained ones ``composite``.
MIX_LABELS = (*STEPS, COMPOSITE_LABEL)
COMPOSITE = MIX_LABELS.index(COMPOSITE_LABEL)


@dataclass
class BatchParams:
    """Per-sample parameters as tensors (B,) plus the noise fields, all on the batch's device."""

    applied: dict[str, torch.Tensor]  # op -> bool (B,)
    alpha: torch.Tensor
    beta: torch.Tensor
    ksize: torch.Tensor  # long
    sigma: torch.Tensor
    centre_x: torch.Tensor  # fraction of (W-1)
    centre_y: torch.Tensor  # fraction of (H-1)
    delta: torch.Tensor  # grey levels
    inverted: torch.Tensor  # bool
    stripe_gain: torch.Tensor  # (B,1,H,W) or broadcastable
    stripe_offset: torch.Tensor  # [0,1] units
    gaussian: torch.Tensor  # (B,1,H,W), already scaled by σ, [0,1] units


@dataclass
class DegradedBatch:
    degraded: torch.Tensor  # (B,1,H,W) in [0,1]
    steps: dict[str, torch.Tensor] | None  # after contrast, +blur, +noise (SPT targets)
    labels: torch.Tensor | None  # (B,) index into MIX_LABELS when the training mix was requested
    params: BatchParams


def gaussian_kernels(ksize: torch.Tensor, sigma: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) 1-D Gaussian kernels as OpenCV builds them for σ > 0, zero-padded to a common odd width."""
    offsets = torch.arange(width, device=sigma.device, dtype=torch.float64) - (width - 1) / 2
    weights = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma.double()[:, None] ** 2))
    weights = weights * (offsets[None, :].abs() <= (ksize[:, None] - 1) / 2)
    return (weights / weights.sum(dim=1, keepdim=True)).float()


def _blur(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Separable per-sample convolution with reflect-101 borders (OpenCV's BORDER_REFLECT_101)."""
    batch, _, height, width = x.shape
    pad = kernels.shape[1] // 2
    if pad >= min(height, width):
        raise HmtirError(f"blur kernel of {2 * pad + 1} px needs frames larger than {height}×{width}")
    rows = F.pad(x, (pad, pad, 0, 0), mode="reflect").view(1, batch, height, width + 2 * pad)
    rows = F.conv2d(rows, kernels.view(batch, 1, 1, -1), groups=batch)
    cols = F.pad(rows, (0, 0, pad, pad), mode="reflect")
    return F.conv2d(cols, kernels.view(batch, 1, -1, 1), groups=batch).view(batch, 1, height, width)


def _radial_mask(params: BatchParams, height: int, width: int, device: torch.device) -> torch.Tensor:
    cx = params.centre_x.float() * (width - 1)
    cy = params.centre_y.float() * (height - 1)
    r_max = torch.hypot(torch.maximum(cx, width - 1 - cx), torch.maximum(cy, height - 1 - cy)).clamp_min(1.0)
    ys = torch.arange(height, device=device, dtype=torch.float32).view(1, 1, height, 1)
    xs = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, 1, width)
    r = torch.sqrt((ys - cy.view(-1, 1, 1, 1)) ** 2 + (xs - cx.view(-1, 1, 1, 1)) ** 2)
    return torch.cos(r * (math.pi / 2) / r_max.view(-1, 1, 1, 1)) ** 4


def _cascade(clean: torch.Tensor, params: BatchParams, keep_steps: bool) -> tuple[torch.Tensor, dict]:
    """Contrast → blur → non-uniformity → stripes → Gaussian noise, clipping after each op."""
    batch, _, height, width = clean.shape

    def per_sample(t: torch.Tensor) -> torch.Tensor:
        return t.view(batch, 1, 1, 1)

    def on(op: str) -> torch.Tensor:
        return per_sample(params.applied[op].to(clean.dtype))

    steps: dict[str, torch.Tensor] = {}
    alpha = torch.where(params.applied["contrast"], params.alpha, torch.ones_like(params.alpha))
    beta = params.beta * params.applied["contrast"]
    x = (clean * per_sample(alpha.to(clean.dtype)) + per_sample(beta.to(clean.dtype))).clamp_(0, 1)
    if keep_steps:
        steps["contrast"] = x

    ksize = torch.where(params.applied["blur"], params.ksize, torch.ones_like(params.ksize))
    width_k = int(ksize.max().item()) if batch else 1
    if width_k > 1:
        x = _blur(x, gaussian_kernels(ksize, params.sigma, width_k)).clamp_(0, 1)
    if keep_steps:
        steps["blur"] = x

    m = _radial_mask(params, height, width, clean.device)
    m = torch.where(per_sample(params.inverted), 1 - m, m)
    x = (x + m * per_sample(params.delta.to(clean.dtype) / GREY) * on("nonuniformity")).clamp_(0, 1)
    stripe_on = on("stripe")
    x = (x + x * params.stripe_gain * stripe_on + params.stripe_offset * stripe_on).clamp_(0, 1)
    x = (x + params.gaussian * on("gaussian")).clamp_(0, 1)
    if keep_steps:
        steps["noise"] = x
    return x, steps


def _check_batch(clean: torch.Tensor) -> None:
    if clean.ndim != 4 or clean.shape[1] != 1:
        raise HmtirError(f"degrade expects a B×1×H×W batch, got shape {tuple(clean.shape)}")
    if not clean.is_floating_point():
        raise HmtirError(f"degrade expects float frames in [0, 1], got {clean.dtype}")


def apply_params(clean: torch.Tensor, params: list[dict] | dict, keep_steps: bool = False) -> DegradedBatch:
    """Apply numpy-sampled parameters (one dict per sample) with the torch cascade.

    ``clean`` is B×1×H×W (or H×W for a single dict). Noise fields are regenerated from the recorded seeds
    exactly as the numpy reference does, so results agree with :func:`hmtir.degrade.ops.apply`.
    """
    records = [params] if isinstance(params, dict) else list(params)
    if clean.ndim == 2:
        clean = clean[None, None]
    _check_batch(clean)
    batch, _, height, width = clean.shape
    if len(records) != batch:
        raise HmtirError(f"got {len(records)} parameter records for a batch of {batch}")
    device = clean.device

    def scalar(op: str, key: str, default: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        values = [float(r["ops"][op][key]) if op in r["ops"] else default for r in records]
        return torch.tensor(values, dtype=dtype, device=device)

    gains, offsets, noises = [], [], []
    for r in records:
        if list(r["shape"]) != [height, width]:
            raise HmtirError(f"parameters sampled for {r['shape']} cannot degrade a {height}×{width} frame")
        ops = r["ops"]
        gain, offset = (
            stripe_fields(ops["stripe"], (height, width)) if "stripe" in ops else (np.zeros(1),) * 2
        )
        gains.append(np.broadcast_to(gain, (height, width)))
        offsets.append(np.broadcast_to(offset, (height, width)))
        noises.append(
            gaussian_field(ops["gaussian"], (height, width)) if "gaussian" in ops else np.zeros((1, 1))
        )

    def field(arrays: list[np.ndarray]) -> torch.Tensor:
        stacked = np.stack([np.broadcast_to(a, (height, width)) for a in arrays]).astype(np.float32)
        return torch.from_numpy(stacked).to(device).view(batch, 1, height, width)

    bp = BatchParams(
        applied={
            op: torch.tensor(
                [bool(r["ops"].get(op, {}).get("applied", False)) for r in records], device=device
            )
            for op in OPS.names()
        },
        alpha=scalar("contrast", "alpha", 1.0).float(),
        beta=scalar("contrast", "beta", 0.0).float(),
        ksize=scalar("blur", "ksize", 1, torch.long),
        sigma=scalar("blur", "sigma", 1.0),
        centre_x=scalar("nonuniformity", "centre_x", 0.5),
        centre_y=scalar("nonuniformity", "centre_y", 0.5),
        delta=scalar("nonuniformity", "delta", 0.0).float(),
        inverted=scalar("nonuniformity", "inverted", 0, torch.bool),
        stripe_gain=field(gains),
        stripe_offset=field(offsets),
        gaussian=field(noises),
    )
    degraded, steps = _cascade(clean.float(), bp, keep_steps)
    return DegradedBatch(degraded, steps if keep_steps else None, None, bp)


def _uniform(n: int, bounds: tuple[float, float], g: torch.Generator, device: torch.device) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(n, generator=g, device=device, dtype=torch.float64)


def sample_batch_params(
    preset: Preset | str,
    batch: int,
    shape: tuple[int, int],
    generator: torch.Generator,
    gate: float = 0.8,
    device: torch.device | str | None = None,
) -> BatchParams:
    """Draw ``batch`` parameter sets on ``device`` with the numpy reference's distributions."""
    preset = load_preset(preset)
    gate = preset.effective_gate(gate)
    device = torch.device(device) if device is not None else generator.device
    height, width = shape
    hard = load_preset("hard").ranges  # placeholder ranges for ops a preset lacks (they stay gated off)
    ranges = {op: preset.ranges.get(op, hard[op]) for op in hard}

    def u(n: int = batch) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=device, dtype=torch.float64)

    applied = {op: (u() < gate) & torch.tensor(op in preset.ops, device=device) for op in hard}
    k_low, k_high = (int(v) // 2 for v in ranges["blur"]["ksize"])
    d_low, d_high = (int(v) for v in ranges["nonuniformity"]["delta"])
    is_column = (u() < 0.5).view(batch, 1, 1, 1)
    gain_std = _uniform(batch, ranges["stripe"]["gain_std"], generator, device).float().view(batch, 1, 1)
    offset_std = _uniform(batch, ranges["stripe"]["offset_std"], generator, device).float().view(batch, 1, 1)

    def lines(n: int) -> torch.Tensor:
        return torch.randn(batch, 1, n, generator=generator, device=device)

    def oriented(std: torch.Tensor) -> torch.Tensor:
        column, row = lines(width) * std, lines(height) * std
        return torch.where(is_column, column.view(batch, 1, 1, width), row.view(batch, 1, height, 1))

    variance = _uniform(batch, ranges["gaussian"]["variance"], generator, device)
    noise = torch.randn(batch, 1, height, width, generator=generator, device=device)
    return BatchParams(
        applied=applied,
        alpha=(1 + _uniform(batch, ranges["contrast"]["c"], generator, device)).float(),
        beta=_uniform(batch, ranges["contrast"]["beta"], generator, device).float(),
        ksize=2 * torch.randint(k_low, k_high + 1, (batch,), generator=generator, device=device) + 1,
        sigma=_uniform(batch, ranges["blur"]["sigma"], generator, device),
        centre_x=u(),
        centre_y=u(),
        delta=torch.randint(d_low, d_high + 1, (batch,), generator=generator, device=device).float(),
        inverted=u() < 0.5,
        stripe_gain=oriented(gain_std),
        stripe_offset=oriented(offset_std / GREY),
        gaussian=noise * (variance.sqrt() / GREY).float().view(batch, 1, 1, 1),
    )


def _training_mix(params: BatchParams, generator: torch.Generator) -> torch.Tensor:
    """Turn half the samples into single-step ones (that step's ops forced on, the rest off); return labels."""
    batch = params.alpha.shape[0]
    device = params.alpha.device
    single = torch.rand(batch, generator=generator, device=device) < 0.5
    step = torch.randint(0, len(STEPS), (batch,), generator=generator, device=device)
    labels = torch.where(single, step, torch.full_like(step, COMPOSITE))
    for op, mask in params.applied.items():
        in_step = step == STEPS.index(OPS.meta(op).step)
        params.applied[op] = torch.where(single, in_step, mask)
    return labels


def degrade(
    clean: torch.Tensor,
    preset: Preset | str,
    generator: torch.Generator,
    gate: float = 0.8,
    return_steps: bool = False,
    training_mix: bool = False,
) -> DegradedBatch:
    """Degrade a clean B×1×H×W batch in [0,1] with per-sample parameters drawn on its device.

    ``return_steps`` adds the SPT targets (after contrast, +blur, +noise). ``training_mix`` applies the
    official mix: each sample is, with probability 1/2, a single step on the clean frame (label = step
    index in :data:`MIX_LABELS`), otherwise the gated composite chain (label ``composite``).
    """
    _check_batch(clean)
    batch, _, height, width = clean.shape
    params = sample_batch_params(preset, batch, (height, width), generator, gate, clean.device)
    labels = _training_mix(params, generator) if training_mix else None
    degraded, steps = _cascade(clean.float(), params, return_steps)
    return DegradedBatch(degraded, steps if return_steps else None, labels, params)
