"""DA-CLIP universal restoration of one RGB batch: CLIP contexts once, then 100 reverse IR-SDE steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from hmtir.models.daclip.controller import DaCLIP, clip_preprocess
from hmtir.models.daclip.sde import IRSDESchedule, sample_posterior
from hmtir.models.daclip.unet import ConditionalUNet
from hmtir.models.diffusion_parts import NoiseStream, check_tiling, tiled_map


class DaclipRestorer:
    """Holds the two networks and the schedule; ``restore`` maps degraded RGB in [0, 1] to the (unclamped) x0.

    ``tile_size`` bounds memory: the U-Net then predicts the noise tile by tile (overlaps averaged) while the
    SDE state, the noise draws and the CLIP contexts stay whole-frame. ``None`` runs the whole frame at once,
    as the release does (reflect padding to a multiple of 16 inside the U-Net).
    """

    def __init__(
        self,
        clip: DaCLIP,
        unet: ConditionalUNet,
        schedule: IRSDESchedule,
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        check_tiling("DaclipRestorer", tile_size, tile_overlap)
        self.clip = clip.eval().requires_grad_(False)
        self.unet = unet.eval().requires_grad_(False)
        self.schedule = schedule
        self.tile_size = tile_size
        self.tile_overlap = tile_overlap

    def to(self, device: torch.device | str) -> DaclipRestorer:
        self.clip.to(device)
        self.unet.to(device)
        return self

    @torch.no_grad()
    def contexts(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image_context, degra_context) from the controlled CLIP, both B×512 and not normalised."""
        image_features, degra_features = self.clip.encode_image(
            clip_preprocess(rgb, self.clip.image_size), control=True
        )
        return image_features.float(), degra_features.float()

    @torch.no_grad()
    def predict_noise(
        self,
        xt: torch.Tensor,
        lq: torch.Tensor,
        t: int,
        image_context: torch.Tensor,
        degra_context: torch.Tensor,
    ) -> torch.Tensor:
        def run(ys: slice, xs: slice) -> torch.Tensor:
            return self.unet(xt[..., ys, xs], lq[..., ys, xs], float(t), degra_context, image_context)

        return tiled_map(run, *xt.shape[-2:], self.tile_size, self.tile_overlap)

    @torch.no_grad()
    def restore(
        self, rgb: torch.Tensor, seeds: Sequence[int], on_step: Callable[[int], None] | None = None
    ) -> torch.Tensor:
        """One seed per frame: the result of a frame does not depend on the rest of its batch."""
        if len(seeds) != rgb.shape[0]:
            raise ValueError(f"need one seed per frame: {len(seeds)} seeds for {rgb.shape[0]} frames")
        lq = rgb.float()
        image_context, degra_context = self.contexts(lq)
        noise = NoiseStream(seeds, lq.shape[1:], lq.device)
        return sample_posterior(
            self.schedule,
            lq,
            lambda xt, t: self.predict_noise(xt, lq, t, image_context, degra_context),
            noise,
            on_step,
        )
