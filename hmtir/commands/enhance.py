"""``hmtir enhance``: run a method on your own TIR frames (any size, 8/16-bit), keeping the bit depth.

The library function :func:`enhance_paths` does the work; the click command adds parsing, a progress
bar and the summary table. Outputs are lossless: PNG (8/16-bit), or TIFF when the input is a TIFF
(so 32-bit float frames stay float). Folders are walked recursively and their layout is mirrored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from hmtir.errors import HmtirError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEGRADATION_CHOICES = ("composite", "contrast", "blur", "noise")


@dataclass(frozen=True)
class EnhanceJob:
    source: Path
    target: Path


@dataclass(frozen=True)
class EnhanceResult:
    source: Path
    target: Path
    size: tuple[int, int]
    bit_depth: int
    seconds: float


def plan_outputs(inputs: Sequence[str | Path], out_dir: str | Path) -> list[EnhanceJob]:
    """Input files (folders expanded recursively) → output paths under ``out_dir``; collisions are errors."""
    out_dir = Path(out_dir)
    jobs: list[EnhanceJob] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(
                p
                for p in item.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                raise HmtirError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {item}")
            jobs += [EnhanceJob(p, out_dir / item.name / _output_name(p.relative_to(item))) for p in found]
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_SUFFIXES:
                raise HmtirError(f"{item} is not an image file (expected one of {', '.join(IMAGE_SUFFIXES)})")
            jobs.append(EnhanceJob(item, out_dir / _output_name(Path(item.name))))
        else:
            raise HmtirError(f"input not found: {item}")
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise HmtirError(
                f"{seen[job.target]} and {job.source} would both be written to {job.target}; enhance them separately"
            )
        seen[job.target] = job.source
    return jobs


def _output_name(relative: Path) -> Path:
    suffix = relative.suffix.lower()
    return relative if suffix in (".png", ".tif", ".tiff") else relative.with_suffix(".png")


def enhance_paths(
    jobs: Iterable[EnhanceJob],
    method: str = "ppfn",
    degradation: str = "composite",
    weights: str | None = None,
    device: str = "auto",
    on_done: Callable[[EnhanceResult], None] | None = None,
    method_options: dict[str, object] | None = None,
) -> list[EnhanceResult]:
    """Enhance each job's frame with ``method`` and write it in the input's bit depth (atomic writes).

    ``method_options`` go to the method's factory (e.g. ``{"precision": "bf16", "compile": True}``).
    """
    import torch

    from hmtir.evaluate.engine import resolve_device
    from hmtir.io.image import read_image, write_image
    from hmtir.methods import load_method

    if degradation not in DEGRADATION_CHOICES:
        raise HmtirError(f"unknown --degradation '{degradation}' (use {', '.join(DEGRADATION_CHOICES)})")
    scenario = "composite" if degradation == "composite" else "single"
    kwargs = {"weights": weights} if weights is not None else {}
    runner = load_method(method, device=resolve_device(device), **kwargs, **(method_options or {}))
    results = []
    for job in jobs:
        frame = read_image(job.source)
        start = time.perf_counter()
        batch = torch.from_numpy(frame.data)[None, None].to(runner.device)
        restored = runner.restore(batch, degradation=degradation, scenario=scenario)
        data = restored[0, 0].float().clamp(0.0, 1.0).cpu().numpy()
        seconds = time.perf_counter() - start
        write_image(job.target, data, bit_depth=frame.bit_depth)
        result = EnhanceResult(job.source, job.target, tuple(frame.data.shape), frame.bit_depth, seconds)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


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
    type=click.Choice(DEGRADATION_CHOICES),
    default="composite",
    show_default=True,
    help="composite: 3 SPT passes (noise, blur, contrast); otherwise one pass with that prompt.",
)
@click.option("--weights", default=None, help="Checkpoint PATH, or 'official' for the released PPFN weights.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda or cuda:N."
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    default="fp32",
    show_default=True,
    help="Autocast precision of the network (fp32 reproduces the release's numerics).",
)
@click.option("--channels-last", is_flag=True, help="NHWC memory format (GPU speed-up).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the network (cached on disk).")
def enhance(
    inputs: tuple[Path, ...],
    out_dir: Path,
    method: str,
    degradation: str,
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

    from hmtir.commands.evaluate import network_options

    jobs = plan_outputs(inputs, out_dir)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]enhance"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task("enhance", total=len(jobs))
        results = enhance_paths(
            jobs,
            method,
            degradation,
            weights,
            device,
            on_done=lambda _: progress.advance(task),
            method_options=network_options(precision, channels_last, compile_),
        )
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
