"""``hmtir synthesize``: degrade clean TIR frames into the HM-TIR layout (thin shell over the library)."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OVERWRITE_HELP, OutFolder

PRESET_CHOICES = ("all", "normal", "hard", "single-contrast", "single-blur", "single-noise")


@click.command("synthesize")
@click.option("--source", required=True, type=click.Path(path_type=Path), help="Folder of clean frames.")
@click.option(
    "--out", required=True, type=OutFolder(path_type=Path), help="Root of the HM-TIR tree to write."
)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    default=("all",),
    show_default=True,
    help=f"Preset(s) to synthesise, repeatable or comma-separated: {', '.join(PRESET_CHOICES)}.",
)
@click.option(
    "--gate", default=0.8, show_default=True, type=float, help="Probability that each op is applied."
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Fixes every sampled parameter (0 to 2**63-1)."
)
@click.option(
    "--workers", default=1, show_default=True, type=int, help="Processes; output is identical for any N."
)
@click.option(
    "--from-manifest",
    type=click.Path(path_type=Path),
    default=None,
    help="Re-create the images recorded in this manifest.jsonl (ignores --preset/--seed/--gate).",
)
def synthesize(
    source: Path,
    out: Path,
    presets: tuple[str, ...],
    gate: float,
    seed: int,
    workers: int,
    from_manifest: Path | None,
    overwrite: bool,
) -> None:
    """Degrade clean TIR frames into the HM-TIR layout (imgs/, composited/, single/, meta/)."""
    from rich.table import Table

    from hmtir.console import console as make_console
    from hmtir.degrade.synthesize import synthesize as run

    names = [(p.strip(), spec) for spec in presets for p in spec.split(",")]
    for name, spec in names:  # a blank entry is refused, not dropped: `--preset ''` would write nothing
        if name not in PRESET_CHOICES:
            what = f"'{name}'" if name else f"an empty preset name (in {spec!r})"
            raise click.BadParameter(
                f"{what} is not one of {', '.join(PRESET_CHOICES)}", param_hint="--preset"
            )
    report = run(
        source,
        out,
        presets=[name for name, _ in names],
        gate=gate,
        seed=seed,
        workers=workers,
        from_manifest=from_manifest,
        overwrite=overwrite,
    )

    title = f"HM-TIR synthesis → {report.out}"
    table = Table(title=title, min_width=len(title) + 4)  # the whole path on one line where the width allows
    table.add_column("subset")
    table.add_column("images", justify="right")
    table.add_column("mean PSNR (dB)", justify="right")
    table.add_column("mean grey shift", justify="right")
    for subset, s in report.subsets.items():
        table.add_row(subset, str(s.images), f"{s.mean_psnr:.2f}", f"{s.mean_grey_shift:+.1f}")
    console = make_console()  # the terminal's width; full width in a log file
    console.print(table)
    console.print(
        f"{report.images} frames: {report.written} outputs written, {report.skipped} already complete."
    )
