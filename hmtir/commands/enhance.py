"""``hmtir enhance``: a thin shell over :mod:`hmtir.enhance` (parsing, progress bar, summary table)."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._network_flags import network_flags, network_options
from hmtir.vocabulary import DEGRADATIONS


@click.command("enhance")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@click.option(
    "--method", default="ppfn", show_default=True, help="Registered method (see `hmtir list methods`)."
)
@click.option(
    "--degradation",
    type=click.Choice(DEGRADATIONS),
    default="composite",
    show_default=True,
    help="composite: 3 SPT passes (noise, blur, contrast); otherwise one pass with that prompt.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files (never an input).")
@click.option("--weights", default=None, help="Checkpoint PATH, or 'official' for the released PPFN weights.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda or cuda:N."
)
@network_flags
def enhance(
    inputs: tuple[Path, ...],
    out_dir: Path,
    method: str,
    degradation: str,
    overwrite: bool,
    weights: str | None,
    device: str,
    precision: str,
    channels_last: bool,
    compile_: bool,
) -> None:
    """Enhance real TIR frames (files or folders) and write them to --out in their own bit depth."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from hmtir.enhance import enhance_paths, plan_outputs
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    jobs = plan_outputs(inputs, out_dir, overwrite=overwrite)
    # build the method first: a missing checkpoint is reported before any progress bar appears
    options = network_options(precision, channels_last, compile_)
    if weights is not None:
        options["weights"] = weights
    runner = load_method(method, device=resolve_device(device), **options)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]enhance"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task("enhance", total=len(jobs))
        results = enhance_paths(jobs, runner, degradation, on_done=lambda _: progress.advance(task))
    table = Table(title=f"hmtir enhance: {method} ({degradation})")
    for column in ("input", "output", "size", "bits", "seconds"):
        table.add_column(column, justify="right" if column in ("bits", "seconds") else "left")
    for r in results:
        table.add_row(
            str(r.source), str(r.target), f"{r.size[1]}×{r.size[0]}", str(r.bit_depth), f"{r.seconds:.2f}"
        )
    Console().print(table)
    total = sum(r.seconds for r in results)
    Console().print(f"{len(results)} frame(s) written to {out_dir} in {total:.1f} s of network time")
