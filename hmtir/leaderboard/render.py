"""Render the leaderboard: a static site (works from file://, no network), Markdown, CSV and JSON.

As in RobustBench, entries are data files and the page is a template render. The site is one
``index.html`` with a sortable, filterable table (vanilla JS in ``app.js``, data in ``data.js`` because
browsers refuse ``fetch`` of local JSON from file://), per-method detail pages, and plots drawn by
matplotlib as SVG files next to it. Nothing is loaded from outside the output folder.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.leaderboard.paired import LEGEND, PairedCell, paired_cells
from hmtir.leaderboard.ranking import RankedGroup, RankedRow, rank
from hmtir.leaderboard.schema import (
    SUBMISSION_TIER,
    leaderboard_metric_metas,
    leaderboard_metrics,
    load_results,
    metric_meta,
)
from hmtir.vocabulary import subset_info

if TYPE_CHECKING:
    import pandas as pd

#: A row's per-image records (subset, name, one column per metric), or None when it has none.
RecordsOf = Callable[[dict[str, Any]], "pd.DataFrame | None"]

SITE_DIR = Path(__file__).resolve().parent / "site"
ASSETS = ("style.css", "app.js")
FIGURES_DIR = "figures"
MARKDOWN_FILE = "LEADERBOARD.md"
SITE_SCHEMA = "hmtir.leaderboard.site/1"  # in leaderboard.json: marks a folder as a site a build may replace


@dataclass
class GroupPairs:
    """A measured group's paired differences: every row with records against one reference row.

    The reference is the group's ``identity`` row (the degraded input) when it has per-image records,
    else its best-ranked row with records. Only subsets where both rows scored the same frames get a
    number, so each Δ is exactly the difference of the two means the table shows.
    """

    reference: RankedRow | None = None
    cells: dict[str, dict[str, dict[str, PairedCell]]] = field(default_factory=dict)  # key→subset→metric

    def cell(self, row: RankedRow, subset: str, metric: str) -> PairedCell | None:
        return self.cells.get(row.key, {}).get(subset, {}).get(metric)


@dataclass
class BuildReport:
    out: Path
    groups: list[RankedGroup]
    files: list[Path]
    pairs: dict[tuple[str, str], GroupPairs] = field(default_factory=dict)  # (benchmark key, group)


def group_pairs(group: RankedGroup, records_of: RecordsOf) -> GroupPairs:
    """Paired differences of a measured group's rows against its reference row (see :class:`GroupPairs`)."""
    import pandas as pd

    if group.group != "measured":
        return GroupPairs()
    frames = {}
    for row in group.rows:
        records = records_of(row.entry) if row.entry["records"] is not None else None
        if records is not None and not records.empty:
            frames[row.key] = records
    candidates = [row for row in group.rows if row.key in frames]
    reference = next((r for r in candidates if r.method == "identity"), None) or next(
        (r for r in candidates if r.overall_rank == 1), None
    )
    if reference is None or len(candidates) < 2:
        return GroupPairs(reference if len(candidates) >= 2 else None)
    metrics = {m.name: m.lower_better for m in leaderboard_metric_metas()}
    tidy = pd.concat(
        [
            frames[key][["subset", "name", *(m for m in metrics if m in frames[key].columns)]].assign(
                method=key
            )
            for key in frames
        ],
        ignore_index=True,
    )
    tidy = tidy[tidy["subset"].isin(group.subsets)]
    pairs = GroupPairs(reference)
    for cell in paired_cells(tidy, reference.key, metrics, same_frames=True):
        pairs.cells.setdefault(cell.method, {}).setdefault(cell.subset, {})[cell.metric] = cell
    return pairs


def records_from_folder(leaderboard: Path) -> RecordsOf:
    """Rows' records as the leaderboard folder holds them (``records/...csv``, hash-checked on load)."""
    import pandas as pd

    def read(entry: dict[str, Any]) -> pd.DataFrame | None:
        try:
            return pd.read_csv(leaderboard / entry["records"]["file"])
        except (OSError, ValueError) as err:
            raise HmtirError(f"cannot read records {leaderboard / entry['records']['file']}: {err}") from None

    return read


def _degradation(subset: str) -> str:
    info = subset_info(subset)
    return info.degradation if info.paired else "real"


def _fmt(value: float | None, metric: str) -> str:
    return "" if value is None else f"{value:.{metric_meta(metric).decimals}f}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


def detail_page(row: RankedRow) -> str:
    """The row's page: ``methods/<method>.html`` for maintainer rows (one page per method, all benchmarks),
    ``submissions/<id>.html`` for a submission's row, so a submission never writes into a method's page."""
    if row.trust == SUBMISSION_TIER:
        return f"submissions/{_slug(row.entry['provenance']['submission'])}.html"
    return f"methods/{_slug(row.method)}.html"


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
        "benchmarks": list(seen.values()),
        "subsets": subset_info,
        "paired_legend": LEGEND,
        "rows": [
            _row_data(row, group, pairs.get((group.benchmark.key, group.group), GroupPairs()))
            for group in groups
            for row in group.rows
        ],
    }


# ------------------------------------------------------------------------------------ tables


def markdown(groups: list[RankedGroup], pairs: dict[tuple[str, str], GroupPairs] | None = None) -> str:
    """One table per benchmark × trust group, for the README: overall rank, mean rank, average, subsets;
    under a measured group, the paired differences of its rows against its reference row."""
    pairs = pairs or {}
    parts = ["<!-- generated by `hmtir leaderboard build`; do not edit by hand -->", ""]
    for group in groups:
        label = "measured by hmtir" if group.group == "measured" else "reported in papers (not re-measured)"
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
                *([_fmt(row.averages.get("psnr"), "psnr")] if avg else []),
                *(
                    _fmt(row.value(s, group.benchmark.primary_metric[s]), group.benchmark.primary_metric[s])
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


# ------------------------------------------------------------------------------------- plots


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both axes (lower x = faster, higher y = better), by x."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox <= x and oy >= y) and (ox < x or oy > y) for j, (ox, oy) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def _plot(group: RankedGroup, axis: str, target: Path) -> bool:
    """Average PSNR against runtime (with its Pareto front) or against parameter count, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, labels = [], []
    for row in group.rows:
        y = row.averages.get("psnr")
        x = (
            row.entry["runtime"]["seconds_per_image"]
            if axis == "runtime"
            else row.entry["method"].get("parameters")
        )
        if y is not None and x is not None:
            points.append((float(x), float(y)))
            # "$" would start matplotlib mathtext: a submitter's name must not be parsed (or crash the build)
            labels.append(row.entry["method"]["display_name"].replace("$", r"\$"))
    if not points or (axis == "parameters" and max(x for x, _ in points) == 0):
        return False  # nothing to plot, or only classical methods (0 parameters): an empty axis says nothing
    fig, ax = plt.subplots(figsize=(5.2, 3.4), dpi=100)
    xs, ys = zip(*points)
    ax.scatter(xs, ys, s=36, color="#d9480f", zorder=3)
    for (x, y), label in zip(points, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if axis == "runtime":
        front = pareto_front(points)
        ax.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", color="#495057",
                linestyle="--", linewidth=1, label="Pareto front", zorder=2)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (log)")
        ax.legend(loc="best", fontsize=8, frameon=False)
    else:
        ax.set_xscale("symlog", linthresh=1000)
        ax.set_xlim(left=-100)
        ax.set_xlabel("parameters (symlog; 0 = classical)")
    ax.set_ylabel(f"avg PSNR over {len(group.paired_subsets)} subsets (dB)")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    atomic_write_text(target, buffer.getvalue())
    return True


# -------------------------------------------------------------------------------------- pages


def _template(name: str) -> Template:
    return Template((SITE_DIR / name).read_text(encoding="utf-8"))


def _method_page(
    method: str, rows: list[tuple[RankedRow, RankedGroup, GroupPairs]], figures: list[str]
) -> str:
    entry = rows[0][0].entry["method"]
    facts = []
    for label, key in (("Kind", "kind"), ("Paper", "paper"), ("Code", "code"), ("License", "license"),
                       ("Training data", "training_data"), ("Extra data", "extra_data")):  # fmt: skip
        values = {str(r.entry["method"].get(key)) for r, *_ in rows if r.entry["method"].get(key) is not None}
        if values:
            facts.append(f"<dt>{label}</dt><dd>{html.escape('; '.join(sorted(values)))}</dd>")
    sections = []
    for row, group, pairs in rows:
        head = "".join(f"<th>{m.upper()}</th>" for m in leaderboard_metrics())
        paired = pairs.reference is not None and row.key in pairs.cells
        if paired:
            reference = html.escape(pairs.reference.entry["method"]["display_name"])  # type: ignore[union-attr]
            head += f"<th>Δ vs {reference} (ranking metric)</th>"
        body = []
        for subset in group.subsets:
            if subset not in row.entry["subsets"]:
                continue
            cells = "".join(
                f"<td class='num'>{_fmt(row.value(subset, m), m)}</td>" for m in leaderboard_metrics()
            )
            if paired:
                metric = group.benchmark.primary_metric[subset]
                cell = pairs.cell(row, subset, metric)
                text = "" if cell is None else f"{metric.upper()} {cell.text()}"
                cells += f"<td class='num delta'>{html.escape(text)}</td>"
            rank_text = row.subset_ranks.get(subset) or ""
            body.append(f"<tr><td>{html.escape(subset)}</td><td class='num'>{rank_text}</td>{cells}</tr>")
        prov = row.entry["provenance"]
        runtime = row.entry["runtime"]
        note = html.escape(prov["source"])
        if runtime["seconds_per_image"] is not None:
            note += html.escape(
                f" · {runtime['seconds_per_image']:.4f} s/image on {runtime['hardware']} ({runtime['measured_by']})"
            )
        sections.append(
            f"<section><h2>{html.escape(group.benchmark.title)} <span class='tier tier-{row.trust}'>{row.trust}</span></h2>"
            f"<table class='board'><thead><tr><th>Subset</th><th>Rank</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            + (
                f"<p class='muted small legend'>{html.escape(LEGEND.replace('baseline', 'reference'))}.</p>"
                if paired
                else ""
            )
            + f"<p class='muted'>{note}</p></section>"
        )
    figs = "".join(
        f"<figure><img src='../{html.escape(f)}' alt='visual comparison {html.escape(f)}'>"
        f"<figcaption>{html.escape(Path(f).stem)}: degraded | methods | ground truth, with zoomed crops</figcaption></figure>"
        for f in figures
    )
    return _template("method.html").substitute(
        title=html.escape(entry["display_name"]),
        method=html.escape(method),
        facts="".join(facts),
        sections="".join(sections),
        figures=figs or "<p class='muted'>No visual comparison rendered for this method.</p>",
    )


def _is_site(folder: Path) -> bool:
    """True when ``folder`` is a site this function built (its leaderboard.json names the site schema)."""
    marker = folder / "leaderboard.json"
    try:
        if marker.is_symlink() or marker.stat().st_size > 64 << 20:
            return False
        return json.loads(marker.read_text(encoding="utf-8")).get("schema") == SITE_SCHEMA
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def check_site_out(
    sources: Path | Sequence[Path], out: Path, what: str = "the leaderboard data folder"
) -> Path:
    """``out`` as an absolute folder the build may replace: new, empty, or a site built before.

    The whole folder is swapped for the new site, so anything else (the leaderboard data or results it is
    built from, the repository, a file, a folder of the user's) is refused before any work.
    """
    from hmtir.io.safety import output_folder

    out = Path(os.path.abspath(output_folder(out)))
    real_out = os.path.realpath(out)
    for source in [sources] if isinstance(sources, (str, os.PathLike)) else sources:
        real_source = os.path.realpath(source)
        if os.path.commonpath([real_out, real_source]) in (real_out, real_source):
            raise HmtirError(f"--out {out} overlaps {what} {source}; choose another folder")
    if out.is_symlink() or (out.is_dir() and any(out.iterdir()) and not _is_site(out)):
        raise HmtirError(
            f"--out {out} is not empty and not a leaderboard site built by hmtir; it would be replaced as a "
            "whole: choose a new or empty folder"
        )
    return out


def build_site(
    leaderboard: str | os.PathLike[str] = "leaderboard", out: str | os.PathLike[str] = "site"
) -> BuildReport:
    """Render every output from ``leaderboard/results`` into ``out`` (replaced atomically as a whole).

    ``out`` must be new, empty or a previous build (:func:`check_site_out`); nothing else is written.
    """
    leaderboard = Path(leaderboard)
    out = check_site_out(leaderboard, Path(out))
    entries = load_results(leaderboard)
    if not entries:
        raise HmtirError(f"{leaderboard / 'results'} holds no results to render")
    return render_site(entries, out, records_from_folder(leaderboard), leaderboard / FIGURES_DIR)


def render_site(
    entries: Sequence[dict[str, Any]],
    out: Path,
    records_of: RecordsOf,
    figure_root: Path | None = None,
) -> BuildReport:
    """Rank ``entries`` and render the site into ``out`` (already checked by :func:`check_site_out`),
    staged beside it and swapped in as a whole. ``records_of`` gives a row's per-image records (for the
    paired differences); PNG figures under ``figure_root`` are copied in."""
    groups = rank(entries)
    if not groups:
        raise HmtirError("no results to render")
    pairs = {(g.benchmark.key, g.group): group_pairs(g, records_of) for g in groups}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        files = _render_into(staging, groups, pairs, figure_root)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / "site")
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(out, groups, [out / f.relative_to(staging) for f in files], pairs)


def _render_into(
    out: Path,
    groups: list[RankedGroup],
    pairs: dict[tuple[str, str], GroupPairs],
    figure_root: Path | None,
) -> list[Path]:
    files: list[Path] = []

    def write(rel: str, text: str) -> None:
        atomic_write_text(out / rel, text)
        files.append(out / rel)

    data = site_data(groups, pairs)
    figures: list[str] = []
    if figure_root is not None and figure_root.is_dir():
        for file in sorted(figure_root.rglob("*.png")):
            rel = f"{FIGURES_DIR}/{file.relative_to(figure_root).as_posix()}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, out / rel)
            files.append(out / rel)
            figures.append(rel)
    plots = []
    for group in groups:
        if group.group != "measured":
            continue
        for axis, title in (("runtime", "PSNR vs runtime"), ("parameters", "PSNR vs parameters")):
            rel = f"plots/{group.benchmark.key}-psnr-{axis}.svg"
            if _plot(group, axis, out / rel):
                files.append(out / rel)
                plots.append(
                    f"<figure data-benchmark='{group.benchmark.key}'><img src='{rel}' alt='{title} ({group.benchmark.key})'>"
                    f"<figcaption>{title} — {html.escape(group.benchmark.title)}</figcaption></figure>"
                )
    for asset in ASSETS:
        write(asset, (SITE_DIR / asset).read_text(encoding="utf-8"))
    payload = json.dumps(data, indent=1, sort_keys=True, allow_nan=False, ensure_ascii=False)
    write("data.js", f"window.HMTIR_LEADERBOARD = {payload};\n")
    write("leaderboard.json", payload + "\n")
    write("leaderboard.csv", flat_csv(groups, pairs))
    write(MARKDOWN_FILE, markdown(groups, pairs))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    write(
        "index.html",
        _template("index.html").substitute(
            generated=generated, plots="".join(plots) or "<p class='muted'>No measured rows to plot.</p>"
        ),
    )
    by_page: dict[str, list[tuple[RankedRow, RankedGroup, GroupPairs]]] = {}
    for group in groups:
        for row in group.rows:
            rows = by_page.setdefault(detail_page(row), [])
            if rows and rows[0][0].method != row.method:
                raise HmtirError(
                    f"methods {rows[0][0].method} and {row.method} would share the page {detail_page(row)}; "
                    "rename one of them"
                )
            rows.append((row, group, pairs.get((group.benchmark.key, group.group), GroupPairs())))
    for page, rows in sorted(by_page.items()):
        write(page, _method_page(rows[0][0].method, rows, figures))
    return files


def summary_rows(report: BuildReport) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, group, rows, leader, leader's mean rank) for the CLI's closing table."""
    out = []
    for group in report.groups:
        leader = next((r for r in group.rows if r.overall_rank == 1), None)
        out.append((
            group.benchmark.key, group.group, str(len(group.rows)),
            leader.entry["method"]["display_name"] if leader else "—",
            f"{leader.mean_rank:.2f}" if leader and leader.mean_rank is not None and math.isfinite(leader.mean_rank) else "—",
        ))  # fmt: skip
    return out
