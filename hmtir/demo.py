"""The embedded default: the leaderboard's ``demo`` benchmark, built from procedural TIR scenes, evaluated.

No network, no GPU, no real data: the benchmark is rebuilt from its definition in
``hmtir/leaderboard/benchmarks.yaml`` (``make_scenes`` renders 8 clean frames, one per scene category,
``synthesize`` degrades them into all five HM-TIR subsets), its manifest is checked against the pinned
sha256, and every CPU method that is available is evaluated on it. It is the same benchmark as the README
leaderboard's "demo" rows (``hmtir leaderboard seed``), so the demo ends by saying where its rows would sit
among them. Other ``per_category``/``seed``/``size`` values build a differently named benchmark
(``demo-custom``) whose rows are not placed. Every step is resumable, so a second run only redoes what is
missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path, atomic_write_text

DEFAULT_METHODS = ("identity", "wfaf", "lrsid", "ppfn")
METRICS = ("psnr", "ssim")
BENCHMARK = "demo"
CUSTOM = "demo-custom"


@dataclass
class Standing:
    """Where one demo row would sit among the leaderboard's measured rows of the same benchmark."""

    method: str
    rank: int | None  # overall rank among ``of`` rows (None: no overall rank)
    of: int
    average_psnr: float | None
    board_psnr: float | None  # the leaderboard's own row of this method (None: it has none)


@dataclass
class DemoResult:
    out: Path
    benchmark: Path
    definition: Any = None  # the Benchmark built (demo-v1, or demo-custom)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> evaluate summary
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it was not run
    figure: Path | None = None
    standings: list[Standing] = field(default_factory=list)
    leaderboard: Path | None = None  # the leaderboard the standings come from
    note: str | None = None  # why there are no standings
    seconds: float = 0.0  # wall time of run_demo

    def table(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """method → subset → metric → mean."""
        return {
            method: {
                subset: {m: stats["metrics"][m]["mean"] for m in METRICS}
                for subset, stats in summary["subsets"].items()
            }
            for method, summary in self.summaries.items()
        }


def demo_benchmark(
    per_category: int | None = None, seed: int | None = None, size: tuple[int, int] | None = None
) -> Any:
    """The leaderboard's ``demo`` benchmark, or — when an option differs from its definition — a
    ``demo-custom`` benchmark with those scenes (no pinned manifest, not on the leaderboard)."""
    from hmtir.leaderboard.benchmarks import get_benchmark

    bench = get_benchmark(BENCHMARK)
    spec = dict(bench.scenes or {})
    wanted = {
        "per_category": spec["per_category"] if per_category is None else int(per_category),
        "seed": spec["seed"] if seed is None else int(seed),
        "height": spec["height"] if size is None else int(size[0]),
        "width": spec["width"] if size is None else int(size[1]),
    }
    synthesis_seed = bench.synthesis_seed if seed is None else int(seed)
    if wanted == spec and synthesis_seed == bench.synthesis_seed:
        return bench
    h, w, n, s = wanted["height"], wanted["width"], wanted["per_category"], wanted["seed"]
    return replace(
        bench,
        name=CUSTOM,
        title=f"Custom demo ({n} per category, {w}×{h}, seed {s}; not the leaderboard's {bench.key})",
        description=f"hmtir demo with options that differ from {bench.key}: its rows are not comparable "
        "with the leaderboard's demo rows.",
        scenes=wanted,
        synthesis_seed=synthesis_seed,
        manifest_sha256=None,
        source="hmtir demo options",
    )


def _data_folder(bench: Any) -> str:
    if bench.name == BENCHMARK:
        return bench.key
    s = bench.scenes
    return f"{CUSTOM}-{s['per_category']}x{s['height']}x{s['width']}-seed{s['seed']}"


def find_leaderboard(leaderboard: str | Path | None) -> Path | None:
    """``leaderboard`` if given, else ``./leaderboard``, else the one of the checkout hmtir runs from."""
    import hmtir

    if leaderboard is not None:
        return Path(leaderboard) if (Path(leaderboard) / "results").is_dir() else None
    for candidate in (Path("leaderboard"), Path(hmtir.__file__).resolve().parents[1] / "leaderboard"):
        if (candidate / "results").is_dir():
            return candidate
    return None


def place_rows(result: DemoResult, runs: dict[str, Path], leaderboard: Path) -> list[Standing]:
    """Each demo row ranked among the leaderboard's measured demo rows (its own method's row left out)."""
    from hmtir.leaderboard.ranking import rank
    from hmtir.leaderboard.schema import MEASURED_TIERS, row_key
    from hmtir.leaderboard.scoring import result_from_evaluation
    from hmtir.leaderboard.store import load_results

    board = [
        e
        for e in load_results(leaderboard)
        if e["benchmark"]["name"] == BENCHMARK and e["trust"] in MEASURED_TIERS
    ]
    standings = []
    for method, run in runs.items():
        mine = result_from_evaluation(run, BENCHMARK, trust="verified").entry  # the demo just ran it
        mine["method"]["display_name"] = f"{method} (this demo)"
        others = [e for e in board if row_key(e) != method]
        same = next((e for e in board if row_key(e) == method), None)
        [group] = rank([*others, mine])
        row = next(r for r in group.rows if r.entry is mine)
        board_avg = None
        if same is not None:
            [own] = rank([same])
            board_avg = own.rows[0].averages.get("psnr")
        standings.append(
            Standing(method, row.overall_rank, len(group.rows), row.averages.get("psnr"), board_avg)
        )
    return standings


def run_demo(
    out: str | Path = "demo-out",
    per_category: int | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    seed: int | None = None,
    workers: int = 1,
    progress: bool = True,
    size: tuple[int, int] | None = None,
    leaderboard: str | Path | None = None,
    overwrite: bool = False,
) -> DemoResult:
    """Build the demo benchmark under ``out`` and evaluate ``methods`` on all of its subsets.

    With the default options it is the leaderboard's ``demo`` benchmark (checked against its pinned
    manifest), and the result says where each row would rank among the leaderboard's measured rows.
    ``out`` follows :func:`hmtir.io.safety.check_output_folder` (``overwrite``: write into a non-empty
    folder hmtir did not create).
    """
    from hmtir.data.layout import manifest_hash
    from hmtir.evaluation import evaluate
    from hmtir.io.safety import check_output_folder, mark_output_folder
    from hmtir.leaderboard.seed import build_demo_data, stale_run, weights_for_data
    from hmtir.methods import METHODS, split_weights_tag

    start = time.perf_counter()
    # unknown names fail before any work; a weights tag (ppfn.dim) names a variant of a registered method
    # a colon names a method from outside hmtir (my_pkg.module:factory, file.py:factory): loaded below
    metas = {name: None if ":" in name else METHODS.meta(split_weights_tag(name)[0]) for name in methods}
    bench = demo_benchmark(per_category, seed, size)
    out = check_output_folder(out, overwrite=overwrite, own=lambda d: (d / "demo_summary.json").is_file())
    mark_output_folder(out)
    data = build_demo_data(bench, out / _data_folder(bench), progress=progress, workers=workers)
    result = DemoResult(out=out, benchmark=data, definition=bench)
    comparable = bench.name == BENCHMARK
    if comparable and manifest_hash(data) != bench.manifest_sha256:
        comparable = False
        result.note = (
            f"{data} is not {bench.key}'s images (manifest {str(manifest_hash(data))[:12]}, pinned "
            f"{bench.manifest_sha256[:12]}): delete it and rerun"
        )
    runs: dict[str, Path] = {}
    for name, meta in metas.items():
        if meta is not None and meta.needs_gpu:
            result.skipped[name] = "needs a GPU"
            continue
        folder = name
        if meta is None:
            from hmtir.external import external_name

            folder = external_name(name)  # a folder-safe slug, as evaluate's own results folder
        target = out / "results" / _data_folder(bench) / folder
        try:
            from hmtir.methods import load_method

            method = load_method(name, device="cpu")
            weights = weights_for_data(method, data)  # default weights: the pair this data chooses
            run = evaluate(method, data=data, metrics=METRICS, device="cpu", out=target,
                           seed=0 if seed is None else int(seed), progress=progress,
                           overwrite=stale_run(target, weights))  # fmt: skip
        except HmtirError as err:  # e.g. weights not installed: the demo still reports the rest
            result.skipped[name] = str(err)
            continue
        result.summaries[name] = run.summary
        runs[name] = target
    atomic_write_text(out / "demo_summary.json", json.dumps(result.table(), indent=2) + "\n")
    if result.summaries:
        result.figure = plot_demo(result, out / "demo_psnr.png")
    if comparable and runs:
        board = find_leaderboard(leaderboard)
        if board is None:
            result.note = (
                f"no leaderboard folder found{f' at {leaderboard}' if leaderboard else ''}: these rows are "
                f"{bench.key} rows, comparable with the README's demo table"
            )
        else:
            try:
                result.standings = place_rows(result, runs, board)
                result.leaderboard = board
            except HmtirError as err:  # a broken leaderboard folder must not cost the demo its results
                result.note = f"these rows could not be placed on {board}: {err}"
    elif not comparable and result.note is None:
        result.note = f"{bench.title}: not placed on the leaderboard"
    result.seconds = time.perf_counter() - start
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
    name = result.definition.key if result.definition is not None else "demo"
    for ax, metric in zip(axes, METRICS):
        for i, method in enumerate(methods):
            values = [table[method][s][metric] or 0.0 for s in subsets]
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, values, width, label=method)
        ax.set_xticks(x, [s.replace("composited/", "comp/") for s in subsets], rotation=15)
        ax.set_title(f"{metric.upper()} on {name} (higher is better)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
