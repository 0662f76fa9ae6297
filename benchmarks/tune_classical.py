"""Grid search of the classical destripers' weights on stripe-only syntheses of the TUNING frame groups.

    python benchmarks/tune_classical.py wfaf  [--frames-per-group 2]
    python benchmarks/tune_classical.py lrsid [--frames-per-group 1]

Uses HIT-UAV groups ``TUNE_GROUPS`` only (bench_classical.py measures on the disjoint ``HELDOUT_GROUPS``),
never HM-TIR test data. Prints mean/min PSNR over both orientations for every grid point, best first; the
chosen values are written by hand into hmtir/methods/classical.yaml.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
from bench_classical import TUNE_GROUPS, hit_uav_frames, psnr, stripe_cases
from rich.console import Console
from rich.progress import track
from rich.table import Table

from hmtir.methods import load_method

GRIDS: dict[str, dict[str, list]] = {
    "wfaf": {
        "wavelet": ["db4", "db8", "db10", "db15", "sym8"],
        "levels": [3, 4, 5],
        "sigma": [0.5, 1.0, 2.0],
    },
    "lrsid": {"lambda1": [1.0, 10.0], "lambda2": [0.05, 0.07, 0.09, 0.12], "mu": [3.0, 10.0]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(GRIDS))
    parser.add_argument("--frames-per-group", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cases = stripe_cases(hit_uav_frames(TUNE_GROUPS, args.frames_per_group), args.seed)
    grid = GRIDS[args.method]
    rows = []
    for values in track(list(itertools.product(*grid.values())), description=f"tuning {args.method}"):
        overrides = dict(zip(grid, values))
        method = load_method(args.method, **overrides)
        start = time.perf_counter()
        scores = [
            psnr(clean, method.restore(torch.from_numpy(deg)[None, None], "noise", "single")[0, 0].numpy())
            for _, _, clean, deg in cases
        ]
        rows.append(
            (
                float(np.mean(scores)),
                float(np.min(scores)),
                (time.perf_counter() - start) / len(cases),
                overrides,
            )
        )
    table = Table(title=f"{args.method} on tuning groups {', '.join(TUNE_GROUPS)} ({len(cases)} cases)")
    for column in ("mean PSNR", "min PSNR", "s/frame", "parameters"):
        table.add_column(column)
    table.add_row(f"{np.mean([psnr(c, d) for _, _, c, d in cases]):.3f}", "", "", "(degraded input)")
    for mean, low, seconds, overrides in sorted(rows, key=lambda r: -r[0]):
        table.add_row(f"{mean:.3f}", f"{low:.2f}", f"{seconds:.2f}", str(overrides))
    Console().print(table)


if __name__ == "__main__":
    main()
