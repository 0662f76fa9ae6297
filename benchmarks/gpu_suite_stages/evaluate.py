"""Section ``evaluate``: ``hmtir.evaluate`` of the compact reference ``ppfn`` on a synthesized test set
(procedural scenes -> all five subsets), with and without the prefetching reader."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from .core import Row, Suite

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "evaluate/prefetch on": "~15 s for 1,500 frame evaluations (decode-bound), data build ~10 s",
    "evaluate/prefetch off": "~20 s (decode no longer overlaps compute)",
}


def _render_category(args: tuple[str, int, str, int, tuple[int, int]]) -> list[tuple[str, str]]:
    out, count, category, seed, size = args
    from hmtir.data.scenes import make_scenes

    return make_scenes(out, per_category=count, seed=seed, size=size, categories=(category,))


def build_test_set(root: Path, frames: int, size: tuple[int, int], workers: int) -> Path:
    """``frames`` procedural scenes (categories in turn) synthesized into all five HM-TIR subsets."""
    from concurrent.futures import ProcessPoolExecutor

    from hmtir.data.scenes import SCENE_CATEGORIES
    from hmtir.degrade.synthesize import synthesize

    clean, bench = root / "clean", root / "benchmark"
    counts = {
        c: frames // len(SCENE_CATEGORIES) + (i < frames % len(SCENE_CATEGORIES))
        for i, c in enumerate(SCENE_CATEGORIES)
    }
    jobs = [(str(clean), n, c, 0, size) for c, n in counts.items() if n]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            pairs = [p for chunk in pool.map(_render_category, jobs) for p in chunk]
    else:
        pairs = [p for job in jobs for p in _render_category(job)]
    synthesize(clean, bench, seed=0, workers=workers, scenes=dict(pairs), progress=False)
    return bench


def _reference_checkpoint(root: Path) -> tuple[Path | None, str]:
    """The shipped compact PPFN when installed, else a random-init one of the same architecture (same cost)."""
    from hmtir.methods.networks import SHIPPED
    from hmtir.models import create_model
    from hmtir.models.checkpoint import save_checkpoint
    from hmtir.models.prompts import PromptBank

    if SHIPPED["ppfn"].is_file():
        return None, f"shipped {SHIPPED['ppfn'].name}"
    torch.manual_seed(0)
    path = save_checkpoint(
        root / "ppfn_nafnet_random.pt",
        "ppfn_nafnet",
        create_model("ppfn_nafnet").eval(),
        PromptBank.seeded(),
        meta={"note": "random init: gpu_suite timing only, scores meaningless"},
    )
    return path, "random-init ppfn_nafnet (shipped weights absent; scores meaningless, cost identical)"


def section_evaluate(suite: Suite) -> None:
    """Build the test set once, then time ``hmtir.evaluate`` with and without the prefetching reader."""
    from hmtir.errors import HmtirError
    from hmtir.evaluation import evaluate
    from hmtir.metrics import create_metric

    cfg = suite.config
    workers = max(1, min(16, os.cpu_count() or 1)) if not suite.args.quick else 1
    with tempfile.TemporaryDirectory(prefix="hmtir-gpu-suite-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        bench = build_test_set(root, cfg.eval_frames, cfg.eval_size, workers)
        build_s = time.perf_counter() - start
        h, w = cfg.eval_size
        suite.add(
            Row(
                "evaluate",
                "build test set",
                build_s,
                "s",
                note=f"{cfg.eval_frames} scenes {w}×{h} → 5 subsets, {workers} workers",
            )
        )
        weights, label = _reference_checkpoint(root)
        metrics = ["psnr", "ssim"]
        try:
            create_metric("niqe", device=str(suite.device))
            metrics.append("niqe")
        except (HmtirError, ImportError) as err:
            suite.header["niqe"] = f"not run: {str(err).splitlines()[0][:160]}"
        for variant, depth in (("prefetch on", 2), ("prefetch off", 0)):
            if not suite.afford("evaluate", variant, 60 if not suite.args.quick else 1):
                continue
            with suite.guard("evaluate", variant):
                start = time.perf_counter()
                result = evaluate(
                    "ppfn",
                    data=bench,
                    metrics=metrics,
                    device=str(suite.device),
                    batch_size=cfg.eval_batch,
                    out=root / f"eval-{depth}",
                    weights=weights,
                    progress=False,
                    overwrite=True,
                    prefetch_batches=depth,
                )
                wall = time.perf_counter() - start
                n = len(result.records)
                network_s = float(result.records["seconds"].sum())
                psnr = {
                    s: round(v["metrics"]["psnr"]["mean"], 2) for s, v in result.summary["subsets"].items()
                }
                suite.add(
                    Row(
                        "evaluate",
                        variant,
                        wall,
                        "s",
                        note=f"{n} frame evaluations ({n / wall:.0f}/s), {'+'.join(metrics)}, batch {cfg.eval_batch}, "
                        f"network {network_s:.1f} s; {label}",
                        extra={"psnr_by_subset": psnr, "frames": n, "network_s": network_s},
                    )
                )
