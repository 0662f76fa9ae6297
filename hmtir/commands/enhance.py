"""``hmtir enhance``: a thin shell over :mod:`hmtir.enhance` (parsing, progress bars, summary table)."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._network_flags import device_option, network_flags, network_options
from hmtir.commands._output import OutFolder
from hmtir.enhance import AUTO, DEGRADATION_CHOICES
from hmtir.io.radiometric import MIN_DISPLAY_LEVELS, RANGE_HELP


@click.command("enhance")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=OutFolder(file_okay=False, path_type=Path), help="Output folder."
)
@click.option(
    "--method",
    default="ppfn",
    show_default=True,
    help="Registered method (see `hmtir list methods`), my_pkg.module:factory or path/file.py:factory.",
)
@click.option(
    "--degradation",
    type=click.Choice(DEGRADATION_CHOICES),
    default=AUTO,
    show_default=True,
    help="auto: the estimator decides per frame (clean: left unchanged; one step: one pass with its "
    "prompt; two or more: composite). composite: 3 SPT passes (noise, blur, contrast); a step: one pass.",
)
@click.option(
    "--range",
    "range_",
    default="auto",
    show_default=True,
    help=f"How raw values map to display: {RANGE_HELP}. auto: 8-bit and [0, 1] floats as they are, "
    "narrow 16-bit counts and Kelvin by a 0.5-99.5 percentile AGC. A range that leaves a frame fewer "
    f"than {MIN_DISPLAY_LEVELS} of 256 grey levels is refused.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files (never an input).")
@click.option(
    "--weights",
    default=None,
    help="Checkpoint PATH, 'dim' for the shipped pair for darker frames (default: 'agc', full-range), or "
    "'official' for the released PPFN.",
)
@click.option(
    "--estimator", "estimator_weights", default=None, help="Estimator checkpoint PATH (default: shipped)."
)
@device_option
@network_flags
def enhance(
    inputs: tuple[Path, ...],
    out_dir: Path,
    method: str,
    degradation: str,
    range_: str,
    overwrite: bool,
    weights: str | None,
    estimator_weights: str | None,
    device: str,
    precision: str,
    channels_last: bool,
    compile_: bool,
) -> None:
    """Enhance real TIR frames (files or folders) and write them to --out in their own units and type."""
    from rich.table import Table

    from hmtir.console import console, progress
    from hmtir.enhance import enhance_paths, judge, plan_outputs
    from hmtir.io.radiometric import NARROW_FRACTION, RangeSpec
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    spec = RangeSpec.parse(range_)
    jobs = plan_outputs(inputs, out_dir, overwrite=overwrite)
    # build everything first: a missing checkpoint is reported before any progress bar appears
    options = network_options(precision, channels_last, compile_)
    if weights is not None:
        options["weights"] = weights
    runner = load_method(method, device=resolve_device(device), **options)
    estimator = None
    if degradation == AUTO:
        from hmtir.estimate import load_estimator

        estimator = load_estimator(estimator_weights, device=runner.device)
    estimates = None
    if estimator is not None:
        with progress(label="estimate") as bar:
            task = bar.add_task("estimate", total=len(jobs))
            estimates = judge(jobs, estimator, spec, on_done=lambda *_: bar.advance(task))
    with progress(label="enhance") as bar:
        task = bar.add_task("enhance", total=len(jobs))
        results = enhance_paths(
            jobs,
            runner,
            degradation,
            range=spec,
            estimator=estimator,
            estimates=estimates,
            on_done=lambda _: bar.advance(task),
        )
    table = Table(title=f"hmtir enhance: {method} (degradation {degradation}, range {spec})")
    for column in ("input", "output", "size", "type", "range → display", "prompts", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for r in results:
        prompts = "unchanged (clean)" if r.degradation == "clean" else r.degradation
        if r.estimate is not None:
            prompts += " · " + " ".join(f"{k[:2]} {v:.2f}" for k, v in r.estimate.scores.items())
        table.add_row(
            str(r.source),
            str(r.target),
            f"{r.size[1]}×{r.size[0]}",
            r.dtype,
            r.mapping.describe() if r.mapping is not None else "",
            prompts,
            f"{r.seconds:.2f}",
        )
    out = console()
    out.print(table)
    narrow = [r for r in results if r.mapping is not None and r.mapping.narrow]
    if narrow:
        out.print(
            f"[yellow]warning:[/] {len(narrow)} frame(s) use less than {NARROW_FRACTION:.0%} of their type's "
            "range but went through --range full (a dark, flat picture for the network); --range auto "
            "maps them by percentile AGC"
        )
    total = sum(r.seconds for r in results)
    counts = {
        d: sum(r.degradation == d for r in results) for d in dict.fromkeys(r.degradation for r in results)
    }
    summary = ", ".join(f"{n} {d}" for d, n in counts.items())
    out.print(
        f"{len(results)} frame(s) written to {out_dir} in {total:.1f} s of network time ({summary}); "
        "each output's mapping and prompts are in <output>.json"
    )
