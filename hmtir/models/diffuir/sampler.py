"""DiffUIR's residual diffusion and its deterministic 3-step DDIM-style sampler.

The U-Net predicts the residual ``R̂ = I_in − I_0`` (in [-1, 1] units); with eta = 0 each step is
``x ← x − (A_t − A_t')·R̂ + (D_t − D_t')·I_in`` and the last one jumps to ``clamp(I_in − R̂)``. The only
randomness is the start state's single normal draw. Tables are float32 and built as the release builds
them, so the per-step constants equal the reference's (``A`` at the sampled steps, ``D`` everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from hmtir.models.diffuir.unet import DiffuirUNet
from hmtir.models.diffusion_parts import NoiseStream, check_tiling, tiled_map

ResidualPredictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ResidualSchedule:
    """``alphas_cumsum`` (A_t = 1 − √ᾱ_t), ``delta_cumsum`` (D_t) and the (t, t') pairs the sampler visits."""

    alphas_cumsum: torch.Tensor
    delta_cumsum: torch.Tensor
    sum_scale: float
    time_pairs: tuple[tuple[int, int], ...]

    @property
    def timesteps(self) -> int:
        return self.alphas_cumsum.numel()

    @classmethod
    def build(
        cls,
        timesteps: int = 1000,
        sampling_timesteps: int = 3,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        delta_start: float = 1e-6,
        delta_end: float = 1.8e-3,
        sum_scale: float = 0.01,
        ddim_eta: float = 0.0,
    ) -> ResidualSchedule:
        """The release's tables; only eta = 0 (no per-step noise) is implemented, as the release samples."""
        if ddim_eta != 0.0:
            raise ValueError(f"only deterministic sampling (ddim_eta 0) is implemented, got {ddim_eta}")
        if not 1 <= sampling_timesteps <= timesteps:
            raise ValueError(f"sampling_timesteps must be in [1, {timesteps}], got {sampling_timesteps}")
        betas = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float32)
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        alphas_cumsum = 1 - alphas_cumprod.sqrt()
        delta_cumsum = (
            torch.linspace(delta_start, delta_end, timesteps, dtype=torch.float32).cumsum(0).clamp(0, 1)
        )
        # Evenly spaced times from T-1 down to -1 (truncated towards zero), visited as consecutive pairs.
        times = [int(t) for t in torch.linspace(-1, timesteps - 1, sampling_timesteps + 1).tolist()][::-1]
        pairs = tuple(zip(times[:-1], times[1:], strict=True))
        return cls(alphas_cumsum, delta_cumsum, float(sum_scale), pairs)

    def start_state(self, xin: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_T = (1 − D_{T-1})·I_in + √sum_scale·ε``: the degraded image, shrunk, plus a little noise."""
        return (1 - self.delta_cumsum[-1]) * xin + math.sqrt(self.sum_scale) * noise

    def time_condition(self, t: int, batch: int, device: torch.device | str) -> torch.Tensor:
        """What the U-Net sees as time: ``A_t·T`` as a float (not the integer step)."""
        return (self.alphas_cumsum[t] * self.timesteps).expand(batch).to(device)

    def step(
        self, x: torch.Tensor, xin: torch.Tensor, residual: torch.Tensor, t: int, t_next: int
    ) -> torch.Tensor:
        """One eta = 0 update; the last one (t' = −1) jumps to the clean estimate ``clamp(I_in − R̂)``."""
        if t_next < 0:
            return (xin - residual).clamp(-1, 1)
        alpha = self.alphas_cumsum[t] - self.alphas_cumsum[t_next]
        delta = self.delta_cumsum[t] - self.delta_cumsum[t_next]
        return x - alpha * residual + delta * xin


def sample_residual(
    schedule: ResidualSchedule,
    xin: torch.Tensor,
    predict_residual: ResidualPredictor,
    noise: torch.Tensor,
    trajectory: list[torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Run the sampler on ``xin`` (degraded, in [-1, 1]); returns the final state in [-1, 1].

    ``predict_residual(cat[x, xin], time)`` is the U-Net (maybe tiled). ``trajectory``, when given, receives
    the start state and every later state, as the release's ``sample()`` returns them.
    """
    x = schedule.start_state(xin, noise)
    if trajectory is not None:
        trajectory.append(x)
    for index, (t, t_next) in enumerate(schedule.time_pairs):
        time = schedule.time_condition(t, xin.shape[0], xin.device)
        residual = predict_residual(torch.cat((x, xin), dim=1), time).clamp(-1, 1)
        x = schedule.step(x, xin, residual, t, t_next)
        if trajectory is not None:
            trajectory.append(x)
        if on_step is not None:
            on_step(index)
    return x


class DiffuirRestorer:
    """The U-Net plus the schedule: ``restore`` maps degraded RGB in [0, 1] to restored RGB in [0, 1].

    ``tile_size`` bounds memory: each U-Net call then runs on overlapping tiles (overlaps averaged) while the
    diffusion state and its noise stay whole-frame. Tiles see their own GroupNorm statistics and middle
    attention, so tiled results differ from whole-frame ones; ``None`` (whole frame, reflect-padded to a
    multiple of 16 inside the U-Net) is what the release does.
    """

    def __init__(
        self,
        unet: DiffuirUNet,
        schedule: ResidualSchedule,
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        check_tiling("DiffuirRestorer", tile_size, tile_overlap)
        self.unet = unet.eval().requires_grad_(False)
        self.schedule = schedule
        self.tile_size = tile_size
        self.tile_overlap = tile_overlap

    def to(self, device: torch.device | str) -> DiffuirRestorer:
        self.unet.to(device)
        return self

    @torch.no_grad()
    def predict_residual(self, x: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        def run(rows: slice, cols: slice) -> torch.Tensor:
            return self.unet(x[..., rows, cols], time)

        return tiled_map(run, *x.shape[-2:], self.tile_size, self.tile_overlap)

    @torch.no_grad()
    def restore(
        self,
        rgb: torch.Tensor,
        seeds: Sequence[int],
        trajectory: list[torch.Tensor] | None = None,
        on_step: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """One seed per frame, each drawing its own noise, so a frame's result does not depend on its batch."""
        if len(seeds) != rgb.shape[0]:
            raise ValueError(f"need one seed per frame: {len(seeds)} seeds for {rgb.shape[0]} frames")
        xin = rgb.float() * 2 - 1
        noise = NoiseStream(seeds, xin.shape[1:], xin.device)()
        out = sample_residual(self.schedule, xin, self.predict_residual, noise, trajectory, on_step)
        return (out + 1) / 2
