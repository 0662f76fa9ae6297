"""``hmtir enhance``: a thin shell over :mod:`hmtir.enhance` (parsing, progress bars, summary table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    help="auto: the estimator decides per frame, or once per clip (clean: left unchanged; one step: one pass with its "
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
@click.option(
    "--codec",
    default=None,
    help="Video encoder for clips (default ffv1: lossless, 8- and 16-bit grey). Any installed encoder that "
    "stores grey at the clip's depth: png (8/16-bit), libx264 (8/10-bit, lossy).",
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
    codec: str | None,
    overwrite: bool,
    weights: str | None,
    estimator_weights: str | None,
    device: str,
    precision: str,
    channels_last: bool,
    compile_: bool,
    engine: str,
) -> None:
    """Enhance real TIR frames and clips (files or folders) and write them to --out in their own units and type.

    Clips (.mp4 .avi .mkv .mov) keep their frame count, rate and timestamps; each gets one prompt decision
    and a time-smoothed AGC (no flicker), recorded in <output>.json. An interrupted clip leaves no output
    under its final name; the next run encodes it again.
    """
    from rich.table import Table

    from hmtir.console import console, progress
    from hmtir.enhance import enhance_paths, judge, plan_outputs, prepare_clips
    from hmtir.io.radiometric import NARROW_FRACTION, RangeSpec
    from hmtir.io.video import is_video
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    spec = RangeSpec.parse(range_)
    jobs = plan_outputs(inputs, out_dir, overwrite=overwrite, codec=codec)
    # build everything first: a missing checkpoint is reported before any progress bar appears
    options = network_options(precision, channels_last, compile_, engine)
    if weights is not None:
        options["weights"] = weights
    runner = load_method(method, device=resolve_device(device), **options)
    estimator = None
    if degradation == AUTO:
        from hmtir.estimate import load_estimator

        estimator = load_estimator(estimator_weights, device=runner.device)
    estimates = None
    clip_jobs = [job for job in jobs if is_video(job.source)]
    if estimator is None and not clip_jobs:  # nothing to check before writing: no bar, no progress line
        clips = {}
    else:
        with progress(label="check") as bar:
            task = bar.add_task("estimate" if estimator is not None else "check clips", total=len(jobs))
            if estimator is not None:
                estimates = judge(jobs, estimator, spec, on_done=lambda *_: bar.advance(task))
            clips = prepare_clips(jobs, spec, estimator, codec, on_done=lambda *_: bar.advance(task))
    frames = sum(plan.info.frames for plan in clips.values()) + len(jobs) - len(clips)
    with progress(label="enhance", rate_unit="frames") as bar:
        task = bar.add_task("enhance", total=frames)
        results = enhance_paths(
            jobs,
            runner,
            degradation,
            range=spec,
            estimator=estimator,
            estimates=estimates,
            clips=clips,
            codec=codec,
            on_frame=lambda: bar.advance(task),
        )
    table = Table(title=f"hmtir enhance: {method} (degradation {degradation}, range {spec})")
    for column in ("input", "output", "size", "type", "range → display", "prompts", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    frame_results = [r for r in results if r.clip is None]
    clip_results = [r for r in results if r.clip is not None]
    for r in frame_results:
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
    if frame_results:
        out.print(table)
    if clip_results:
        out.print(_clip_table(clip_results, method))
    narrow = [
        r
        for r in results
        if (r.mapping is not None and r.mapping.narrow)
        or (r.clip_plan is not None and r.clip_plan.mappings[0].narrow)
    ]
    if narrow:
        out.print(
            f"[yellow]warning:[/] {len(narrow)} frame(s) or clip(s) use less than {NARROW_FRACTION:.0%} of their type's "
            "range but went through --range full (a dark, flat picture for the network); --range auto "
            "maps them by percentile AGC"
        )
    if frame_results:
        total = sum(r.seconds for r in frame_results)
        counts = {
            d: sum(r.degradation == d for r in frame_results)
            for d in dict.fromkeys(r.degradation for r in frame_results)
        }
        summary = ", ".join(f"{n} {d}" for d, n in counts.items())
        out.print(
            f"{len(frame_results)} frame(s) written to {out_dir} in {total:.1f} s of network time ({summary}); "
            "each output's mapping and prompts are in <output>.json"
        )
    if clip_results:
        frames = sum(r.clip.frames for r in clip_results if r.clip is not None)
        out.print(
            f"{len(clip_results)} clip(s), {frames} frame(s) written to {out_dir}; each clip's decision, "
            "AGC smoothing and stability are in <output>.json"
        )


def _clip_table(results: list[Any], method: str) -> Any:
    """One row per clip: frames, frames/s achieved, the clip's decision, its AGC and its stability."""
    from rich.table import Table

    table = Table(title=f"hmtir enhance: clips ({method})")
    columns = ("input", "output", "size", "type", "frames", "rate", "frames/s", "range → display", "prompts")
    for column in (*columns, "stability"):
        table.add_column(column, justify="right" if column in ("frames", "frames/s", "stability") else "left")
    for r in results:
        clip, plan = r.clip, r.clip_plan
        prompts = "unchanged (clean)" if r.degradation == "clean" else r.degradation
        if r.estimate is not None:
            prompts += " · clip median " + " ".join(f"{k[:2]} {v:.2f}" for k, v in r.estimate.scores.items())
        ratio = clip.stability_ratio
        table.add_row(
            str(r.source),
            str(r.target),
            f"{r.size[1]}×{r.size[0]}",
            plan.info.pix_fmt,
            str(clip.frames),
            f"{float(plan.info.rate):.4g}",
            f"{clip.frames_per_second:.2f}",
            plan.describe_mapping(),
            prompts,
            "" if ratio is None else f"{ratio:.3f}",
        )
    table.caption = (
        "stability: mean |out(t) − out(t−1)| / the same for the input (display values; 1 = as steady)"
    )
    return table
