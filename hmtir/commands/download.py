"""``hmtir download NAME...``: a thin shell over :func:`hmtir.data.download.download`."""

from __future__ import annotations

from pathlib import Path

import click

from hmtir.commands._output import OVERWRITE_HELP, OutFolder


@click.command("download")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--dir",
    "directory",
    type=OutFolder(file_okay=False, path_type=Path),
    help="Put files here instead of the default location.",
)
@click.option("--mirror", help="Prefer this mirror (name or kind: gdrive, hf, http, github-raw).")
@click.option("--offline", is_flag=True, help="Never use the network; report where missing files must go.")
@click.option(
    "--progress/--no-progress", default=True, help="Show transfer progress (a bar, or lines in a log)."
)
@click.option(
    "--repair",
    is_flag=True,
    help="Fetch and verify the files again, replacing a wrong copy and its entry in hmtir.lock.json.",
)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
def download(
    names: tuple[str, ...],
    directory: Path | None,
    mirror: str | None,
    offline: bool,
    progress: bool,
    repair: bool,
    overwrite: bool,
) -> None:
    """Download datasets and weights (see `hmtir list sources`), verified and unpacked safely."""
    from rich.table import Table

    from hmtir.console import console
    from hmtir.data.download import download as fetch
    from hmtir.data.sources import expand, load_sources

    registry = load_sources()
    sources = expand(registry, list(names))  # validates the names before any transfer starts
    paths = fetch(
        list(names),
        dir=directory,
        mirror=mirror,
        offline=offline,
        progress=progress,
        repair=repair,
        overwrite=overwrite,
    )
    table = Table(title="hmtir download")
    table.add_column("source")
    table.add_column("kind")
    table.add_column("license")
    table.add_column("path")
    owners = [meta for meta in sources for _ in meta.files]
    for meta, path in zip(owners, paths):
        table.add_row(meta.name, meta.kind, meta.license or "", str(path))
    console().print(table)
