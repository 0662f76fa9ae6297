"""``hmtir compare``: degraded | methods | ground truth side by side, with zoomed crops and PSNR/SSIM."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="HM-TIR layout (imgs/ + subset folders)."
)
@click.option("--image", required=True, help="Image file name, e.g. street_000.png.")
@click.option("--methods", required=True, help="Comma list of registered methods, e.g. identity,wfaf,lrsid.")
@click.option(
    "--subset", default="composited/normal", show_default=True, help="Which degraded subset to restore."
)
@click.option(
    "--crop", default=None, help="Zoom window x,y,w,h [default: the most detailed quarter-size window]."
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output PNG.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def compare(
    data: Path,
    image: str,
    methods: str,
    subset: str,
    crop: str | None,
    device: str,
    out: Path,
    overwrite: bool,
) -> None:
    """Side-by-side visual comparison of methods on one image."""
    from rich.console import Console
    from rich.table import Table

    from hmtir.leaderboard.compare import compare_grid, parse_crop

    names = [m.strip() for m in methods.split(",") if m.strip()]
    scores = compare_grid(
        data, image, names, out, subset=subset, crop=parse_crop(crop), device=device, overwrite=overwrite
    )
    table = Table(title=f"{image} · {subset} → {out}", title_justify="left")
    table.add_column("panel", style="bold")
    table.add_column("PSNR (dB)", justify="right")
    table.add_column("SSIM", justify="right")
    for name, (p, s) in scores.items():
        table.add_row(name, f"{p:.2f}", f"{s:.4f}")
    Console().print(table)
