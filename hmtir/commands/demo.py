"""``hmtir demo``: the README's main job — build the embedded benchmark and compare the CPU methods."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option(
    "--per-category",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Frames per scene category (8 categories).",
)
@click.option("--methods", default=None, help="Comma list [default: identity,wfaf,lrsid,ppfn].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
def demo(out: Path, per_category: int, methods: str | None, seed: int, workers: int) -> None:
    """Build the embedded demo benchmark and evaluate on it (no network, no GPU)."""
    from rich.console import Console
    from rich.table import Table

    from hmtir.demo import DEFAULT_METHODS, run_demo

    chosen = [m.strip() for m in methods.split(",")] if methods else list(DEFAULT_METHODS)
    result = run_demo(out, per_category=per_category, methods=chosen, seed=seed, workers=workers)
    table_data = result.table()
    console = Console()
    if table_data:
        subsets = list(next(iter(table_data.values())))
        for metric, unit, digits in (("psnr", " (dB)", 2), ("ssim", "", 3)):
            title = f"Demo benchmark, {per_category * 8} frames per subset: {metric.upper()}{unit}, higher is better"
            table = Table(title=title)
            table.add_column("method", no_wrap=True)
            for subset in subsets:
                table.add_column(subset.split("/")[-1], justify="right", no_wrap=True)
            for method, per_subset in table_data.items():
                table.add_row(method, *(f"{per_subset[s][metric]:.{digits}f}" for s in subsets))
            console.print(table)
    for method, why in result.skipped.items():
        console.print(f"[yellow]skipped {method}[/]: {why}")
    console.print(f"benchmark: {result.benchmark}   results: {out / 'results'}   figure: {result.figure}")
