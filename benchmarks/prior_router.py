"""Can one grey statistic of the degraded frame choose between the two shipped brightness priors?

The ``dim`` and ``agc`` pairs (hmtir/models/weights/MODEL_CARD.md) each serve one kind of frame. A per-frame
switch would serve both if the degraded frame told which kind it came from. This fits, on the even-indexed
held-out frames of every exposure_sweep cell, the statistic and threshold that maximise the mean PSNR over
the cells, and scores that switch on the odd-indexed frames, next to each prior alone and the per-frame
oracle. It reads the per-frame records exposure_sweep wrote, so run that first with the four labels:

    python benchmarks/exposure_sweep.py --work /work/runs/sweep --no-demo --model dim-ppfn=ppfn.dim \\
        --model dim-base=nafnet.dim --model agc-ppfn=ppfn.agc --model agc-base=nafnet.agc
    python benchmarks/prior_router.py --work /work/runs/sweep
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EXPOSURES = ("1", "0.7", "0.45", "agc")  # exposure_sweep's defaults; its benches are named x<exposure>
PRESETS = ("normal", "hard")
PERCENTILES = {"p0.5": 0.5, "p5": 5, "p50": 50, "p95": 95, "p99.5": 99.5}


def grey_statistics(path: Path) -> dict[str, float]:
    """Statistics a switch could read from a degraded frame alone (grey in [0, 1])."""
    from hmtir.io.image import read_image

    x = read_image(path).data.astype(np.float64)
    q = dict(zip(PERCENTILES, np.percentile(x, list(PERCENTILES.values())), strict=True))
    return {
        "mean": x.mean(),
        "std": x.std(),
        **q,
        "spread": q["p99.5"] - q["p0.5"],
        "spread90": q["p95"] - q["p5"],
    }


def frame_table(work: Path, dim: str, agc: str) -> pd.DataFrame:
    """One row per (bench, preset, frame): both priors' PSNR, identity's, the input's statistics, its half."""
    from exposure_sweep import bench_folder  # a sibling script: this one runs from benchmarks/ too

    rows = []
    for exposure in EXPOSURES:
        bench, folder = f"x{exposure}", bench_folder(exposure)
        psnr = {}
        for label in (dim, agc, "identity"):
            records = pd.read_parquet(work / "eval" / label / bench / "records.parquet")
            psnr[label] = records.set_index(["subset", "name"]).psnr
        for preset in PRESETS:
            names = sorted(psnr[dim][f"composited/{preset}"].index)
            for index, name in enumerate(names):
                key = (f"composited/{preset}", name)
                stats = grey_statistics(work / "bench" / folder / "composited" / preset / name)
                rows.append(
                    {"bench": bench, "preset": preset, "name": name, "half": index % 2,
                     "dim": psnr[dim][key], "agc": psnr[agc][key], "identity": psnr["identity"][key], **stats}
                )  # fmt: skip
    return pd.DataFrame(rows)


def cell_mean(frames: pd.DataFrame, values: np.ndarray) -> float:
    """Mean over the (bench, preset) cells of each cell's mean, so every cell weighs the same."""
    return float(pd.Series(values).groupby([frames.bench.values, frames.preset.values]).mean().mean())


def fit_switch(frames: pd.DataFrame, statistic: str) -> tuple[float, float, bool]:
    """(cell mean, threshold, agc_above): the best single-threshold switch on ``statistic``."""
    best = (-np.inf, 0.0, True)
    for threshold in np.unique(frames[statistic]):
        for agc_above in (True, False):
            score = cell_mean(frames, switched(frames, statistic, threshold, agc_above).switch.to_numpy())
            best = max(best, (score, float(threshold), agc_above))
    return best


def switched(frames: pd.DataFrame, statistic: str, threshold: float, agc_above: bool) -> pd.DataFrame:
    """``frames`` with the switch's PSNR per frame and whether it chose agc."""
    use_agc = (frames[statistic] >= threshold) == agc_above
    return frames.assign(switch=np.where(use_agc, frames.agc, frames.dim), to_agc=use_agc)


def switch_table(name: str, fit: pd.DataFrame, test: pd.DataFrame, fits: dict[str, tuple]) -> Any:
    """Every statistic's best switch: its cell mean on the fit half, then on the test half and its xagc cells."""
    from rich.table import Table

    table = Table(
        title=f"{name}: best switch per statistic, fitted on {len(fit)} frames, scored on {len(test)} (PSNR)",
        title_justify="left",
    )
    for column in ("switch to agc when", "fit mean", "test mean", "test xagc normal", "test xagc hard"):
        table.add_column(column, justify="right")
    for statistic, (score, threshold, agc_above) in sorted(fits.items(), key=lambda kv: -kv[1][0]):
        frames = switched(test, statistic, threshold, agc_above)
        agc_cells = frames[frames.bench == "xagc"].groupby("preset").switch.mean()
        table.add_row(
            f"{statistic} {'>=' if agc_above else '<'} {threshold:.4f}", f"{score:.2f}",
            f"{cell_mean(frames, frames.switch.to_numpy()):.2f}", f"{agc_cells['normal']:.2f}",
            f"{agc_cells['hard']:.2f}",
        )  # fmt: skip
    return table


def cell_table(name: str, test: pd.DataFrame, statistic: str, threshold: float, agc_above: bool) -> Any:
    """The best-fitting switch on each cell of the test half, beside each prior alone and the per-frame oracle."""
    from rich.table import Table

    frames = switched(test, statistic, threshold, agc_above).assign(oracle=np.maximum(test.agc, test.dim))
    table = Table(
        title=f"{name}, test half, switch on {statistic}: PSNR, and the share of frames it sent to agc",
        title_justify="left",
    )
    columns = ("identity", "dim", "agc", "switch", "oracle")
    for column in ("cell", *columns, "to agc"):
        table.add_column(column, justify="left" if column == "cell" else "right")
    for (bench, preset), cell in frames.groupby(["bench", "preset"], sort=False):
        table.add_row(
            f"{bench} {preset}", *(f"{cell[c].mean():.2f}" for c in columns), f"{cell.to_agc.mean():.0%}"
        )
    means = [cell_mean(frames, frames[c].to_numpy()) for c in columns]
    table.add_row("mean of cells", *(f"{m:.2f}" for m in means), f"{frames.to_agc.mean():.0%}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/work/runs/sweep"))
    parser.add_argument("--pair", action="append", default=[], metavar="NAME=DIM_LABEL,AGC_LABEL")
    args = parser.parse_args()
    from rich.console import Console

    pairs = [p.partition("=")[::2] for p in args.pair] or [
        ("ppfn", "dim-ppfn,agc-ppfn"),
        ("nafnet", "dim-base,agc-base"),
    ]
    console = Console(width=120)
    for name, labels in pairs:
        dim, agc = labels.split(",")
        frames = frame_table(args.work, dim, agc)
        fit, test = frames[frames.half == 0], frames[frames.half == 1]
        statistics = ("mean", "std", *PERCENTILES, "spread", "spread90")
        fits = {statistic: fit_switch(fit, statistic) for statistic in statistics}
        console.print(switch_table(name, fit, test, fits))
        best = max(fits, key=lambda s: fits[s][0])
        console.print(cell_table(name, test, best, *fits[best][1:]))


if __name__ == "__main__":
    main()
