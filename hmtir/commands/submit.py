"""``hmtir submit validate|score``: check leaderboard submissions and score them against the ground truth."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OutFolder

_DATA_HELP = "HM-TIR layout holding the ground truth (optional for validate on the demo benchmark)."


@click.group()
def submit() -> None:
    """Validate and score leaderboard submissions (submissions/<name>/)."""


@submit.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), default=None, help=_DATA_HELP)
def validate(paths: tuple[Path, ...], data: Path | None) -> None:
    """Check each submission completely (metadata, every test image, sizes, pixel types, hostile files)."""
    from rich.console import Console
    from rich.table import Table

    from hmtir.leaderboard.submission import validate_submission

    table = Table(title="Valid submissions", title_justify="left")
    for column in ("submission", "id", "method", "benchmark", "subsets", "images", "sha256"):
        table.add_column(column, justify="right" if column == "images" else "left")
    for path in paths:
        report = validate_submission(path, data)
        table.add_row(
            report["path"], report["id"], report["method"], report["benchmark"], ", ".join(report["subsets"]),
            str(report["images"]), report["sha256"][:12],
        )  # fmt: skip
    Console().print(table)


@submit.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="HM-TIR layout with the ground truth."
)
@click.option(
    "--leaderboard", type=OutFolder(path_type=Path), default=Path("leaderboard"), show_default=True,
    help="Leaderboard data folder the result is written into (results/ and records/).",
)  # fmt: skip
@click.option("--metrics", default="psnr,ssim", show_default=True, help="Comma list of leaderboard metrics.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
@click.option("--dry-run", is_flag=True, help="Score and show, but write nothing.")
@click.option("--replace", is_flag=True, help="Re-score: replace this submission's existing row.")
def score(
    path: Path, data: Path, leaderboard: Path, metrics: str, device: str, dry_run: bool, replace: bool
) -> None:
    """Recompute every metric from the submitted images (self-reported numbers are ignored).

    The row is keyed by the submission folder's name (its id): it never replaces another submission's
    row or a verified/reported one, and --data must be the benchmark the submission declares.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from hmtir.leaderboard.scoring import check_submission, score_submission

    names = [m.strip() for m in metrics.split(",") if m.strip()]
    board = None if dry_run else leaderboard
    total = check_submission(path, data, board, names, replace=replace)  # refusals before any output
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task(f"scoring {path.name}", total=total)
        outcome = score_submission(
            path, data, board, names, device, advance=lambda _: bar.advance(task), replace=replace
        )
    entry = outcome.entry
    table = Table(
        title=f"{entry['method']['display_name']} on {entry['benchmark']['name']} (recomputed by hmtir)",
        title_justify="left",
    )
    table.add_column("subset", style="bold")
    table.add_column("images", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for subset, block in entry["subsets"].items():
        cells = [f"{v:.4f}" if (v := block["metrics"][n]) is not None else "—" for n in names]
        table.add_row(subset, str(block["images"]), *cells)
    Console().print(table)
    where = "dry run: nothing written" if outcome.path is None else f"written to {outcome.path}"
    Console().print(f"[green]{where}[/green]")
