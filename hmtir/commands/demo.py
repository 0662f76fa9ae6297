"""``hmtir demo``: the README's main job — build the leaderboard's demo benchmark and compare the CPU methods."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OVERWRITE_HELP, OutFolder


@click.command()
@click.option("--out", type=OutFolder(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option(
    "--per-category",
    type=click.IntRange(min=1),
    default=None,
    help="Frames per scene category (8 categories) [default: the demo benchmark's 1; "
    "another value builds a differently named benchmark, demo-custom].",
)
@click.option("--methods", default=None, help="Comma list [default: identity,wfaf,lrsid,ppfn].")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="[default: the demo benchmark's 0; see --per-category]",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--leaderboard",
    type=click.Path(path_type=Path),
    default=None,
    help="Leaderboard folder to place the rows in [default: ./leaderboard, else the checkout's].",
)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
def demo(
    out: Path,
    per_category: int | None,
    methods: str | None,
    seed: int | None,
    workers: int,
    leaderboard: Path | None,
    overwrite: bool,
) -> None:
    """Build the embedded demo benchmark (the leaderboard's demo-v1) and evaluate on it (no network, no GPU)."""
    from rich.table import Table

    from hmtir.console import console
    from hmtir.demo import DEFAULT_METHODS, run_demo

    chosen = [m.strip() for m in methods.split(",")] if methods else list(DEFAULT_METHODS)
    result = run_demo(
        out,
        per_category=per_category,
        methods=chosen,
        seed=seed,
        workers=workers,
        leaderboard=leaderboard,
        overwrite=overwrite,
    )
    bench = result.definition
    table_data = result.table()
    term = console()
    if table_data:
        subsets = list(next(iter(table_data.values())))
        frames = next(iter(result.summaries.values()))["subsets"][subsets[0]]["images"]
        for metric, unit, digits in (("psnr", " (dB)", 2), ("ssim", "", 3)):
            title = f"{bench.key}, {frames} frames per subset: {metric.upper()}{unit}, higher is better"
            table = Table(title=title, title_justify="left")
            table.add_column("method", no_wrap=True)
            for subset in subsets:
                table.add_column(subset.split("/")[-1], justify="right", no_wrap=True)
            for method, per_subset in table_data.items():
                table.add_row(method, *(f"{per_subset[s][metric]:.{digits}f}" for s in subsets))
            term.print(table)
    for method, summary in result.summaries.items():  # default weights: the pair the data chose
        choice = summary["method"].get("weights_choice")
        if choice is not None:
            term.print(
                f"{method}: the {choice['variant']} weights pair, chosen from the data ({choice['rule']}; "
                f"read {choice['value']})"
            )
    for method, why in result.skipped.items():
        term.print(f"[yellow]skipped {method}[/]: {why}")
    if result.standings:
        table = Table(
            title=f"Where these rows would sit among the measured {bench.key} rows of {result.leaderboard}",
            title_justify="left",
            caption="Each row ranked by mean subset rank against the leaderboard's other rows (its own method's "
            "row left out). A differing 'leaderboard row' means the leaderboard was seeded with other weights: "
            "hmtir leaderboard seed",
            caption_justify="left",
        )
        for column in ("method", "avg PSNR (this demo)", "leaderboard row", "would rank"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for s in result.standings:
            same = (
                s.board_psnr is not None
                and s.average_psnr is not None
                and round(s.board_psnr, 2) == round(s.average_psnr, 2)
            )
            board = (
                "—" if s.board_psnr is None else f"{s.board_psnr:.2f}" + (" (same)" if same else " (differs)")
            )
            table.add_row(
                s.method,
                "—" if s.average_psnr is None else f"{s.average_psnr:.2f}",
                board,
                "—" if s.rank is None else f"{s.rank} of {s.of}",
            )
        term.print(table)
    elif result.note:
        term.print(f"[yellow]{result.note}[/]")
    term.print(
        f"benchmark: {result.benchmark}   results: {out / 'results'}   figure: {result.figure}   "
        f"({result.seconds:.0f} s)"
    )
