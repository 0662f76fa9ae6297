"""``hmtir verify DIR``: a thin shell over :func:`hmtir.data.verify.verify` that prints what is wrong."""

from __future__ import annotations

from pathlib import Path

import click

MAX_ROWS = 50


@click.command("verify")
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--size",
    default=None,
    help="Required frame size WxH, or 'any' (default: 640x512 for the official release, what meta/dataset.json declares otherwise).",
)
@click.option("--quick", is_flag=True, help="Check folders, lists and counts without decoding every image.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar while reading images.")
@click.pass_context
def verify(ctx: click.Context, root: Path, size: str | None, quick: bool, progress: bool) -> None:
    """Check an HM-TIR tree: folders, counts, frame sizes, test images in every subset, readable files."""
    from rich.table import Table

    from hmtir.console import console as make_console
    from hmtir.data.verify import parse_size
    from hmtir.data.verify import verify as run_verify

    report = run_verify(root, size=parse_size(size), progress=progress, read=not quick)
    console = make_console()
    sizes = ", ".join(f"{w}x{h}: {n}" for (w, h), n in report.sizes.most_common()) or "not read"
    console.print(
        f"{root}: {report.mode} layout, {report.frames} clean frames, {report.test_names} test names, "
        f"{len(report.subsets)}/5 subsets, {report.checked} images read (sizes {sizes})"
    )
    if report.ok:
        console.print("[green]OK[/green]: no problems found")
        return
    table = Table(title=f"{len(report.problems)} problem(s)")
    table.add_column("path")
    table.add_column("problem")
    for problem in report.problems[:MAX_ROWS]:
        table.add_row(problem.path, problem.problem)
    if len(report.problems) > MAX_ROWS:
        table.add_row("…", f"{len(report.problems) - MAX_ROWS} more")
    console.print(table)
    ctx.exit(1)
