"""The leaderboard as data and tables: the site's JSON (also ``leaderboard.json``), the README's Markdown
and the long-format CSV."""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from typing import Any

from hmtir.leaderboard.columns import leaderboard_metric_metas, leaderboard_metrics
from hmtir.leaderboard.paired import LEGEND
from hmtir.leaderboard.ranking import GROUP_ORDER, RankedGroup, RankedRow
from hmtir.leaderboard.table_model import GroupPairs, detail_page, fmt_value
from hmtir.vocabulary import subset_info

SITE_SCHEMA = "hmtir.leaderboard.site/1"  # in leaderboard.json: marks a folder as a site a build may replace
#: What each ranking is, above its Markdown table: who stands behind its numbers.
GROUP_TITLES = {
    "measured": "measured by hmtir",
    "user": "from your results folders (your evaluate runs; not re-scored by hmtir)",
    "reported": "reported in papers (not re-measured)",
}


def _degradation(subset: str) -> str:
    info = subset_info(subset)
    return info.degradation if info.paired else "real"


#: Characters with a meaning in (GitHub-flavoured) Markdown inline text or tables; backslash-escaped.
_MARKDOWN_PUNCTUATION = frozenset("\\`*_[]|~$")


def markdown_text(text: str) -> str:
    """User text as inert Markdown table-cell content, as the site's ``html.escape``: one line, HTML as
    entities, and every character that could start a link, code span, emphasis, math or a new cell
    escaped. Control characters are dropped and line breaks become spaces (a newline ends a table row)."""
    flat = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text).split())
    return "".join(
        html.escape(ch) if ch in "&<>\"'" else "\\" + ch if ch in _MARKDOWN_PUNCTUATION else ch for ch in flat
    )


def _row_data(row: RankedRow, group: RankedGroup, pairs: GroupPairs) -> dict[str, Any]:
    entry = row.entry
    runtime = entry["runtime"]
    return {
        "id": f"{group.benchmark.key}:{row.trust}:{row.method}",
        "benchmark": group.benchmark.key,
        "group": group.group,
        "method": row.method,
        "key": row.key,
        "display": entry["method"]["display_name"],
        "kind": entry["method"]["kind"],
        "trust": row.trust,
        "parameters": entry["method"].get("parameters"),
        "seconds": runtime["seconds_per_image"],
        "runtime_by": runtime["measured_by"],
        "hardware": runtime["hardware"],
        "overall_rank": row.overall_rank,
        "mean_rank": row.mean_rank,
        "avg_psnr": row.averages.get("psnr"),
        "avg_ssim": row.averages.get("ssim"),
        "detail": detail_page(row),
        "reference": pairs.reference is not None and row.key == pairs.reference.key,
        "paired": {
            subset: {metric: cell.as_dict() for metric, cell in by_metric.items()}
            for subset, by_metric in pairs.cells.get(row.key, {}).items()
        },
        "subsets": {
            subset: {
                "rank": row.subset_ranks.get(subset),
                **{m: row.value(subset, m) for m in leaderboard_metrics()},
                "seconds": entry["subsets"][subset]["seconds_per_image"]
                if subset in entry["subsets"]
                else None,
            }
            for subset in group.subsets
        },
    }


def site_data(
    groups: list[RankedGroup], pairs: dict[tuple[str, str], GroupPairs] | None = None
) -> dict[str, Any]:
    """Everything the page's script needs, as plain JSON (also the ``leaderboard.json`` download)."""
    pairs = pairs or {}
    seen: dict[str, dict[str, Any]] = {}
    for group in groups:
        bench = group.benchmark
        info = seen.setdefault(
            bench.key,
            {
                "key": bench.key,
                "name": bench.name,
                "title": bench.title,
                "description": bench.description,
                "subsets": [],
                "paired_vs": None,
            },
        )
        info["subsets"] = [s for s in bench.subsets if s in set(info["subsets"]) | set(group.subsets)]
        reference = pairs.get((bench.key, group.group), GroupPairs()).reference
        if reference is not None:
            info["paired_vs"] = reference.entry["method"]["display_name"]
    subset_info = {
        s: {"degradation": _degradation(s), "primary": g.benchmark.primary_metric[s]}
        for g in groups
        for s in g.benchmark.subsets
    }
    return {
        "schema": SITE_SCHEMA,
        "metrics": {
            meta.name: {"lower_better": meta.lower_better, "decimals": meta.decimals}
            for meta in leaderboard_metric_metas()
        },
        "metric_order": list(leaderboard_metrics()),
        "group_order": list(GROUP_ORDER),
        "benchmarks": list(seen.values()),
        "subsets": subset_info,
        "paired_legend": LEGEND,
        "rows": [
            _row_data(row, group, pairs.get((group.benchmark.key, group.group), GroupPairs()))
            for group in groups
            for row in group.rows
        ],
    }


def markdown(groups: list[RankedGroup], pairs: dict[tuple[str, str], GroupPairs] | None = None) -> str:
    """One table per benchmark × trust group, for the README: overall rank, mean rank, average, subsets;
    under a group with per-image records, the paired differences of its rows against its reference row."""
    pairs = pairs or {}
    parts = ["<!-- generated by `hmtir leaderboard build`; do not edit by hand -->", ""]
    for group in groups:
        label = GROUP_TITLES[group.group]
        parts.append(f"### {markdown_text(group.benchmark.title)} — {label}")
        parts.append("")
        subset_cols = [f"{s} ({group.benchmark.primary_metric[s].upper()})" for s in group.subsets]
        avg = f"Avg PSNR ({len(group.paired_subsets)} subsets)" if group.paired_subsets else None
        header = [
            "Rank",
            "Method",
            "Tier",
            "Mean rank",
            *([avg] if avg else []),
            *subset_cols,
            "s/img",
            "Params",
        ]
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join("---:" if i != 1 and i != 2 else "---" for i in range(len(header))) + "|")
        for row in group.rows:
            cells = [
                "" if row.overall_rank is None else str(row.overall_rank),
                markdown_text(row.entry["method"]["display_name"]),
                row.trust,
                "" if row.mean_rank is None else f"{row.mean_rank:.2f}",
                *([fmt_value(row.averages.get("psnr"), "psnr")] if avg else []),
                *(
                    fmt_value(
                        row.value(s, group.benchmark.primary_metric[s]), group.benchmark.primary_metric[s]
                    )
                    for s in group.subsets
                ),
                ""
                if row.entry["runtime"]["seconds_per_image"] is None
                else f"{row.entry['runtime']['seconds_per_image']:.3f}",
                _params(row.entry["method"].get("parameters")),
            ]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
        parts.extend(_paired_markdown(group, pairs.get((group.benchmark.key, group.group), GroupPairs())))
    parts.append(
        "Empty cells: not measured or not reported. Ranks are per benchmark and per trust group; ties share a rank."
    )
    return "\n".join(parts) + "\n"


def _paired_markdown(group: RankedGroup, pairs: GroupPairs) -> list[str]:
    """The group's Δ table (primary metric per subset) and, right under it, what its "±" means."""
    reference = pairs.reference
    rows = [row for row in group.rows if row.key in pairs.cells]
    if reference is None or not rows:
        return []
    name = markdown_text(reference.entry["method"]["display_name"])
    primary = group.benchmark.primary_metric
    parts = [
        f"Paired difference vs {name} on the same frames (Δ of each subset's ranking metric, per image):",
        "",
        "| Method | Tier | " + " | ".join(f"{s} (Δ {primary[s].upper()})" for s in group.subsets) + " |",
        "|---|---|" + "---:|" * len(group.subsets),
    ]
    for row in rows:
        cells = []
        for subset in group.subsets:
            cell = pairs.cell(row, subset, primary[subset])
            cells.append("" if cell is None else markdown_text(cell.text()))
        parts.append(
            f"| {markdown_text(row.entry['method']['display_name'])} | {row.trust} | {' | '.join(cells)} |"
        )
    parts += ["", markdown_text(LEGEND.replace("baseline", "reference")) + ".", ""]
    return parts


def _params(value: int | None) -> str:
    if value is None:
        return ""
    if value >= 1_000_000:
        return f"{value / 1e6:.1f}M"
    if value >= 1_000:
        return f"{value / 1e3:.1f}k"
    return str(value)


def flat_csv(groups: list[RankedGroup], pairs: dict[tuple[str, str], GroupPairs] | None = None) -> str:
    """One line per row × subset: the long format spreadsheets and pandas like (with the paired Δ of the
    subset's ranking metric against the group's reference row, where there is one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "benchmark",
            "trust",
            "method",
            "kind",
            "subset",
            "rank",
            *leaderboard_metrics(),
            "seconds_per_image",
            "parameters",
            "paired_vs",
            "paired_metric",
            "mean_difference",
            "ci_low",
            "ci_high",
            "p_value",
        ]
    )
    pairs = pairs or {}
    for group in groups:
        group_pairs = pairs.get((group.benchmark.key, group.group), GroupPairs())
        for row in group.rows:
            for subset in group.subsets:
                if subset not in row.entry["subsets"]:
                    continue
                block = row.entry["subsets"][subset]
                cell = group_pairs.cell(row, subset, group.benchmark.primary_metric[subset])
                c = cell.comparison if cell is not None else None
                paired = (
                    ["", "", "", "", "", ""]
                    if c is None
                    else [group_pairs.reference.method, cell.metric, repr(c.mean_difference), repr(c.ci_low),
                          repr(c.ci_high), repr(c.p_value)]  # type: ignore[union-attr]
                )  # fmt: skip
                writer.writerow([
                    group.benchmark.key, row.trust, row.method, row.entry["method"]["kind"], subset,
                    row.subset_ranks.get(subset) or "",
                    *("" if block["metrics"][m] is None else repr(block["metrics"][m]) for m in leaderboard_metrics()),
                    "" if block["seconds_per_image"] is None else repr(block["seconds_per_image"]),
                    row.entry["method"].get("parameters") if row.entry["method"].get("parameters") is not None else "",
                    *paired,
                ])  # fmt: skip
    return buffer.getvalue()
