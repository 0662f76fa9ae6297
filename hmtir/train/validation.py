"""Validation during training: held-out frames degraded once, scored (PSNR/SSIM) as a benchmark would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from hmtir.data.layout import CLEAN_DIR, list_images
from hmtir.degrade.torch_ops import degrade
from hmtir.errors import HmtirError
from hmtir.io.image import read_image
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import input_statistics, spt_restore
from hmtir.train.batches import derived_seed
from hmtir.train.config import TrainConfig


@dataclass
class ValidationSet:
    """Held-out frames degraded once (fixed seed) so every validation scores the same inputs."""

    degraded: list[torch.Tensor]
    clean: list[torch.Tensor]
    preset: str

    @classmethod
    def build(cls, folder: Path, config: TrainConfig) -> ValidationSet:
        if not folder.is_dir():
            raise HmtirError(f"--val-data {folder} is not a folder of clean frames")
        root = folder / CLEAN_DIR if (folder / CLEAN_DIR).is_dir() else folder
        names = list_images(root)[: config.val_max_frames]
        if not names:
            raise HmtirError(f"--val-data {folder} holds no images")
        generator = torch.Generator().manual_seed(derived_seed(config.seed, 7919))
        degraded, clean = [], []
        for name in names:
            image = torch.from_numpy(read_image(root / name, luminance=True).data)[None, None]
            if config.val_crop:
                height, width = image.shape[-2:]
                size_h, size_w = min(config.val_crop, height), min(config.val_crop, width)
                top, left = (height - size_h) // 2, (width - size_w) // 2
                image = image[..., top : top + size_h, left : left + size_w].contiguous()
            degraded.append(degrade(image, config.val_preset, generator, gate=config.gate).degraded)
            clean.append(image)
        return cls(degraded, clean, config.val_preset)

    def score(
        self,
        model: PromptableNet,
        bank: PromptBank | None,
        device: torch.device,
        iterations: int | None = None,
    ) -> dict[str, float]:
        from hmtir.metrics import create_metric
        from hmtir.models.ppfn import pad_to_multiple

        metrics = {name: create_metric(name) for name in ("psnr", "ssim")}
        totals = {name: 0.0 for name in metrics}
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            for degraded, clean in zip(self.degraded, self.clean):
                degraded = degraded.to(device)
                stats = input_statistics(model, degraded)
                padded, (height, width) = pad_to_multiple(degraded, model.size_multiple)
                out = (
                    spt_restore(
                        model,
                        bank,
                        padded,
                        "composite",
                        "composite",
                        iterations=iterations,
                        frame_stats=stats,
                    )[..., :height, :width]
                    .float()
                    .cpu()
                )
                for name, metric in metrics.items():
                    totals[name] += float(metric(out, clean)[0])
        model.train(was_training)
        return {f"val/{name}": total / len(self.degraded) for name, total in totals.items()}
