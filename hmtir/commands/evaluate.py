"""``hmtir evaluate``: a thin shell over :func:`hmtir.evaluation.evaluate` (parsing, progress, tables).

Inside ``torchrun --nproc-per-node N -m hmtir evaluate ...`` the frames are shared out across the N
processes; only rank 0 prints.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from hmtir.commands._network_flags import device_option, network_flags, network_options
from hmtir.commands._output import OutFolder


@click.command()
@click.option(
    "--method",
    "method",
    required=True,
    help="Registered method name (see `hmtir list methods`), my_pkg.module:factory or path/file.py:factory.",
)
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
@device_option
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
    type=OutFolder(path_type=Path),
    default=None,
    help="Results folder [default: results/<method>/<data>__<metrics>...-<hash>, the same for the same command].",
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
    "--weights",
    default=None,
    help="Weights file for the method (default: its registered weights); ppfn/nafnet: 'dim' for the "
    "shipped pair trained for darker frames (default 'agc': full-range frames).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=0,
    show_default=True,
    help="Seed for methods that draw random numbers.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Recompute, replacing a finished result in --out (even an identical one).",
)
@click.option(
    "--prompts",
    type=click.Choice(["oracle", "auto"]),
    default="oracle",
    show_default=True,
    help="oracle: the subset's degradation/scenario (benchmarking); auto: the shipped estimator chooses per frame.",
)
@click.option(
    "--estimator", default=None, help="Estimator checkpoint PATH for --prompts auto (default: shipped)."
)
@click.option(
    "--range",
    "raw_range",
    default="auto",
    show_default=True,
    help="--real frames in raw units: auto | full | LOW,HIGH (e.g. 7000,10000 counts or 290,310 K).",
)
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
    prompts: str,
    estimator: str | None,
    raw_range: str,
    overwrite: bool,
    precision: str,
    channels_last: bool,
    compile_: bool,
    engine: str,
) -> None:
    """Run a method on a benchmark and score it; resumes an interrupted run, loads a finished identical one."""
    from hmtir import distributed
    from hmtir.console import console
    from hmtir.evaluation import evaluate as run_evaluation
    from hmtir.evaluation.report import summary_tables

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
        method_options=network_options(precision, channels_last, compile_, engine),
        prompts=prompts,
        estimator=estimator,
        raw_range=raw_range,
    )
    if distributed.launched() and int(os.environ.get("RANK", "0")) != 0:
        return
    out = console()
    if result.loaded:
        out.print(f"finished results of this evaluation already exist in {result.out}; loaded them")
    for table in summary_tables(result.summary):
        out.print(table)
    out.print(f"results: {result.out} (summary.json, records.parquet, records.csv)")
