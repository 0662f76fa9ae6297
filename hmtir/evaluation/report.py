"""Rich tables of an evaluation summary: one row per subset, and per scene when the layout has labels."""

from __future__ import annotations

from typing import Any

from rich.table import Table

#: What the "±" of these tables is (every table that prints "±" says so under it).
STD_LEGEND = (
    "mean ± population standard deviation over the images (spread of the per-image scores, not a "
    "confidence interval; for whether two methods differ use hmtir compare RESULT_DIR...)"
)


def _cell(stats: dict[str, float | None]) -> str:
    mean, std = stats.get("mean"), stats.get("std")
    if mean is None:
        return "n/a"
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def _metric_header(name: str, info: dict[str, Any]) -> str:
    return f"{name} {'↓' if info.get('lower_better') else '↑'}"


def _table(
    title: str, first_column: str, groups: dict[str, dict[str, Any]], metrics: dict[str, Any]
) -> Table:
    table = Table(title=title, title_justify="left", caption=STD_LEGEND, caption_justify="left")
    table.add_column(first_column, style="bold")
    for name, info in metrics.items():
        table.add_column(_metric_header(name, info), justify="right")
    table.add_column("images", justify="right")
    table.add_column("s/img", justify="right")
    for label, group in groups.items():
        seconds = group.get("seconds_per_image")
        table.add_row(
            label,
            *(_cell(group["metrics"][name]) for name in metrics),
            str(group["images"]),
            f"{seconds:.3g}" if seconds is not None else "n/a",
        )
    return table


def summary_tables(summary: dict[str, Any]) -> list[Table]:
    """The subset table (mean ± population std per metric, images, seconds per image), then scene tables."""
    method = summary["method"]["name"]
    metrics = summary["metrics"]
    subsets = summary["subsets"]
    tables = [
        _table(
            f"{method} ({summary['convention']} convention, {summary['device']})", "subset", subsets, metrics
        )
    ]
    for subset, entry in subsets.items():
        if entry.get("scenes"):
            tables.append(_table(f"{method} · {subset} by scene", "scene", entry["scenes"], metrics))
    return tables
