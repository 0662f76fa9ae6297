"""Render the leaderboard site: works from file://, no network.

As in RobustBench, entries are data files and the page is a template render. The site is one
``index.html`` with a sortable, filterable table (vanilla JS in ``app.js``, data in ``data.js`` because
browsers refuse ``fetch`` of local JSON from file://), per-method detail pages, and plots drawn by
matplotlib as SVG files next to it (:mod:`~hmtir.leaderboard.plots`), beside the Markdown, CSV and JSON of
:mod:`~hmtir.leaderboard.tables`. Nothing is loaded from outside the output folder.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text, temp_prefix
from hmtir.io.json_file import read_json
from hmtir.leaderboard.columns import leaderboard_metrics
from hmtir.leaderboard.paired import LEGEND
from hmtir.leaderboard.plots import plot_group
from hmtir.leaderboard.ranking import RECORDED_GROUPS, RankedGroup, RankedRow, rank
from hmtir.leaderboard.store import load_results
from hmtir.leaderboard.table_model import (
    GroupPairs,
    RecordsOf,
    detail_page,
    fmt_value,
    group_pairs,
    records_from_folder,
)
from hmtir.leaderboard.tables import SITE_SCHEMA, flat_csv, markdown, site_data

SITE_DIR = Path(__file__).resolve().parent / "site"
ASSETS = ("style.css", "app.js")
FIGURES_DIR = "figures"
MARKDOWN_FILE = "LEADERBOARD.md"


@dataclass
class BuildReport:
    out: Path
    groups: list[RankedGroup]
    files: list[Path]
    pairs: dict[tuple[str, str], GroupPairs] = field(default_factory=dict)  # (benchmark key, group)


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
                f"<td class='num'>{fmt_value(row.value(subset, m), m)}</td>" for m in leaderboard_metrics()
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
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        data = read_json(marker, "site marker")
    except HmtirError:  # not JSON, too large, too deep: not a site we built
        return False
    return isinstance(data, dict) and data.get("schema") == SITE_SCHEMA


def check_site_out(
    sources: Path | Sequence[Path], out: str | os.PathLike[str], what: str = "the leaderboard data folder"
) -> Path:
    """``out`` as an absolute folder the build may replace: new, empty, or a site built before.

    The whole folder is swapped for the new site, so anything else (the leaderboard data or results it is
    built from, the repository, a file, a folder of the user's) is refused before any work.
    """
    from hmtir.io.safety import check_output_folder

    # never the root or "" (the current folder); the non-empty rule is stricter here (below): no override
    out = Path(os.path.abspath(check_output_folder(out, overwrite=True)))
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
    out = check_site_out(leaderboard, out)
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
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name, "building-"), dir=out.parent))
    try:
        files = _render_into(staging, groups, pairs, figure_root)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name, "old-"), dir=out.parent))
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
        if group.group not in RECORDED_GROUPS:
            continue
        for axis, title in (("runtime", "PSNR vs runtime"), ("parameters", "PSNR vs parameters")):
            rel = f"plots/{group.benchmark.key}-psnr-{axis}.svg"
            if plot_group(group, axis, out / rel):
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
