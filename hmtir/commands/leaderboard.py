"""``hmtir leaderboard build|seed``: render the static site and tables, or (re)seed the demo rows."""

from __future__ import annotations

from pathlib import Path

import click

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
    "--out", type=click.Path(path_type=Path), default=Path("site"), show_default=True, help="Site folder."
)
def build(leaderboard: Path, out: Path) -> None:
    """Render index.html (sortable/filterable), method pages, plots, LEADERBOARD.md, CSV and JSON."""
    from rich.console import Console
    from rich.table import Table

    from hmtir.leaderboard.render import build_site, summary_rows

    report = build_site(leaderboard, out)
    table = Table(title=f"Leaderboard built in {report.out}", title_justify="left")
    for column in ("benchmark", "group", "rows", "leader", "mean rank"):
        table.add_column(column, justify="right" if column in ("rows", "mean rank") else "left")
    for row in summary_rows(report):
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(
        f"{len(report.files)} files · open {report.out / 'index.html'} (works offline from file://)"
    )


@leaderboard.command()
@_BOARD
@click.option(
    "--work", type=click.Path(path_type=Path), default=None, help="Keep the demo data and runs here."
)
@click.option(
    "--methods", default=None, help="Comma list [default: identity,wfaf,lrsid,ppfn,nafnet where runnable]."
)
def seed(leaderboard: Path, work: Path | None, methods: str | None) -> None:
    """Rebuild the demo benchmark, evaluate CPU-feasible methods (verified rows), add reported rows."""
    from rich.console import Console

    from hmtir.leaderboard.seed import SEED_METHODS
    from hmtir.leaderboard.seed import seed as run_seed

    console = Console()
    names = [m.strip() for m in methods.split(",")] if methods else list(SEED_METHODS)
    written = run_seed(leaderboard, work, names, log=console.print)
    console.print(f"[green]{len(written)} files written under {leaderboard}[/green]")
