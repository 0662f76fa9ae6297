"""Section ``metrics``: PSNR+SSIM images/s on the device, and the device scores against the CPU's."""

from __future__ import annotations

from .core import Row, Suite, realish_frames, time_calls

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "metrics/psnr+ssim": "3,000 images/s (SSIM: 5 maps x 22 shifted adds, memory-bound)",
}


def section_metrics(suite: Suite) -> None:
    """PSNR+SSIM throughput on the device, with the largest device-vs-CPU score difference."""
    from hmtir.metrics import create_metric

    cfg, device = suite.config, suite.device
    clean, degraded = realish_frames(min(cfg.metric_batch, 8), cfg.infer_size, device, seed=2)
    reps = (cfg.metric_batch + clean.shape[0] - 1) // clean.shape[0]
    pred, target = (t.repeat(reps, 1, 1, 1)[: cfg.metric_batch].contiguous() for t in (degraded, clean))
    metrics = [create_metric(name, device=str(device)) for name in ("psnr", "ssim")]
    with suite.guard("metrics", "psnr+ssim"):
        on_device = [m(pred[:4], target[:4]).cpu() for m in metrics]
        on_cpu = [create_metric(m.meta.name, device="cpu")(pred[:4].cpu(), target[:4].cpu()) for m in metrics]
        diff = max((a - b).abs().max().item() for a, b in zip(on_device, on_cpu))
        batches = max(1, cfg.metric_images // cfg.metric_batch)

        def score(_: int) -> None:
            for _ in range(batches):
                for m in metrics:
                    m(pred, target)

        first, median = time_calls(score, device, max(2, cfg.repeats // 2))
        h, w = cfg.infer_size
        suite.add(
            Row(
                "metrics",
                "psnr+ssim",
                batches * cfg.metric_batch / median,
                "images/s",
                first,
                max_abs=diff,
                note=f"batch {cfg.metric_batch} at {w}×{h}; max abs = device vs CPU scores",
            )
        )
