"""Classical destripers (wfaf, lrsid) on stripe-only degradations of held-out HIT-UAV frames.

    python benchmarks/bench_classical.py [--frames-per-group 2] [--methods wfaf,lrsid] [--device cpu]

Each frame gets the HM-TIR noise step's stripe op (hard/single-noise ranges) once per orientation
(columns and rows); we report mean PSNR of the degraded input and of each method's output, per
orientation, the orientation detector's accuracy, and seconds per frame (wall clock, frames run one by
one). Frames come from (day/night, altitude) groups disjoint from the tuning groups of
tune_classical.py, so the numbers are held out. Needs ../shared (developer-only data).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table

from hmtir.degrade.ops import Stripe
from hmtir.degrade.presets import load_preset
from hmtir.io.image import read_image
from hmtir.methods import load_method
from hmtir.methods.destripe import stripe_orientation
from hmtir.paths import shared_dir

#: (day/night, altitude) groups of ../shared/data/hit-uav used for tuning, and those held out for measuring.
TUNE_GROUPS = ("0_60", "0_100", "1_70", "1_120")
HELDOUT_GROUPS = ("0_80", "0_130", "1_90", "1_110")
ORIENTATIONS = ("column", "row")


def hit_uav_frames(groups: tuple[str, ...], per_group: int) -> list[Path]:
    """``per_group`` frames, evenly spaced, from each named group of the shared HIT-UAV folder."""
    root = shared_dir()
    if root is None or not (root / "data" / "hit-uav").is_dir():
        raise SystemExit("../shared/data/hit-uav is absent: this benchmark needs the developer data")
    frames = []
    for group in groups:
        members = sorted((root / "data" / "hit-uav").glob(f"{group}_*.jpg"))
        frames += [members[i] for i in np.linspace(0, len(members) - 1, per_group).round().astype(int)]
    return frames


def stripe_only(clean: np.ndarray, rng: np.random.Generator, axis: str) -> np.ndarray:
    """The HM-TIR stripe op alone (single-noise ranges), forced to ``axis`` ("column" or "row")."""
    params = Stripe.sample(rng, load_preset("single-noise").ranges["stripe"], clean.shape)
    params["axis"] = axis
    return Stripe.apply(clean.copy(), params)


def stripe_cases(frames: list[Path], seed: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(frame name, axis, clean, degraded) for every frame in both orientations, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    cases = []
    for path in frames:
        clean = read_image(path).data
        cases += [(path.name, axis, clean, stripe_only(clean, rng, axis)) for axis in ORIENTATIONS]
    return cases


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10.0 * np.log10(1.0 / np.mean((reference.astype(np.float64) - estimate) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-per-group", type=int, default=2)
    parser.add_argument("--methods", default="wfaf,lrsid")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    cases = stripe_cases(hit_uav_frames(HELDOUT_GROUPS, args.frames_per_group), args.seed)
    detected = sum(stripe_orientation(torch.from_numpy(deg)) == axis + "s" for _, axis, _, deg in cases)
    table = Table(
        title=f"Stripe-only, held-out HIT-UAV groups {', '.join(HELDOUT_GROUPS)} ({len(cases)} cases)"
    )
    for column in ("method", "PSNR in (col)", "PSNR out (col)", "PSNR in (row)", "PSNR out (row)", "s/frame"):
        table.add_column(column, justify="right")
    for name in args.methods.split(","):
        method = load_method(name, device=args.device)
        scores: dict[str, list[tuple[float, float]]] = {axis: [] for axis in ORIENTATIONS}
        seconds = []
        for _, axis, clean, degraded in track(cases, description=name):
            batch = torch.from_numpy(degraded)[None, None].to(args.device)
            start = time.perf_counter()
            restored = method.restore(batch, "noise", "single")
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
            scores[axis].append((psnr(clean, degraded), psnr(clean, restored[0, 0].cpu().numpy())))
        cells = [f"{np.mean([s[i] for s in scores[a]]):.2f}" for a in ORIENTATIONS for i in (0, 1)]
        table.add_row(name, *cells, f"{np.median(seconds):.3f}")
    console = Console()
    console.print(table)
    console.print(
        f"orientation detector: {detected}/{len(cases)} correct; device {args.device}, "
        f"torch threads {torch.get_num_threads()}; s/frame is the median over frames"
    )


if __name__ == "__main__":
    main()
