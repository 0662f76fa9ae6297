"""``hmtir list``: what is registered — methods, metrics, models, benchmarks, presets, download sources.

Each catalog is imported only when listed, and a catalog whose module is missing or broken is reported
in one line instead of hiding the others (one broken entry must not break discovery). Methods, metrics
and models are read from their torch-free declarations (``hmtir/*/catalog.py``), so listing them needs
no torch; a module that registers entries itself and fails to import is named in one line. Entries of
installed plugins (:mod:`hmtir.plugins`) are listed from their metadata, with their distribution and
version, without importing them; a plugin name that clashes is named in one line and the exit is non-zero.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Mapping
from typing import Any

import click

from hmtir.errors import HmtirError

# kind -> (module, attribute, what to read). The attribute is a Registry, a name -> entry mapping, or a
# zero-argument function returning either.
CATALOGS: dict[str, tuple[str, str]] = {
    "methods": ("hmtir.methods", "METHODS"),
    "metrics": ("hmtir.metrics", "METRICS"),
    "models": ("hmtir.models", "MODELS"),
    "benchmarks": ("hmtir.commands.catalog", "_benchmarks"),
    "presets": ("hmtir.commands.catalog", "_presets"),
    "sources": ("hmtir.data.sources", "load_sources"),
}

# Fields every entry has but a table has no room for (shown with --json).
# Bulky or secondary fields stay out of the table (an 80-column terminal must still show name, kind and summary);
# `hmtir list --json` has everything.
_HIDDEN = (
    "name",
    "summary",
    "params",
    "ranges",
    "files",
    "mirrors",
    "citation",
    "source",
    "paper",
    "backbone",
    "uses_prompts",
    "version",
    "score_range",
)


def _benchmarks() -> dict[str, Any]:
    """Benchmarks are data (``benchmarks.yaml``, ``$HMTIR_BENCHMARKS``, plugins): read them through their
    registry; a plugin's shows its distribution and version."""
    from hmtir.leaderboard.benchmarks import benchmarks

    rows = {}
    for name, bench in benchmarks().items():
        row = {**dataclasses.asdict(bench), "summary": bench.title}
        if bench.source.startswith("plugin "):
            row["plugin"] = bench.source.removeprefix("plugin ")
        rows[name] = row
    return rows


def _presets() -> dict[str, Any]:
    """Presets are data (``presets.yaml``), not a Registry: read them through their loader."""
    from hmtir.degrade.presets import load_preset, preset_names

    return {name: load_preset(name) for name in preset_names()}


def _as_dict(entry: Any) -> dict[str, Any]:
    meta = getattr(entry, "meta", entry)  # Registry entries carry metadata in .meta
    if hasattr(meta, "as_dict"):
        return dict(meta.as_dict())
    if dataclasses.is_dataclass(meta) and not isinstance(meta, type):
        return dataclasses.asdict(meta)
    if isinstance(meta, Mapping):
        return dict(meta)
    return {"summary": str(meta)}


def _source(kind: str) -> Any:
    module_name, attribute = CATALOGS[kind]
    source = getattr(importlib.import_module(module_name), attribute)
    if callable(source) and not hasattr(source, "names"):
        source = source()
    return source


def load_catalog(kind: str) -> dict[str, dict[str, Any]]:
    """name → metadata dict for one catalog; raises ImportError/AttributeError when it does not exist yet."""
    module_name, attribute = CATALOGS[kind]
    source = _source(kind)
    from hmtir.registry import Registry

    if isinstance(source, Registry):
        return {entry.meta.name: _plugin_row(entry) if entry.origin else _as_dict(entry) for entry in source}
    if isinstance(source, Mapping):
        return {str(name): {"name": str(name), **_as_dict(value)} for name, value in sorted(source.items())}
    raise TypeError(f"{module_name}.{attribute} is neither a Registry nor a mapping")


def _plugin_row(entry: Any) -> dict[str, Any]:
    """A plugin's entry as known without importing it: its name, distribution, version and target (its
    kind, mode and the rest are the plugin's to say once built)."""
    plugin = entry.origin
    summary = f"entry point {plugin.target} (imported when used)"
    return {"name": plugin.name, "plugin": plugin.label, "summary": summary, **plugin.describe()}


def _format(value: Any) -> str:
    if value is None or value == () or value == {}:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, Mapping):
        return str(value.get("filename") or value.get("name") or json.dumps(value, default=str))
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _columns(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Fields with something to show, in first-seen order; hidden bulky fields are left to --json."""
    seen: list[str] = []
    for row in rows.values():
        for key, value in row.items():
            if key not in _HIDDEN and key not in seen and _format(value):
                seen.append(key)
    return seen


# What the short table shows besides name and summary: the one fact you choose by (80 columns must fit).
_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "methods": ("kind", "plugin"),
    "metrics": ("mode", "plugin"),
    "models": (),
    "benchmarks": ("plugin",),
    "presets": (),
    "sources": ("kind",),
}


def _first_clause(text: str) -> str:
    """The summary's first sentence (a '. ' or '; ' before a capital, not after an abbreviation like 'al.')."""
    match = re.search(r"(?<=[a-z0-9)]{4})[.;] (?=[A-Z])", text)
    return (text[: match.start()] if match else text).rstrip(".")


def _render(kind: str, rows: dict[str, dict[str, Any]], long: bool = False, width: int = 80) -> Any:
    """One line per entry that fits ``width`` columns; ``long``: every column, summaries folded."""
    from rich.table import Table

    table = Table(title=f"{kind} ({len(rows)})", title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    columns = _columns(rows) if long else [c for c in _KEY_COLUMNS.get(kind, ()) if c in _columns(rows)]
    used = 4 + max(map(len, rows), default=4)  # borders and padding of the first column
    for column in columns:  # metadata stays on one line each; the summary takes the remaining width
        widest = 26 if column == "plugin" else 18  # "hmtir-plugin-example 0.1.0" whole
        table.add_column(column, overflow="fold", max_width=widest, no_wrap=not long)
        used += 3 + min(widest, max([len(column)] + [len(_format(row.get(column))) for row in rows.values()]))
    table.add_column("summary", overflow="fold")
    room = max(20, width - used - 3)
    for name, row in rows.items():
        summary = _format(row.get("summary"))
        if not long:
            summary = _first_clause(summary)
            summary = summary if len(summary) <= room else summary[: room - 1].rstrip() + "…"
        table.add_row(name, *(_format(row.get(c)) for c in columns), summary)
    return table


def load_failures(kind: str) -> list[str]:
    """One line per module of a registry that failed to import (its entries are missing from the list)."""
    from hmtir.registry import Registry

    source = _source(kind)
    if not isinstance(source, Registry):
        return []
    return [
        f"{kind}: entries of {module} not listed ({why})"
        for module, why in sorted(source.load_errors.items())
    ]


def clashes(kind: str) -> list[str]:
    """The one-line refusals of plugin names of ``kind`` that clash (:mod:`hmtir.plugins`)."""
    from hmtir.registry import Registry

    source = _source(kind)
    return sorted(source.clashes.values()) if isinstance(source, Registry) else []


def _unavailable(kind: str, err: Exception) -> str:
    module_name, attribute = CATALOGS[kind]
    return (
        f"{kind}: not available ({module_name}.{attribute} could not be loaded: {type(err).__name__}: {err})"
    )


@click.command("list")
@click.argument("kinds", nargs=-1, type=click.Choice([*CATALOGS, "all"]))
@click.option("--long", "long", is_flag=True, help="Every metadata column and the full summaries.")
@click.option("--json", "as_json", is_flag=True, help="Print the full metadata as JSON instead of tables.")
def list_entries(kinds: tuple[str, ...], long: bool, as_json: bool) -> None:
    """List registered methods, metrics, models, presets and sources (all when no KIND is given).

    The table shows one line per entry (fits 80 columns); --long adds every column, --json everything.
    """
    from hmtir.console import console as make_console

    wanted = list(CATALOGS) if not kinds or "all" in kinds else list(dict.fromkeys(kinds))
    console = make_console()
    collected: dict[str, Any] = {}
    refused: list[HmtirError] = []
    for kind in wanted:
        try:
            rows = load_catalog(kind)
        except HmtirError as err:  # a user's file (e.g. $HMTIR_SOURCES) is bad: list the rest, then fail
            refused.append(err)
            continue
        except Exception as err:  # one missing or broken catalog is reported; the others are still listed
            if as_json:
                collected[kind] = {"error": f"{type(err).__name__}: {err}"}
            else:
                console.print(_unavailable(kind, err), markup=False, highlight=False, soft_wrap=True)
            continue
        if as_json:
            collected[kind] = rows
        else:
            console.print(_render(kind, rows, long, console.width))
        refused.extend(HmtirError(line) for line in clashes(kind))
        for line in load_failures(kind):  # on stderr with --json, so stdout stays one JSON document
            if as_json:
                click.echo(line, err=True)
            else:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(collected, indent=2, default=str))
    if refused:
        raise refused[0]
