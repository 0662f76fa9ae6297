"""``hmtir export --format hf DIR --out OUT``: a thin shell over :func:`hmtir.data.export.export_hf`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hf"]),
    default="hf",
    show_default=True,
    help="Output format (hf: Hugging Face DatasetDict via save_to_disk).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to create.")
@click.option("--subsets", default=None, help="Comma list of subsets (default: every subset present).")
def export(root: Path, fmt: str, out: Path, subsets: str | None) -> None:
    """Export an HM-TIR tree (one split per subset, images, scene, degradation parameters)."""
    from hmtir.data.export import export_hf
    from hmtir.data.layout import parse_subsets

    chosen = parse_subsets(subsets) if subsets else None
    path = export_hf(root, out, chosen)
    click.echo(f"wrote {path} (load it with datasets.load_from_disk)")
