"""``hmtir compare``: paired statistics between evaluated methods, or one frame side by side as a picture."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.engines import DEFAULT_ENGINE, ENGINE_CHOICES

_STATS_ONLY = ("baseline", "metrics", "plot", "draws")
_IMAGE_ONLY = ("data", "methods", "subset", "crop", "device", "engine", "out")


@click.command()
@click.argument("results", nargs=-1, type=click.Path(path_type=Path), metavar="[RESULT_DIR]...")
@click.option(
    "--baseline",
    default="identity",
    show_default=True,
    help="[statistics] The method every other one is compared against.",
)
@click.option(
    "--metrics", default=None, help="[statistics] Comma list [default: every metric in the results]."
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    default=None,
    help="[statistics] Also draw a forest plot of the differences (.png, .svg or .pdf).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1000, max=1_000_000),
    default=10_000,
    show_default=True,
    help="[statistics] Bootstrap and permutation draws.",
)
@click.option(
    "--image", default=None, help="[picture] Frame file name, e.g. street_000.png: selects picture mode."
)
@click.option(
    "--data", type=click.Path(path_type=Path), default=None, help="[picture] HM-TIR layout (imgs/ + subsets)."
)
@click.option(
    "--methods", default=None, help="[picture] Comma list of registered methods, e.g. identity,wfaf."
)
@click.option(
    "--subset", default="composited/normal", show_default=True, help="[picture] Which degraded subset."
)
@click.option(
    "--crop", default=None, help="[picture] Zoom window x,y,w,h [default: the most detailed quarter]."
)
@click.option("--device", default="cpu", show_default=True, help="[picture] cpu or cuda.")
@click.option(
    "--engine",
    type=click.Choice(ENGINE_CHOICES),
    default=DEFAULT_ENGINE,
    show_default=True,
    help="[picture] What runs network methods' passes (auto: the fastest correct one on this CPU).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[picture] Output PNG.")
@click.option("--overwrite", is_flag=True, help="Replace --out / --plot if it exists.")
@click.pass_context
def compare(
    ctx: click.Context,
    results: tuple[Path, ...],
    baseline: str,
    metrics: str | None,
    plot: Path | None,
    draws: int,
    image: str | None,
    data: Path | None,
    methods: str | None,
    subset: str,
    crop: str | None,
    device: str,
    engine: str,
    out: Path | None,
    overwrite: bool,
) -> None:
    """Compare methods: statistics from evaluate results, or a picture of one frame.

    \b
    Statistics:  hmtir compare RESULT_DIR... [--baseline identity] [--plot forest.png]
        per subset and metric, each method minus the baseline on the same frames: mean
        difference ± half-width of its 95 % paired bootstrap interval, and a paired
        permutation p-value (RESULT_DIR: `hmtir evaluate` outputs, or folders holding them)
    Picture:     hmtir compare --image NAME --data DIR --methods a,b --out grid.png
        degraded | each method | ground truth, with zoomed crops and PSNR/SSIM
    """
    from hmtir.errors import HmtirError

    given = {
        name for name in (*_STATS_ONLY, *_IMAGE_ONLY)
        if (src := ctx.get_parameter_source(name)) is not None and src.name != "DEFAULT"
    }  # fmt: skip
    if image is not None:
        if results or given & set(_STATS_ONLY):
            stray = "RESULT_DIR" if results else f"--{sorted(given & set(_STATS_ONLY))[0]}"
            raise HmtirError(f"{stray} belongs to statistics mode; picture mode (--image) takes --data, "
                             "--methods and --out (see hmtir compare --help)")  # fmt: skip
        missing = [f"--{n}" for n, v in (("data", data), ("methods", methods), ("out", out)) if v is None]
        if missing:
            raise HmtirError(f"picture mode (--image) also needs {', '.join(missing)}")
        _picture(data, image, methods, subset, crop, device, out, overwrite, engine)  # type: ignore[arg-type]
        return
    if given & set(_IMAGE_ONLY):
        raise HmtirError(f"--{sorted(given & set(_IMAGE_ONLY))[0]} belongs to picture mode: add --image NAME, or "
                         "give RESULT_DIR... for statistics (see hmtir compare --help)")  # fmt: skip
    if not results:
        raise HmtirError(
            "nothing to compare: give evaluate result folders (hmtir compare RESULT_DIR...) or a frame "
            "(hmtir compare --image NAME --data DIR --methods a,b --out grid.png)"
        )
    _statistics(results, baseline, metrics, plot, draws, overwrite)


def _statistics(
    results: tuple[Path, ...],
    baseline: str,
    metrics: str | None,
    plot: Path | None,
    draws: int,
    overwrite: bool,
) -> None:
    from hmtir.console import console
    from hmtir.leaderboard.paired import check_plot, compare_results, forest_plot, report_table

    if plot is not None:
        check_plot(plot, overwrite)  # before the work, not after it
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    report = compare_results(results, baseline, names, draws=draws)
    term = console()
    term.print(report_table(report))
    if plot is not None:
        term.print(f"forest plot: {forest_plot(report, plot, overwrite=overwrite)}")


def _picture(
    data: Path,
    image: str,
    methods: str,
    subset: str,
    crop: str | None,
    device: str,
    out: Path,
    overwrite: bool,
    engine: str = DEFAULT_ENGINE,
) -> None:
    from rich.table import Table

    from hmtir.console import console
    from hmtir.leaderboard.compare import compare_grid, parse_crop

    names = [m.strip() for m in methods.split(",") if m.strip()]
    scores = compare_grid(
        data,
        image,
        names,
        out,
        subset=subset,
        crop=parse_crop(crop),
        device=device,
        overwrite=overwrite,
        engine=engine,
    )
    table = Table(title=f"{image} · {subset} → {out}", title_justify="left")
    table.add_column("panel", style="bold")
    table.add_column("PSNR (dB)", justify="right")
    table.add_column("SSIM", justify="right")
    for name, (p, s) in scores.items():
        table.add_row(name, f"{p:.2f}", f"{s:.4f}")
    console().print(table)
