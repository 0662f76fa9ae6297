"""CPU speed of the PPFN models on one 640×512 frame: compact PPFN-NAFNet (SPT, 3 passes) vs references.

Goal (issue 4): the compact reference model runs SPT on a 640×512 frame in ≤1.5 s on 2 CPU cores.
Rows, measured in one run: compact NAFNet baseline (1 pass), compact PPFN-NAFNet SPT (3 passes) and,
unless --skip-full, the released-size Restormer-PPFN SPT (3 passes; random weights, same cost).

    python benchmarks/bench_models.py [--threads 2] [--repeats 3] [--skip-full]

Reports parameters, wall seconds per frame (median) and CPU seconds (process time, all threads).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hmtir.models import create_model
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import spt_restore
from hmtir.runtime import count_parameters


def time_frame(name: str, degradation: str, repeats: int) -> tuple[int, float, float]:
    torch.manual_seed(0)
    model = create_model(name).eval()
    bank = PromptBank.seeded()
    frame = torch.rand(1, 1, 512, 640)
    walls, cpus = [], []
    with torch.inference_mode():
        spt_restore(model, bank, frame, degradation)  # warm-up (allocator, oneDNN kernels)
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            spt_restore(model, bank, frame, degradation)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return count_parameters(model), statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--skip-full", action="store_true", help="skip the 26.6 M-parameter Restormer-PPFN row"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [("nafnet", "composite", args.repeats), ("ppfn_nafnet", "composite", args.repeats)]
    if not args.skip_full:
        rows.append(("ppfn_restormer", "composite", 1))
    print(f"torch {torch.__version__}, {args.threads} thread(s), 1×1×512×640 float32, SPT composite")
    print(f"{'model':<16}{'passes':>7}{'params':>13}{'wall s/frame':>14}{'CPU s/frame':>13}")
    for name, degradation, repeats in rows:
        params, wall, cpu = time_frame(name, degradation, repeats)
        passes = 3 if name.startswith("ppfn_") else 1
        print(f"{name:<16}{passes:>7}{params:>13,}{wall:>14.3f}{cpu:>13.3f}")


if __name__ == "__main__":
    main()
