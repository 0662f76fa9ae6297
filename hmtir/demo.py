"""The embedded default: a small benchmark built from procedural TIR scenes, evaluated end to end.

No network, no GPU, no real data: ``make_scenes`` renders clean frames, ``synthesize`` degrades them into
the HM-TIR layout (all five subsets), and every CPU method that is available is evaluated on it. Every
step is resumable, so a second run only redoes what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path, atomic_write_text

DEFAULT_METHODS = ("identity", "wfaf", "lrsid", "ppfn")
METRICS = ("psnr", "ssim")


@dataclass
class DemoResult:
    out: Path
    benchmark: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> evaluate summary
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it was not run
    figure: Path | None = None

    def table(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """method → subset → metric → mean."""
        return {
            method: {
                subset: {m: stats["metrics"][m]["mean"] for m in METRICS}
                for subset, stats in summary["subsets"].items()
            }
            for method, summary in self.summaries.items()
        }


def run_demo(
    out: str | Path = "demo-out",
    per_category: int = 1,
    methods: Sequence[str] = DEFAULT_METHODS,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    size: tuple[int, int] = (512, 640),
) -> DemoResult:
    """Build the demo benchmark under ``out`` and evaluate ``methods`` on all of its subsets.

    ``size`` (height, width) exists for quick tests; the demo itself uses HM-TIR's 640×512 frames.
    """
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize
    from hmtir.evaluation import evaluate
    from hmtir.evaluation.results import SUMMARY_FILE
    from hmtir.methods import METHODS

    metas = {name: METHODS.meta(name) for name in methods}  # unknown names fail before any work
    out = Path(out)
    clean, bench = out / "clean", out / "benchmark"
    make_scenes(clean, per_category=per_category, seed=seed, size=size)
    synthesize(clean, bench, seed=seed, workers=workers, progress=progress)

    result = DemoResult(out=out, benchmark=bench)
    for name, meta in metas.items():
        if meta.needs_gpu:
            result.skipped[name] = "needs a GPU"
            continue
        target = out / "results" / name
        summary_path = target / SUMMARY_FILE
        if summary_path.is_file():
            result.summaries[name] = json.loads(summary_path.read_text())
            continue
        try:
            run = evaluate(
                name, data=bench, metrics=METRICS, device="cpu", out=target, seed=seed, progress=progress
            )
        except HmtirError as err:  # e.g. weights not installed: the demo still reports the rest
            result.skipped[name] = str(err)
            continue
        result.summaries[name] = run.summary
    atomic_write_text(out / "demo_summary.json", json.dumps(result.table(), indent=2) + "\n")
    if result.summaries:
        result.figure = plot_demo(result, out / "demo_psnr.png")
    return result


def plot_demo(result: DemoResult, path: Path) -> Path:
    """Grouped bars, PSNR and SSIM per subset and method: the demo's result at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    table = result.table()
    methods = list(table)
    subsets = list(next(iter(table.values())))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    width = 0.8 / len(methods)
    x = np.arange(len(subsets))
    for ax, metric in zip(axes, METRICS):
        for i, method in enumerate(methods):
            values = [table[method][s][metric] or 0.0 for s in subsets]
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, values, width, label=method)
        ax.set_xticks(x, [s.replace("composited/", "comp/") for s in subsets], rotation=15)
        ax.set_title(f"{metric.upper()} on the demo benchmark (higher is better)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
