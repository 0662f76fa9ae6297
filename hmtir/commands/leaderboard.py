"""``hmtir leaderboard build|seed``: render the static site and tables, or (re)seed the demo rows."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OutFolder

_BOARD = click.option(
    "--leaderboard", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True,
    help="Leaderboard data folder (results/, records/, figures/, reported.yaml).",
)  # fmt: skip


@click.group()
def leaderboard() -> None:
    """Build the leaderboard site and tables."""


@leaderboard.command()
@_BOARD
@click.option(
    "--results",
    "results",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Build from your own `hmtir evaluate` result folders instead (repeatable; a folder may hold many); "
    "their rows are tier 'user': your claim, not re-scored by hmtir.",
)
@click.option(
    "--benchmarks",
    "benchmark_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="With --results: a benchmark registry YAML (repeatable; also read: DIR/benchmarks.yaml of each "
    "--results DIR and $HMTIR_BENCHMARKS).",
)
@click.option(
    "--out", type=OutFolder(path_type=Path), default=Path("site"), show_default=True, help="Site folder."
)
@click.pass_context
def build(
    ctx: click.Context,
    leaderboard: Path,
    results: tuple[Path, ...],
    benchmark_files: tuple[Path, ...],
    out: Path,
) -> None:
    """Render index.html (sortable/filterable), method pages, plots, LEADERBOARD.md, CSV and JSON.

    \b
    hmtir leaderboard build [--leaderboard leaderboard] --out site
        the shipped leaderboard (results/ + records/ of the data folder)
    hmtir leaderboard build --results DIR [--results DIR ...] --out site
        any evaluate results: a registered benchmark when a registry pins the data's manifest,
        else a benchmark named by its data (<data folder>-<manifest sha256 prefix>); rows of tier
        user (read from your files, not re-scored by hmtir)

    Measured rows with per-image records also show the paired difference against the identity row
    (or the best row) on the same frames, with its 95 % bootstrap interval and p-value.
    """
    from hmtir.console import console
    from hmtir.errors import HmtirError
    from hmtir.leaderboard.render import build_site, summary_rows

    term = console()
    source = ctx.get_parameter_source("leaderboard")
    if results:
        if source is not None and source.name != "DEFAULT":
            raise HmtirError("--leaderboard and --results build different things: pass one of them")
        from hmtir.console import progress
        from hmtir.leaderboard.from_results import DATA_SOURCE, build_from_results

        with progress(label="results") as bar:
            task = bar.add_task("reading results", total=None)
            report, board = build_from_results(
                results, out, benchmark_files, advance=lambda _: bar.advance(task)
            )
        defined = {
            name: ("its data" if b.source == DATA_SOURCE else b.source)
            for name, b in board.benchmarks.items()
        }
        title = f"Leaderboard built in {report.out} from {len(board.rows)} result folder(s)"
    else:
        if benchmark_files:
            raise HmtirError("--benchmarks applies with --results (the leaderboard folder's are registered)")
        report = build_site(leaderboard, out)
        defined = {g.benchmark.name: g.benchmark.source for g in report.groups}
        title = f"Leaderboard built in {report.out}"
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("benchmark", "defined by", "group", "rows", "leader", "mean rank", "paired Δ vs"):
        table.add_column(column, justify="right" if column in ("rows", "mean rank") else "left")
    for group, row in zip(report.groups, summary_rows(report)):
        pairs = report.pairs.get((group.benchmark.key, group.group))
        reference = pairs.reference.entry["method"]["display_name"] if pairs and pairs.reference else "—"
        table.add_row(row[0], defined.get(group.benchmark.name, ""), *row[1:], reference)
    term.print(table)
    term.print(f"{len(report.files)} files · open {report.out / 'index.html'} (works offline from file://)")


@leaderboard.command()
@_BOARD
@click.option(
    "--work", type=click.Path(path_type=Path), default=None, help="Keep the demo data and runs here."
)
@click.option(
    "--methods",
    default=None,
    help="Comma list [default: identity, wfaf, lrsid, ppfn, nafnet, ppfn.agc, nafnet.agc where runnable]; "
    "ppfn/nafnet take the weights pair the demo data chooses, as evaluate does.",
)
def seed(leaderboard: Path, work: Path | None, methods: str | None) -> None:
    """Rebuild the demo benchmark, evaluate CPU-feasible methods (verified rows), add reported rows.

    Run it again whenever shipped weights change: it replaces the demo rows, their records and the
    comparison figures (see hmtir/leaderboard/seed.py).
    """
    from hmtir.console import console
    from hmtir.leaderboard.seed import SEED_METHODS, seed_table
    from hmtir.leaderboard.seed import seed as run_seed

    term = console()
    names = [m.strip() for m in methods.split(",")] if methods else list(SEED_METHODS)
    outcome = run_seed(leaderboard, work, names, log=term.print, progress=True)
    term.print(seed_table(outcome))
    term.print(f"[green]{len(outcome.written)} files written under {leaderboard}[/green]")
