"""Section ``degrade``: the batched torch degradation cascade, device vs CPU equality and frames/s per
batch size."""

from __future__ import annotations

import numpy as np
import torch

from .core import Row, Suite, peak_gib, realish_frames, reset_peak, tf32, time_calls

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "degrade/batch 16": "5,000 frames/s (launch-bound: ~60 kernels + 1 host sync per batch)",
    "degrade/batch 64": "12,000 frames/s",
    "degrade/batch 256": "15,000 frames/s (memory-bound, ~30 MB moved per frame)",
}


def section_degrade(suite: Suite) -> None:
    """Device vs CPU equality of ``apply_params`` on the same sampled parameters, then frames/s per batch."""
    from hmtir.degrade.presets import sample_params
    from hmtir.degrade.torch_ops import apply_params, degrade

    cfg, device = suite.config, suite.device
    clean_few, _ = realish_frames(4, cfg.degrade_size, device, seed=1)
    with suite.guard("degrade", "device vs CPU"):
        rng = np.random.default_rng(0)
        params = [sample_params("hard", rng, cfg.degrade_size, gate=1.0) for _ in range(4)]
        with tf32(False, False):  # the per-sample blur is a grouped conv: TF32 on CUDA by default
            on_device = apply_params(clean_few, params).degraded.cpu()
            on_cpu = apply_params(clean_few.cpu(), params).degraded
        diff = (on_device - on_cpu).abs().max().item()
        suite.add(
            Row(
                "degrade",
                "device vs CPU",
                max_abs=diff,
                note=f"apply_params, same sampled params, {suite.device.type} vs cpu",
            )
        )
    for batch in cfg.degrade_batches:
        with suite.guard("degrade", f"batch {batch}"):
            clean = clean_few.repeat((batch + 3) // 4, 1, 1, 1)[:batch].contiguous()
            generator = torch.Generator(device=device).manual_seed(0)
            reset_peak(device)
            first, median = time_calls(
                lambda _, c=clean, g=generator: degrade(c, "hard", g), device, cfg.repeats
            )
            h, w = cfg.degrade_size
            suite.add(
                Row(
                    "degrade",
                    f"batch {batch}",
                    batch / median,
                    "frames/s",
                    first,
                    peak_gib(device),
                    note=f"preset hard, {w}×{h}",
                )
            )
