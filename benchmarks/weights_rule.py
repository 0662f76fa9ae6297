"""Which shipped pair serves which data set: fit the per-data-set rule of ``hmtir.methods.networks``.

The ``agc`` and ``dim`` pairs learned different brightness priors (hmtir/models/weights/MODEL_CARD.md). One
degraded frame cannot tell them apart (``prior_router.py``), but a data set can: the contrast step
``(1 + c)·x + β`` draws c and β afresh per frame, so statistics pooled over a set's composited frames
average the draws out and keep what the clean frames share — their brightness. This builds small benches of
held-out frames of several kinds, scores ``ppfn.agc`` and ``ppfn.dim`` (oracle prompts) on each, computes the
set statistics of :func:`hmtir.methods.networks.set_statistics` from the degraded frames alone, and prints,
per statistic, the threshold that sends every set to its better pair (if one does) and its margin.

Kinds (16 frames each, ``normal`` and ``hard``, seed 0, gate 0.8): HIT-UAV held-out groups (0_80, 1_60, 1_120)
as recorded (``x1``), darker (``x0.7``, ``x0.45``), AGC-stretched (``agc``), AGC-stretched then a dark tone curve
(``agc-gamma1.5``: full range, most pixels dark, a bright tail); procedural ground-level scenes (seed 2; training
renders seed 1) as rendered (``scenes``) and AGC-stretched (``scenes-agc``). No HM-TIR frame is used::

    python benchmarks/weights_rule.py --data ../shared/data/hit-uav --work /work/runs/weights-rule
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

FRAMES = 16
KINDS = ("x1", "x0.7", "x0.45", "agc", "agc-gamma1.5", "scenes", "scenes-agc")
LABELS = {"agc": "ppfn.agc", "dim": "ppfn.dim"}
TIE_DB = 0.1  # a set where the two pairs score within this of each other is served by either


def clean_frame(kind: str, x: np.ndarray) -> np.ndarray:
    """A held-out frame (float [0, 1]) turned into ``kind``'s clean frame."""
    from train_reference import stretch_percentiles  # a sibling script: this one runs from benchmarks/

    if kind.startswith("x"):
        return np.clip(x * float(kind[1:]), 0, 1)
    stretched = np.clip(stretch_percentiles(x), 0, 1)
    return stretched ** float(kind.removeprefix("agc-gamma")) if "gamma" in kind else stretched


def build(kind: str, data: Path, work: Path) -> Path:
    """``work/bench/<kind>``: 16 clean frames of ``kind`` degraded with normal and hard (seed 0)."""
    from train_reference import split_groups

    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import read_image, write_image

    bench = work / "bench" / kind
    if (bench / "meta").is_dir():
        return bench
    source = work / "clean" / kind
    source.mkdir(parents=True, exist_ok=True)
    if kind.startswith("scenes"):
        rendered = work / "clean" / "scenes-rendered"
        make_scenes(rendered, per_category=FRAMES // 8, seed=2, size=(512, 640))
        paths = sorted(rendered.glob("*.png"))
    else:
        _, val_dir, _, _ = split_groups(data, work)
        every = sorted(val_dir.glob("*.jpg"))
        paths = every[:: max(1, len(every) // FRAMES)][:FRAMES]
    for path in paths:
        x = read_image(path, luminance=True).data
        y = x if kind == "scenes" else clean_frame("agc" if kind == "scenes-agc" else kind, x)
        write_image(source / f"{path.stem}.png", y, 8)
    synthesize(source, bench, presets=["normal", "hard"], seed=0, progress=False)
    return bench


def score(bench: Path, work: Path, kind: str) -> dict[str, dict[str, float]]:
    """Mean PSNR per preset of identity and both pairs (cached in work/scores.json)."""
    import hmtir

    out: dict[str, dict[str, float]] = {}
    for label in ("identity", *LABELS.values()):
        result = hmtir.evaluate(
            label, data=bench, subsets="normal,hard", device="cpu", metrics="psnr", progress=False,
            out=work / "eval" / kind / label,
        )  # fmt: skip
        out[label] = {s.split("/")[-1]: round(result.mean("psnr", s), 3) for s in result.summary["subsets"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/hit-uav"))
    parser.add_argument("--work", type=Path, default=Path("/work/runs/weights-rule"))
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    import torch

    from hmtir.methods.networks import set_statistics

    torch.set_num_threads(1)
    cache = args.work / "scores.json"
    table: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    for kind in args.kinds.split(","):
        bench = build(kind, args.data, args.work)
        if kind not in table:
            table[kind] = {"psnr": score(bench, args.work, kind)}
        table[kind]["statistics"] = set_statistics(bench)
        psnr = table[kind]["psnr"]
        means = {v: float(np.mean(list(psnr[label].values()))) for v, label in LABELS.items()}
        table[kind]["better"] = max(means, key=means.get)
        table[kind]["margin_db"] = round(abs(means["agc"] - means["dim"]), 3)
        cache.write_text(json.dumps(table, indent=1))
        print(kind, table[kind], flush=True)
    print("\n| set | identity n / h | ppfn.agc n / h | ppfn.dim n / h | better | " + " | ".join(
        next(iter(table.values()))["statistics"]) + " |")  # fmt: skip
    for kind, row in table.items():
        p = row["psnr"]
        cells = [
            f"{p[label]['normal']:.2f} / {p[label]['hard']:.2f}" for label in ("identity", *LABELS.values())
        ]
        stats = [f"{v:.3f}" for v in row["statistics"].values()]
        print(
            f"| {kind} | "
            + " | ".join(cells)
            + f" | {row['better']} (+{row['margin_db']:.2f}) | "
            + " | ".join(stats)
            + " |"
        )
    print(
        f"\nPer statistic: a threshold that sends every set to its better pair (sets where the pairs are within "
        f"{TIE_DB} dB of each other do not count), if any: the midpoint of the gap, and the gap"
    )
    for stat in next(iter(table.values()))["statistics"]:
        decided = [row for row in table.values() if row["margin_db"] >= TIE_DB]
        agc = [row["statistics"][stat] for row in decided if row["better"] == "agc"]
        dim = [row["statistics"][stat] for row in decided if row["better"] == "dim"]
        for direction, low, high in (("agc above", dim, agc), ("agc below", agc, dim)):
            if low and high and max(low) < min(high):
                print(
                    f"  {stat}: {direction} {(max(low) + min(high)) / 2:.4f} (gap {min(high) - max(low):.4f})"
                )


if __name__ == "__main__":
    main()
