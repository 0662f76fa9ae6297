"""``hmtir evaluate``: a thin shell over :func:`hmtir.evaluate.engine.evaluate` (parsing, progress, tables)."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._network_flags import network_flags, network_options


@click.command()
@click.option("--method", "method", required=True, help="Registered method name (see `hmtir list methods`).")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="HM-TIR layout to evaluate on [default: the dataset `hmtir download hm-tir` installs].",
)
@click.option(
    "--subset",
    "subsets",
    default="all",
    show_default=True,
    help="Comma list, e.g. composited/normal,single/blur.",
)
@click.option(
    "--metrics", default="psnr,ssim", show_default=True, help="Comma list, e.g. psnr,ssim,niqe,musiq."
)
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda or cuda:N."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Frames of equal size per batch.",
)
@click.option(
    "--save-images", is_flag=True, help="Write restored images (source bit depth) under OUT/images/<subset>/."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Results folder [default: results/<method>/<data name>-<config hash>, the same for the same command].",
)
@click.option(
    "--real",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of unpaired real frames: no-reference scoring with composite prompts (replaces --data).",
)
@click.option(
    "--convention",
    type=click.Choice(["float", "uint8"]),
    default="float",
    show_default=True,
    help="uint8: round outputs to 8 bits before scoring, as when saved as PNG.",
)
@click.option(
    "--weights", default=None, help="Weights file for the method (default: its registered weights)."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for methods that draw random numbers."
)
@click.option("--overwrite", is_flag=True, help="Replace a finished result in --out instead of refusing.")
@network_flags
def evaluate(
    method: str,
    data: Path | None,
    subsets: str,
    metrics: str,
    device: str,
    batch_size: int,
    save_images: bool,
    out: Path | None,
    real: Path | None,
    convention: str,
    weights: str | None,
    seed: int,
    overwrite: bool,
    precision: str,
    channels_last: bool,
    compile_: bool,
) -> None:
    """Run a method on a benchmark and score it; resumes an interrupted run in the same --out."""
    from rich.console import Console

    from hmtir.evaluate.engine import evaluate as run_evaluation
    from hmtir.evaluate.report import summary_tables

    result = run_evaluation(
        method,
        data=data,
        subsets=subsets,
        metrics=metrics,
        device=device,
        batch_size=batch_size,
        save_images=save_images,
        out=out,
        real=real,
        convention=convention,
        weights=weights,
        progress=True,
        seed=seed,
        overwrite=overwrite,
        method_options=network_options(precision, channels_last, compile_),
    )
    console = Console()
    for table in summary_tables(result.summary):
        console.print(table)
    console.print(f"results: {result.out} (summary.json, records.parquet, records.csv)")
