"""``hmtir export --format hf DIR --out OUT [--push REPO]``: a thin shell over :mod:`hmtir.data.export`."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OutFolder


@click.command("export")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hf"]),
    default="hf",
    show_default=True,
    help="Output format (hf: a Hugging Face dataset folder: Parquet configs + dataset card).",
)
@click.option("--out", required=True, type=OutFolder(path_type=Path), help="Folder to create.")
@click.option("--subsets", default=None, help="Comma list of subsets (default: every subset present).")
@click.option(
    "--source",
    default=None,
    help="Where the clean frames come from, when the tree does not record it: a dataset of "
    "`hmtir list sources` (e.g. hit-uav) or hmtir-scenes. Sets the card's licence and attribution.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing --out (only once the new one is complete)."
)
@click.option(
    "--push",
    "repo",
    default=None,
    metavar="OWNER/NAME",
    help="Then upload the folder to this Hugging Face dataset repo (created if needed; token from HF_TOKEN "
    "or `hf auth login`; endpoint from HF_ENDPOINT).",
)
@click.option("--private", is_flag=True, help="With --push: create the repo private.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def export(
    root: Path,
    fmt: str,
    out: Path,
    subsets: str | None,
    source: str | None,
    overwrite: bool,
    repo: str | None,
    private: bool,
    progress: bool,
) -> None:
    """Export an HM-TIR tree as a Hugging Face dataset (clean frames once, typed parameters, card)."""
    from rich.table import Table

    from hmtir.console import console
    from hmtir.data.export import export_hf, hub_token, push_hf
    from hmtir.data.layout import parse_subsets

    token = hub_token(repo) if repo else None  # no token, no export: fail before the long part
    chosen = parse_subsets(subsets) if subsets else None
    report = export_hf(root, out, chosen, overwrite=overwrite, source=source, repo=repo, progress=progress)
    table = Table(title=f"hmtir export → {report.out}")
    for column, justify in (("config", "left"), ("split", "left"), ("rows", "right"), ("shards", "right")):
        table.add_column(column, justify=justify)
    table.add_column("MiB", justify="right")
    for s in report.splits:
        table.add_row(s.config, s.split, str(s.rows), str(s.shards), f"{s.bytes / 2**20:.2f}")
    screen = console()
    screen.print(table)
    credit = report.attribution
    screen.print(f"source frames: {credit.summary}; licence: {credit.license} ({credit.how})", markup=False)
    if credit.source is None:
        screen.print("warning: the licence of the source frames is not recorded; name it with --source")
    if report.without_params:
        screen.print(f"warning: {report.without_params} degraded row(s) have no manifest record")
    screen.print(f"load it with datasets.load_dataset('{report.out}', 'degraded')", markup=False)
    if repo:
        url = push_hf(report.out, repo, token=token, private=private or None)
        screen.print(f"pushed to {url}", markup=False)
