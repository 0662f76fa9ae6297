"""PSNR/SSIM throughput at 640×512, hmtir's SSIM side by side with pytorch_msssim on the same inputs.

    python benchmarks/bench_metrics.py [--batch 8] [--repeats 5] [--threads N] [--device cpu|cuda]

Goal (issue 3): PSNR+SSIM ≥ 100 images/s at 640×512 on 2 CPU cores, and our SSIM at least as fast as
pytorch_msssim. Reports the median over ``--repeats`` runs after one warm-up, and the largest score
difference between the two SSIM implementations.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from pytorch_msssim import ssim as msssim_ssim
from rich.console import Console
from rich.table import Table

from hmtir.metrics import create_metric


def _median_seconds(fn: Callable[[], object], repeats: int, device: str) -> float:
    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    target = torch.rand(args.batch, 1, 512, 640, generator=gen)
    pred = (target + 0.1 * torch.randn(target.shape, generator=gen)).clamp(0, 1)
    pred, target = pred.to(args.device), target.to(args.device)
    psnr, ssim = create_metric("psnr", args.device), create_metric("ssim", args.device)

    with torch.inference_mode():
        runs = {
            "pytorch_msssim ssim": lambda: msssim_ssim(pred, target, data_range=1, size_average=False),
            "hmtir ssim": lambda: ssim(pred, target),
            "hmtir psnr": lambda: psnr(pred, target),
            "hmtir psnr+ssim": lambda: (psnr(pred, target), ssim(pred, target)),
        }
        seconds = {name: _median_seconds(fn, args.repeats, args.device) for name, fn in runs.items()}
        delta = (
            ssim(pred, target).cpu()
            - msssim_ssim(pred, target, data_range=1, size_average=False).double().cpu()
        )

    table = Table(
        title=f"640×512, batch {args.batch}, {args.device}, torch threads {torch.get_num_threads()}"
    )
    table.add_column("run")
    table.add_column("ms / image", justify="right")
    table.add_column("images / s", justify="right")
    for name, sec in seconds.items():
        table.add_row(name, f"{1000 * sec / args.batch:.1f}", f"{args.batch / sec:.1f}")
    console = Console()
    console.print(table)
    speedup = seconds["pytorch_msssim ssim"] / seconds["hmtir ssim"]
    console.print(
        f"hmtir SSIM vs pytorch_msssim: {speedup:.2f}× faster; max |Δ SSIM| = {delta.abs().max().item():.2e}"
    )


if __name__ == "__main__":
    main()
