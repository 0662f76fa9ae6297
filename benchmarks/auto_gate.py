"""Calibrate and check the confidence gate of ``--prompts auto`` (:data:`hmtir.estimate.GATE`).

``--prompts auto`` must never score below leaving the frames alone, per subset. For every degraded frame of a
set this records the estimator's per-step probabilities and the PSNR of every answer it could give — the
frame left alone (``clean``), one pass with each step's prompt, the three SPT passes (``composite``) — with
the ``ppfn`` weights the set's own data choose (:func:`hmtir.methods.networks.choose_variant`); only the
answers a gate can reach from the verdict are computed (and the subset's own). Any gate is then scored
offline on that table. Two splits, never mixed:

* ``calib``: HIT-UAV groups 0_110 and 1_90 — the estimator's validation groups (it never trained on them;
  the restoration models did) — where the gate's levels are fitted;
* ``heldout``: groups 0_80, 1_60, 1_120 (no shipped model trained on them), where the result is measured.

Each split at three exposures (as recorded, × 0.45 official-like, AGC-stretched), every preset (``normal``,
``hard``, the three single steps; gate 0.8, seed 0), plus the clean frames (``imgs``)::

    python benchmarks/auto_gate.py --data ../shared/data/hit-uav --work /work/runs/auto-gate [--fit]

``--fit`` searches the gate levels on ``calib`` (the most permissive levels whose every subset mean is at
least identity's plus ``--margin``) and prints them; without it the shipped :data:`hmtir.estimate.GATE` is
scored. Both print the per-subset table (identity, oracle prompts, ungated auto, gated auto) for each split.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np

GROUPS = {"calib": ("0_110", "1_90"), "heldout": ("0_80", "1_60", "1_120")}
GROUP = re.compile(r"^([01])_(\d+)_")
KINDS = ("x1", "x0.45", "agc")
SUBSETS = ("imgs", "composited/normal", "composited/hard", "single/contrast", "single/blur", "single/noise")
ANSWERS = ("clean", "contrast", "blur", "noise", "composite")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else float(20 * np.log10(1.0 / np.sqrt(mse)))


def build(split: str, kind: str, data: Path, work: Path, frames: int) -> Path:
    """``work/bench/<split>-<kind>``: ``frames`` clean frames of the split's groups, every preset."""
    from train_reference import stretch_percentiles  # a sibling script: this one runs from benchmarks/

    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import read_image, write_image

    bench = work / "bench" / f"{split}-{kind}"
    if (bench / "meta").is_dir():
        return bench
    every = [
        p
        for p in sorted(data.glob("*.jpg"))
        if (m := GROUP.match(p.name)) is not None and f"{m[1]}_{m[2]}" in GROUPS[split]
    ]
    source = work / "clean" / f"{split}-{kind}"
    source.mkdir(parents=True, exist_ok=True)
    for path in every[:: max(1, len(every) // frames)][:frames]:
        x = read_image(path, luminance=True).data
        x = np.clip(stretch_percentiles(x), 0, 1) if kind == "agc" else x * float(kind[1:])
        write_image(source / f"{path.stem}.png", x, 8)
    synthesize(source, bench, presets="all", gate=0.8, seed=0, progress=False)
    return bench


def answers(bench: Path, estimator: Any) -> list[dict[str, Any]]:
    """One row per degraded frame: the estimator's probabilities and the PSNR of every possible answer."""
    import torch

    from hmtir.data.layout import list_images
    from hmtir.io.image import read_image
    from hmtir.methods import load_method
    from hmtir.vocabulary import scenario_of

    method = load_method("ppfn", device="cpu")
    choice = method.fit_to_data(bench)
    rows = []
    for subset in SUBSETS:
        for name in list_images(bench / "imgs"):
            clean = read_image(bench / "imgs" / name).data
            x = read_image(bench / subset / name).data
            estimate = estimator([x])[0]
            batch = torch.from_numpy(x)[None, None]
            row: dict[str, Any] = {"subset": subset, "name": name, "variant": choice["variant"]}
            row.update({f"p_{step}": value for step, value in estimate.scores.items()})
            for answer in candidates(estimate.present, subset):
                out = x if answer == "clean" else method(batch, answer, scenario_of(answer))[0, 0].numpy()
                row[f"psnr_{answer}"] = psnr(out, clean)
            rows.append(row)
    return rows


def candidates(present: tuple[str, ...], subset: str) -> set[str]:
    """Every answer a gate can give (the verdict with any of its steps dropped), plus the subset's own."""
    from hmtir.estimate import decide

    dropped = {decide(keep) for n in range(len(present) + 1) for keep in itertools.combinations(present, n)}
    return dropped | {"clean", oracle_label(subset)}


def table(work: Path, data: Path, frames: int) -> Any:
    """Every split × kind's answer table (cached per set in ``work/answers-<set>.parquet``)."""
    import pandas as pd

    from hmtir.estimate import load_estimator

    estimator = load_estimator()
    parts = []
    for split, kind in itertools.product(GROUPS, KINDS):
        cache = work / f"answers-{split}-{kind}.parquet"
        if not cache.is_file():
            bench = build(split, kind, data, work, frames)
            pd.DataFrame(answers(bench, estimator)).to_parquet(cache)
            print(f"{split}-{kind}: done", flush=True)
        parts.append(pd.read_parquet(cache).assign(split=split, kind=kind))
    return pd.concat(parts, ignore_index=True)


@functools.cache
def shipped_thresholds() -> dict[str, float]:
    from hmtir.estimate import load_estimator

    return load_estimator().thresholds


def chosen(frames: Any, gate: dict[str, Any] | None) -> np.ndarray:
    """The answer :func:`hmtir.estimate.decide_gated` gives each row (``gate=None``: the ungated rule)."""
    from hmtir.estimate import decide_gated

    thresholds = shipped_thresholds()
    out = []
    for row in frames.itertuples():
        scores = {"contrast": row.p_contrast, "blur": row.p_blur, "noise": row.p_noise}
        out.append(decide_gated(scores, thresholds, gate)[0])
    return np.array(out)


def scored(frames: Any, labels: np.ndarray) -> np.ndarray:
    return np.array([getattr(row, f"psnr_{label}") for row, label in zip(frames.itertuples(), labels)])


def oracle_label(subset: str) -> str:
    """The subset's own prompts (``clean`` for ``imgs``)."""
    from hmtir.vocabulary import SUBSETS as TABLE

    return "clean" if subset == "imgs" else TABLE[subset].degradation


def oracle(frames: Any) -> np.ndarray:
    return np.array([oracle_label(s) for s in frames.subset])


def report(frames: Any, gate: dict[str, Any]) -> Any:
    """Per (kind, subset): identity, oracle, ungated and gated auto PSNR, and the gated answers' counts."""
    import pandas as pd

    ungated, gated = chosen(frames, None), chosen(frames, gate)
    frames = frames.assign(
        identity=frames.psnr_clean, oracle=scored(frames, oracle(frames)), auto=scored(frames, ungated),
        gated=scored(frames, gated), answer=gated,
    )  # fmt: skip
    rows = []
    for (kind, subset), cell in frames.groupby(["kind", "subset"], sort=False):
        counts = cell.answer.value_counts()
        rows.append(
            {"kind": kind, "subset": subset, "weights": cell.variant.iloc[0],
             **{c: round(cell[c].mean(), 3) for c in ("identity", "oracle", "auto", "gated")},
             "gated - identity": round(cell.gated.mean() - cell.identity.mean(), 3),
             "answers": ", ".join(f"{k} {v}" for k, v in counts.items())}
        )  # fmt: skip
    return pd.DataFrame(rows)


def fit(frames: Any, margin: float) -> dict[str, Any]:
    """The gate levels (a grid) with the best mean over the degraded (kind, subset) cells whose worst cell
    gain over identity is at least ``margin``; within 0.01 dB of the best, the stricter levels win (leaving
    a frame alone is the safe side). Clean frames (``imgs``)
    are reported, not fitted: any change to one is a loss against a perfect score."""
    from hmtir.estimate import GATE

    best: tuple[float, ...] | None = None
    best_gate = dict(GATE)
    frames = frames[frames.subset != "imgs"]
    identity = frames.groupby(["kind", "subset"]).psnr_clean.mean()
    levels = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.01)
    for sure in itertools.product(levels, repeat=3):
        gate = {**GATE, "sure": dict(zip(("contrast", "blur", "noise"), sure))}
        values = scored(frames, chosen(frames, gate))
        cells = frames.assign(v=values).groupby(["kind", "subset"]).v.mean()
        worst = float((cells - identity).min())
        if worst < margin:
            continue
        key = (round(float(cells.mean()), 2), sum(sure))  # within 0.01 dB, the stricter gate
        if best is None or key > best:
            best, best_gate = key, gate
    return best_gate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/hit-uav"))
    parser.add_argument("--work", type=Path, default=Path("/work/runs/auto-gate"))
    parser.add_argument("--frames", type=int, default=8, help="clean frames per split and kind")
    parser.add_argument("--fit", action="store_true", help="search the gate levels on the calib split")
    parser.add_argument(
        "--margin", type=float, default=0.0, help="dB every calib cell must gain over identity"
    )
    args = parser.parse_args()
    import pandas as pd
    import torch

    from hmtir.estimate import GATE

    torch.set_num_threads(1)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    frames = table(args.work, args.data, args.frames)
    gate = fit(frames[frames.split == "calib"], args.margin) if args.fit else GATE
    print("gate:", gate)
    for split in GROUPS:
        print(f"\n{split}:")
        print(report(frames[frames.split == split], gate).to_string(index=False))


if __name__ == "__main__":
    main()
