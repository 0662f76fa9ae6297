"""Train the shipped degradation estimator (``hmtir/models/weights/estimator.pt``), resumably, on one CPU thread.

    python benchmarks/train_estimator.py --data ../shared/data/hit-uav --work /work/runs/estimator [--install]

Data. Clean sources: HIT-UAV frames of 10 (day/night × altitude) groups for training and 2 more for
validation (the groups the shipped restoration models hold out — ``0_80``, ``1_60``, ``1_120`` — are never
read here; ``benchmarks/bench_estimator.py`` measures on them), plus procedural scenes of the 8 categories
(``hmtir.data.scenes``; training seed 1, validation seed 2). Each sample is a random crop (35–100 % of each
side, 30 % whole frames; 30 % first downscaled 0.5–0.9×), flipped, with a *clean* intensity variation (official-like exposure
×0.45–1, or a percentile restretch with black level ≤ 0.15 and white ≥ 0.6, and a gamma 0.8–1.25) and
faint camera noise (σ ≤ 1.5 grey levels), then degraded by the batched cascade
(:func:`hmtir.degrade.torch_ops.degrade`) at the benchmark's ranges:

    20 % clean · 15 % single-contrast · 15 % single-blur · 15 % single-noise · 35 % normal/hard at gate 0.8

Labels are the steps actually applied (a gate-0.8 composite can be a partial cascade, even one step), so the
estimator learns what a frame shows, not which subset it came from. 85 % of samples are rounded to 8 bits
(what benchmark PNGs and camera exports hold).

Stages, each resumable: (1) shards of samples → ``WORK/shards/{train,val}_NNN.npz`` (8-bit frames, labels and
the features); (2) fit the MLP (full-batch AdamW, BCE, dropout, early stopping on validation BCE) and choose per-step thresholds on the validation
shards for the best 5-way accuracy → ``WORK/estimator.pt`` + ``WORK/train_report.json``; ``--install``
copies the checkpoint into ``hmtir/models/weights/``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

HELD_OUT_GROUPS = ("0_80", "1_60", "1_120")  # as the shipped restoration models: never read here
VAL_GROUPS = ("0_110", "1_90")
GROUP = re.compile(r"^([01])_(\d+)_")
SHARD = 250
KINDS = (
    ("clean", None, 0.20),
    ("single-contrast", "single-contrast", 0.15),
    ("single-blur", "single-blur", 0.15),
    ("single-noise", "single-noise", 0.15),
    ("normal", "normal", 0.175),
    ("hard", "hard", 0.175),
)
NOISE_OPS = ("nonuniformity", "stripe", "gaussian")


def hit_uav_split(data: Path) -> dict[str, list[Path]]:
    split: dict[str, list[Path]] = {"train": [], "val": []}
    for path in sorted(data.glob("*.jpg")):
        match = GROUP.match(path.name)
        if match is None:
            continue
        group = f"{match[1]}_{match[2]}"
        if group in HELD_OUT_GROUPS:
            continue
        split["val" if group in VAL_GROUPS else "train"].append(path)
    return split


def load_sources(data: Path, split: str, per_category: int) -> list[tuple[str, np.ndarray]]:
    from hmtir.data.scenes import SCENE_CATEGORIES, render_scene
    from hmtir.io.image import read_image

    frames = [(p.name, read_image(p, luminance=True).data) for p in hit_uav_split(data)[split]]
    seed = 1 if split == "train" else 2
    frames += [
        (f"scene:{c}:{seed}:{k}", render_scene(c, seed, index=k))
        for c in SCENE_CATEGORIES
        for k in range(per_category)
    ]
    return frames


def clean_variant(frame: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A crop with a clean intensity variation: what a camera with another AGC or exposure would give."""
    import cv2

    x = frame
    if rng.random() < 0.3:
        factor = rng.uniform(0.5, 0.9)
        x = cv2.resize(x, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    h, w = x.shape
    whole = rng.random() < 0.3  # test frames are whole frames: keep some
    ch = h if whole else int(max(96, min(h, round(h * rng.uniform(0.35, 1.0)))))
    cw = w if whole else int(max(96, min(w, round(w * rng.uniform(0.35, 1.0)))))
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    x = x[y0 : y0 + ch, x0 : x0 + cw]
    if rng.random() < 0.5:
        x = x[:, ::-1]
    if rng.random() < 0.5:
        x = x[::-1, :]
    x = np.ascontiguousarray(x, dtype=np.float32)
    roll = rng.random()
    if roll < 0.25:
        x, how = x * rng.uniform(0.45, 1.0), "exposure"
    elif roll < 0.5:
        lo, hi = np.percentile(x, (0.5, 99.5))
        black, white = rng.uniform(0.0, 0.15), rng.uniform(0.6, 1.0)
        gamma = rng.uniform(0.8, 1.25)
        u = np.clip((x - lo) / max(hi - lo, 1e-3), 0, 1) ** gamma
        x, how = black + (white - black) * u, "restretch"
    else:
        how = "as-is"
    if rng.random() < 0.5:
        x = x + rng.normal(0, rng.uniform(0, 1.5) / 255, x.shape)
    return np.clip(x, 0, 1).astype(np.float32), how


def make_shard(sources: list[tuple[str, np.ndarray]], split: str, index: int, seed: int) -> dict[str, Any]:
    import torch

    from hmtir.degrade.torch_ops import degrade
    from hmtir.models.estimator import frame_features

    rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    probabilities = np.array([p for *_, p in KINDS])
    frames, labels, info, feats = {}, [], [], []
    for k in range(SHARD):
        name, source = sources[int(rng.integers(len(sources)))]
        clean, how = clean_variant(source, rng)
        kind, preset, _ = KINDS[int(rng.choice(len(KINDS), p=probabilities / probabilities.sum()))]
        x = torch.from_numpy(clean)[None, None]
        if preset is None:
            degraded, present = x, [False, False, False]
        else:
            out = degrade(x, preset, generator, gate=0.8)
            applied = {op: bool(v[0]) for op, v in out.params.applied.items()}  # only the preset's ops
            degraded = out.degraded
            present = [
                applied.get("contrast", False),
                applied.get("blur", False),
                any(applied.get(op, False) for op in NOISE_OPS),
            ]
        array = degraded[0, 0].numpy()
        quantised = rng.random() < 0.85
        if quantised:
            array = np.rint(array * 255) / 255
        feats.append(frame_features(torch.from_numpy(array.astype(np.float32))[None, None])[0].numpy())
        frames[f"f{k:04d}"] = np.rint(array * 255).astype(np.uint8) if quantised else array.astype(np.float16)
        labels.append(present)
        info.append({"source": name, "kind": kind, "clean": how, "shape": list(array.shape), "q8": quantised})
    return {
        "frames": frames,
        "labels": np.array(labels, dtype=np.float32),
        "features": np.stack(feats).astype(np.float32),
        "info": json.dumps(info),
    }


def save_shard(path: Path, shard: dict[str, Any]) -> None:
    from hmtir.io.atomic import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(
            tmp,
            labels=shard["labels"],
            features=shard["features"],
            info=np.array(shard["info"]),
            **shard["frames"],
        )


def generate(work: Path, data: Path, shards: dict[str, int], seed: int, per_category: dict[str, int]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    folder = work / "shards"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [
        (s, i) for s, n in shards.items() for i in range(n) if not (folder / f"{s}_{i:03d}.npz").is_file()
    ]
    if not todo:
        return
    sources = {s: load_sources(data, s, per_category[s]) for s in {s for s, _ in todo}}
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("shards", total=len(todo))
        for split, index in todo:
            start = time.perf_counter()
            save_shard(folder / f"{split}_{index:03d}.npz", make_shard(sources[split], split, index, seed))
            bar.console.log(f"{split}_{index:03d}: {time.perf_counter() - start:.0f} s")
            bar.advance(task)


def shard_features(path: Path) -> np.ndarray:
    """The shard's features at the current version; shards written with version-1 features (56 spatial
    numbers) get the spectral ones computed from their stored frames and cached beside them."""
    import torch

    from hmtir.models.estimator import FEATURE_VERSION, feature_count, spectral_features

    with np.load(path) as z:
        feats = z["features"]
        if feats.shape[1] == feature_count():
            return feats
        cache = path.with_suffix(f".v{FEATURE_VERSION}.npy")
        if cache.is_file():
            return np.load(cache)
        frames = [z[f"f{k:04d}"] for k in range(len(feats))]
    extra = []
    for frame in frames:
        x = frame.astype(np.float32) / 255 if frame.dtype == np.uint8 else frame.astype(np.float32)
        extra.append(spectral_features(torch.from_numpy(x)[None, None])[0].numpy())
    full = np.concatenate([feats, np.stack(extra)], 1).astype(np.float32)
    np.save(cache, full)
    return full


def load_split(work: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    feats, labels, info = [], [], []
    for path in sorted((work / "shards").glob(f"{split}_*.npz")):
        feats.append(shard_features(path))
        with np.load(path) as z:
            labels.append(z["labels"])
            info += json.loads(str(z["info"]))
    return np.concatenate(feats), np.concatenate(labels), info


def decide(present: np.ndarray) -> np.ndarray:
    """N×3 booleans → index into (clean, contrast, blur, noise, composite)."""
    count = present.sum(1)
    single = np.argmax(present, 1) + 1
    return np.where(count == 0, 0, np.where(count == 1, single, 4))


def choose_thresholds(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Coordinate ascent over per-step thresholds for the best 5-way accuracy on validation samples."""
    truth = decide(labels > 0.5)
    thresholds = np.full(3, 0.5)
    grid = np.linspace(0.1, 0.9, 33)
    best = float((decide(probs >= thresholds) == truth).mean())
    for _ in range(3):
        for step in range(3):
            for value in grid:
                trial = thresholds.copy()
                trial[step] = value
                accuracy = float((decide(probs >= trial) == truth).mean())
                if accuracy > best + 1e-9:
                    best, thresholds = accuracy, trial
    return thresholds, best


def fit(
    work: Path, hidden: int, steps: int, seed: int, dropout: float = 0.1, weight_decay: float = 0.05
) -> dict[str, Any]:
    """Full-batch AdamW on BCE; the weights kept are those of the best validation BCE (checked every 25 steps)."""
    import torch

    from hmtir.models import create_model
    from hmtir.models.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    xt, yt, _ = load_split(work, "train")
    xv, yv, info_v = load_split(work, "val")
    model = create_model("estimator", hidden=hidden, features=xt.shape[1], dropout=dropout)
    mean, std = xt.mean(0), xt.std(0) + 1e-6
    model.feature_mean.copy_(torch.from_numpy(mean))
    model.feature_std.copy_(torch.from_numpy(std))
    xt_t, yt_t, xv_t, yv_t = map(torch.from_numpy, (xt, yt, xv, yv))
    optimiser = torch.optim.AdamW(model.mlp.parameters(), lr=3e-3, weight_decay=weight_decay)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor], int] = (float("inf"), {}, 0)
    for step in range(steps):
        model.train()
        loss = bce(model.logits_from_features(xt_t), yt_t)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 25 == 0 or step == steps - 1:
            model.eval()
            with torch.no_grad():
                val = float(bce(model.logits_from_features(xv_t), yv_t))
            history.append({"step": step, "train_bce": float(loss.detach()), "val_bce": val})
            if val < best[0]:
                best = (val, {k: v.clone() for k, v in model.state_dict().items()}, step)
    model.load_state_dict(best[1])
    model.eval()
    with torch.no_grad():
        pv = torch.sigmoid(model.logits_from_features(xv_t)).numpy()
    thresholds, accuracy = choose_thresholds(pv, yv)
    model.thresholds.copy_(torch.from_numpy(thresholds).float())
    per_step = ((pv >= thresholds) == (yv > 0.5)).mean(0)
    report = {
        "train_samples": int(len(xt)),
        "val_samples": int(len(xv)),
        "hidden": hidden,
        "dropout": dropout,
        "weight_decay": weight_decay,
        "steps": steps,
        "best_step": best[2],
        "best_val_bce": round(best[0], 5),
        "seed": seed,
        "thresholds": thresholds.round(4).tolist(),
        "val_accuracy_5way": accuracy,
        "val_accuracy_at_0.5": float((decide(pv >= 0.5) == decide(yv > 0.5)).mean()),
        "val_step_accuracy": dict(zip(("contrast", "blur", "noise"), per_step.round(4).tolist())),
        "history": history,
        "val_kinds": sorted({i["kind"] for i in info_v}),
    }
    meta = {
        "recipe": "benchmarks/train_estimator.py",
        "data": "HIT-UAV (CC BY 4.0) groups except 0_80, 1_60, 1_120; procedural scenes seeds 1 (train), 2 (val)",
        "mix": {kind: p for kind, _, p in KINDS},
        **{k: v for k, v in report.items() if k != "history"},
    }
    save_checkpoint(work / "estimator.pt", "estimator", model, meta=meta)
    (work / "train_report.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="HIT-UAV frames (../shared/data/hit-uav)")
    parser.add_argument("--work", type=Path, default=Path("/work/runs/estimator"))
    parser.add_argument("--train-shards", type=int, default=24)
    parser.add_argument("--val-shards", type=int, default=6)
    parser.add_argument("--scenes", type=int, default=16, help="procedural scenes per category (training)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--install", action="store_true", help="copy the checkpoint into hmtir/models/weights"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    import hmtir

    print(f"hmtir from {hmtir.__file__}", flush=True)
    generate(
        args.work,
        args.data,
        {"train": args.train_shards, "val": args.val_shards},
        args.seed,
        {"train": args.scenes, "val": max(1, args.scenes // 4)},
    )
    report = fit(args.work, args.hidden, args.steps, args.seed)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="estimator training (validation samples)")
    for column in ("samples", "5-way acc", "acc @0.5", "contrast", "blur", "noise", "thresholds"):
        table.add_column(column, justify="right")
    steps = report["val_step_accuracy"]
    table.add_row(
        f"{report['train_samples']}/{report['val_samples']}",
        f"{report['val_accuracy_5way']:.3f}",
        f"{report['val_accuracy_at_0.5']:.3f}",
        *(f"{steps[s]:.3f}" for s in ("contrast", "blur", "noise")),
        ", ".join(f"{t:.2f}" for t in report["thresholds"]),
    )
    Console().print(table)
    if args.install:
        target = Path(__file__).resolve().parents[1] / "hmtir" / "models" / "weights" / "estimator.pt"
        shutil.copyfile(args.work / "estimator.pt", target)
        print(f"installed {target}")


if __name__ == "__main__":
    main()
