"""IR-SDE (Luo et al., ICML 2023) as used by DA-CLIP: cosine theta schedule and posterior sampling.

The forward SDE ``dx = θ_t (mu - x) dt + σ_t dW`` drifts a clean image towards the degraded one ``mu`` plus
noise; restoration runs it backwards with the optimal posterior step. Every table is float32 and built in
the same operation order as the release, so a trajectory matches the reference step for step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class IRSDESchedule:
    """Per-step tables indexed ``t = 0..T`` (``thetas_cumsum[0] == 0``) plus the time scale ``dt``."""

    thetas: torch.Tensor
    sigmas: torch.Tensor
    thetas_cumsum: torch.Tensor
    sigma_bars: torch.Tensor
    dt: torch.Tensor
    max_sigma: float  # in image units ([0, 1] scale)

    @property
    def T(self) -> int:
        return self.thetas.numel() - 1

    @classmethod
    def cosine(
        cls, T: int = 100, max_sigma: float = 50, eps: float = 0.005, s: float = 0.008
    ) -> IRSDESchedule:
        """``max_sigma`` ≥ 1 is read in 8-bit grey levels (50 → 50/255); ``eps`` is the terminal decay."""
        max_sigma = max_sigma / 255 if max_sigma >= 1 else max_sigma
        n = T + 2
        k = torch.linspace(0, n, n + 1, dtype=torch.float32)
        c = torch.cos(((k / n) + s) / (1 + s) * math.pi * 0.5) ** 2
        thetas = 1 - (c / c[0])[1:-1]
        sigmas = torch.sqrt(max_sigma**2 * 2 * thetas)
        thetas_cumsum = torch.cumsum(thetas, dim=0) - thetas[0]
        dt = -1 / thetas_cumsum[-1] * math.log(eps)
        sigma_bars = torch.sqrt(max_sigma**2 * (1 - torch.exp(-2 * thetas_cumsum * dt)))
        return cls(thetas, sigmas, thetas_cumsum, sigma_bars, dt, max_sigma)

    def tables(self) -> dict[str, torch.Tensor]:
        return {
            "thetas": self.thetas,
            "sigmas": self.sigmas,
            "thetas_cumsum": self.thetas_cumsum,
            "sigma_bars": self.sigma_bars,
            "dt": self.dt,
        }

    def start_state(self, lq: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_T = mu + max_sigma · n``: the terminal state of the forward SDE started anywhere."""
        return lq + noise * self.max_sigma

    def clean_estimate(
        self, xt: torch.Tensor, lq: torch.Tensor, noise_pred: torch.Tensor, t: int
    ) -> torch.Tensor:
        """``x0`` implied by the predicted noise at step ``t``."""
        growth = torch.exp(self.thetas_cumsum[t] * self.dt)
        return (xt - lq - self.sigma_bars[t] * noise_pred) * growth + lq

    def posterior_step(
        self, xt: torch.Tensor, lq: torch.Tensor, noise_pred: torch.Tensor, t: int, z: torch.Tensor
    ) -> torch.Tensor:
        """``x_{t-1}`` drawn from the Gaussian posterior ``q(x_{t-1} | x_t, x0)`` with standard-normal ``z``."""
        x0 = self.clean_estimate(xt, lq, noise_pred, t)
        a = torch.exp(-self.thetas[t] * self.dt)
        b = torch.exp(-self.thetas_cumsum[t] * self.dt)
        c = torch.exp(-self.thetas_cumsum[t - 1] * self.dt)
        denom = 1 - b**2
        mean = a * (1 - c**2) / denom * (xt - lq) + c * (1 - a**2) / denom * (x0 - lq) + lq
        var = (1 - a**2) * (1 - c**2) / denom
        std = (0.5 * torch.log(torch.clamp(var, min=1e-20 * self.dt))).exp() * self.max_sigma
        return mean + std * z


NoisePredictor = Callable[[torch.Tensor, int], torch.Tensor]


def sample_posterior(
    schedule: IRSDESchedule,
    lq: torch.Tensor,
    predict_noise: NoisePredictor,
    draw: Callable[[], torch.Tensor],
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Run the reverse SDE from ``x_T`` to ``x_0`` (T network calls, T+1 draws); the output is not clamped."""
    x = schedule.start_state(lq, draw())
    for t in range(schedule.T, 0, -1):
        x = schedule.posterior_step(x, lq, predict_noise(x, t), t, draw())
        if on_step is not None:
            on_step(t)
    return x
