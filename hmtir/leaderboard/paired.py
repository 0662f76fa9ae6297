"""Is a method really better than the baseline? Paired differences on the same frames, as a table and a picture.

``hmtir compare RESULT_DIR... [--baseline NAME]`` and the leaderboard both compare methods through
:func:`hmtir.evaluation.stats.compare_records`: per subset and metric, the mean per-frame difference
(method − baseline), its paired bootstrap confidence interval and the paired sign-flip permutation p-value.
A cell that cannot be computed (the frames differ, a score is infinite, fewer than two frames) says why
instead of stopping the rest. Every table that prints "±" carries :data:`~hmtir.evaluation.stats.PLUS_MINUS`
under it, so a reader never has to guess what the number means.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from hmtir.errors import HmtirError
from hmtir.evaluation.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_DRAWS,
    PLUS_MINUS,
    PairedComparison,
    compare_records,
    format_difference,
)

DEFAULT_BASELINE = "identity"
#: What the p-value of every paired table is (stats.py: two-sided paired sign-flip permutation test).
P_VALUE = "p = two-sided paired sign-flip permutation test"
LEGEND = f"{PLUS_MINUS}; Δ = method − baseline on the same frames; {P_VALUE}"
_COMPARISON_FIELDS = tuple(f.name for f in fields(PairedComparison))


def metric_decimals(metric: str) -> int:
    """Display precision of ``metric`` (its MetricMeta), 3 for a metric the registry does not know."""
    from hmtir.metrics import METRICS

    return METRICS.meta(metric).decimals if metric in METRICS else 3


@dataclass(frozen=True)
class PairedCell:
    """``method`` − ``baseline`` on one subset and metric, or why that comparison has no number."""

    method: str
    baseline: str
    subset: str
    metric: str
    lower_better: bool
    comparison: PairedComparison | None
    reason: str | None = None

    @property
    def better(self) -> bool | None:
        """True/False when the interval excludes zero in the metric's good/bad direction; None otherwise."""
        c = self.comparison
        if c is None or not c.significant:
            return None
        return (c.mean_difference < 0) if self.lower_better else (c.mean_difference > 0)

    def text(self, decimals: int | None = None) -> str:
        """``+0.41 ± 0.12 (p=0.003)``, or ``n/a (<reason>)``."""
        if self.comparison is None:
            return f"n/a ({self.reason})"
        return format_difference(
            self.comparison, metric_decimals(self.metric) if decimals is None else decimals
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the comparison's numbers (or ``reason``), for the site and CSV downloads."""
        out: dict[str, Any] = {"baseline": self.baseline, "metric": self.metric}
        if self.comparison is None:
            return {**out, "reason": self.reason}
        c = self.comparison
        return {
            **out,
            "frames": c.frames,
            "mean_difference": c.mean_difference,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "half_width": c.half_width,
            "confidence": c.confidence,
            "p_value": c.p_value,
            "draws": c.draws,
            "wins": c.wins,
            "losses": c.losses,
            "text": self.text(),
        }


def paired_cells(
    records: pd.DataFrame,
    baseline: str,
    metrics: dict[str, bool],
    *,
    methods: Sequence[str] | None = None,
    same_frames: bool = False,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> list[PairedCell]:
    """Every method (or ``methods``) against ``baseline``, per subset (baseline's order) and metric.

    ``records``: tidy per-frame rows (method, subset, name, metric columns, optionally input_sha256).
    ``metrics``: name → lower_better. A subset or metric a side did not measure gives no cell;
    ``same_frames`` turns a subset whose frame names differ into an ``n/a`` cell instead of comparing the
    frames both have (the leaderboard's rule: its Δ must be the difference of the means it shows).
    """
    base = records[records["method"] == baseline]
    methods = [m for m in (methods or dict.fromkeys(records["method"])) if m != baseline]
    keys = ["method", "subset", "name"] + (["input_sha256"] if "input_sha256" in records.columns else [])
    cells = []
    for method in methods:
        other = records[records["method"] == method]
        for subset in dict.fromkeys(base["subset"]):
            a, b = base[base["subset"] == subset], other[other["subset"] == subset]
            if b.empty:
                continue
            for metric, lower_better in metrics.items():
                if metric not in records.columns or a[metric].isna().all() or b[metric].isna().all():
                    continue
                cell = dict(method=method, baseline=baseline, subset=subset, metric=metric)
                if same_frames and set(a["name"]) != set(b["name"]):
                    cells.append(PairedCell(**cell, lower_better=lower_better, comparison=None,
                                            reason=f"{len(a)} vs {len(b)} frames: not the same frames"))  # fmt: skip
                    continue
                try:
                    table = compare_records(
                        pd.concat([a[[*keys, metric]], b[[*keys, metric]]], ignore_index=True),
                        baseline, [metric], {metric: lower_better}, by="subset", draws=draws, seed=seed,
                    )  # fmt: skip
                    row = table.iloc[0]
                    comparison = PairedComparison(**{k: row[k] for k in _COMPARISON_FIELDS})
                    comparison = _plain(comparison)
                    cells.append(PairedCell(**cell, lower_better=lower_better, comparison=comparison))
                except HmtirError as err:
                    reason = _short(str(err))
                    cells.append(
                        PairedCell(**cell, lower_better=lower_better, comparison=None, reason=reason)
                    )
    return cells


_SHORT_REASONS = {
    "no frames in common": "no frames in common",
    "needs at least 2 common frames": "fewer than 2 common frames",
    "infinite or missing per-frame scores": "infinite or missing per-frame scores",
    "has two results for": "a frame scored twice",
}


def _short(message: str) -> str:
    """The library's one-line reason, cut to what fits a table cell."""
    return next((short for key, short in _SHORT_REASONS.items() if key in message), message)


def _plain(c: PairedComparison) -> PairedComparison:
    """numpy scalars from a DataFrame row → Python numbers (JSON, equality in tests)."""
    values = {k: getattr(c, k) for k in _COMPARISON_FIELDS}
    for k, v in values.items():
        if k in ("frames", "draws", "wins", "losses"):
            values[k] = int(v)
        elif k != "metric":
            values[k] = float(v)
    return PairedComparison(**values)


# ----------------------------------------------------------------------- hmtir compare RESULT_DIR...


@dataclass
class PairedReport:
    """What ``hmtir compare RESULT_DIR...`` found: the methods (labels → folders) and the cells."""

    baseline: str
    folders: dict[str, Path]
    frames: dict[str, dict[str, int]]  # label -> subset -> frames evaluated
    cells: list[PairedCell] = field(default_factory=list)
    draws: int = DEFAULT_DRAWS
    confidence: float = DEFAULT_CONFIDENCE


def _labels(records: pd.DataFrame) -> pd.Series:
    """A method's name, or ``name [folder]`` when one method appears in several result folders."""
    folders = records.groupby("method")["result"].nunique()
    repeated = set(folders[folders > 1].index)
    return records.apply(
        lambda r: f"{r['method']} [{Path(r['result']).name}]" if r["method"] in repeated else r["method"],
        axis=1,
    )


def compare_results(
    paths: Iterable[str | os.PathLike[str]],
    baseline: str = DEFAULT_BASELINE,
    metrics: Sequence[str] | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> PairedReport:
    """Paired differences of every evaluated method against ``baseline`` (per subset and metric).

    ``paths``: evaluate result folders (or folders holding several). Frames are matched by subset, name
    and input sha256, so methods evaluated on other data are never paired frame by frame.
    """
    from hmtir.evaluation import load_result, load_results
    from hmtir.registry import resolve_name, unknown_name

    paths = list(paths)
    if not paths:
        raise HmtirError("name at least two evaluate result folders (RESULT_DIR...)")
    records = load_results(paths)
    records["method"] = _labels(records)
    folders = {label: Path(folder) for label, folder in zip(records["method"], records["result"])}
    if len(folders) < 2:
        raise HmtirError(f"only one method ({next(iter(folders))}) in the results: compare needs two or more")
    baseline = resolve_name("baseline method", baseline, folders)
    directions: dict[str, bool] = {}
    for folder in dict.fromkeys(folders.values()):
        for name, info in load_result(folder).summary["metrics"].items():
            directions.setdefault(name, bool(info.get("lower_better", False)))
    if metrics:
        chosen = {}
        for name in metrics:
            if name not in directions:
                raise unknown_name("metric", name, directions, " in these results")
            chosen[name] = directions[name]
        directions = chosen
    frames = {
        label: {s: int(n) for s, n in group.groupby("subset", sort=False).size().items()}
        for label, group in records.groupby("method", sort=False)
    }
    cells = paired_cells(records, baseline, directions, methods=list(folders), draws=draws, seed=seed)
    if not cells:
        raise HmtirError(f"no subset and metric in common between {baseline} and the other methods")
    subsets = list(dict.fromkeys(c.subset for c in cells))
    order = {m: i for i, m in enumerate(directions)}
    cells.sort(key=lambda c: (order[c.metric], subsets.index(c.subset)))  # stable: methods keep their order
    return PairedReport(baseline, folders, frames, cells, draws)


def report_table(report: PairedReport) -> Any:
    """The readable table: one row per subset × method × metric, the legend under it."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(  # labels such as "ppfn [mine]" (one method, two folders) are text, not rich markup
        title=f"Paired differences vs {escape(report.baseline)} ({round(100 * report.confidence)} % CI, "
        f"{report.draws:,} bootstrap draws)",
        title_justify="left",
        caption=LEGEND + "; better/worse: frames where the method beats / trails the baseline",
        caption_justify="left",
    )
    for column, right in (("subset", False), ("method", False), ("metric", False), ("baseline", True),
                          ("method mean", True), ("Δ ± (p)", True), ("95 % CI", True), ("better/worse/frames", True)):  # fmt: skip
        table.add_column(column, justify="right" if right else "left", no_wrap=column != "method")
    for cell in report.cells:
        arrow = "↓" if cell.lower_better else "↑"
        c = cell.comparison
        d = metric_decimals(cell.metric)
        if c is None:
            table.add_row(
                cell.subset, escape(cell.method), f"{cell.metric} {arrow}", "", "", cell.text(), "", ""
            )
            continue
        style = {True: "green", False: "red", None: ""}[cell.better]
        table.add_row(
            cell.subset, escape(cell.method), f"{cell.metric} {arrow}", f"{c.mean_a:.{d}f}", f"{c.mean_b:.{d}f}",
            f"[{style}]{cell.text()}[/]" if style else cell.text(),
            f"[{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}]", f"{c.wins}/{c.losses}/{_frames(report, cell)}",
        )  # fmt: skip
    return table


def _frames(report: PairedReport, cell: PairedCell) -> str:
    """``8``, or ``4 of 5 frames`` when the pair shares fewer frames than one side evaluated."""
    used = cell.comparison.frames  # type: ignore[union-attr]
    most = max(report.frames.get(m, {}).get(cell.subset, 0) for m in (cell.method, cell.baseline))
    return str(used) if used == most else f"{used} of {most} frames"


def check_plot(out: str | os.PathLike[str], overwrite: bool = False, folders: Iterable[Path] = ()) -> Path:
    """Refuse a forest-plot path before any work: a known picture format, a folder that can hold it, not an
    input of the comparison, not an existing file unless ``overwrite``."""
    from hmtir.evaluation.results import RECORDS_CSV, RECORDS_PARQUET, SUMMARY_FILE
    from hmtir.io.safety import check_new_file, output_folder, refuse_inputs

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise HmtirError(f"--plot {out}: use a .png, .svg or .pdf file name")
    output_folder(out.parent, "--plot")
    inputs = [Path(f) / name for f in folders for name in (SUMMARY_FILE, RECORDS_PARQUET, RECORDS_CSV)]
    refuse_inputs([out], inputs, what="--plot")
    check_new_file(out, overwrite, what="--plot")
    return out


def forest_plot(
    report: PairedReport,
    out: str | os.PathLike[str],
    overwrite: bool = False,
) -> Path:
    """Differences with their confidence intervals, one panel per metric (PNG, SVG or PDF by suffix).

    Green: better than the baseline (interval excludes 0), red: worse, grey: not distinguishable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hmtir.io.atomic import atomic_path

    out = check_plot(out, overwrite, report.folders.values())
    suffix = out.suffix.lower()
    by_metric: dict[str, list[PairedCell]] = {}
    for cell in report.cells:
        by_metric.setdefault(cell.metric, []).append(cell)
    rows = max(len(c) for c in by_metric.values())
    fig, axes = plt.subplots(
        1, len(by_metric), figsize=(5.6 * len(by_metric), 0.42 * rows + 1.5), squeeze=False, dpi=110
    )
    for ax, (metric, cells) in zip(axes[0], by_metric.items()):
        for y, cell in enumerate(reversed(cells)):
            c = cell.comparison
            if c is None:
                ax.text(
                    0, y, f"n/a: {cell.reason}"[:60], ha="center", va="center", fontsize=7, color="#868e96"
                )
                continue
            color = {True: "#2f9e44", False: "#e03131", None: "#495057"}[cell.better]
            ax.errorbar(c.mean_difference, y, xerr=[[c.mean_difference - c.ci_low], [c.ci_high - c.mean_difference]],
                        fmt="o", color=color, capsize=3, markersize=5)  # fmt: skip
            ax.annotate(cell.text(), (c.ci_high, y), textcoords="offset points", xytext=(6, -3), fontsize=7)
        labels = [f"{c.subset} · {c.method}".replace("$", r"\$") for c in reversed(cells)]
        ax.set_yticks(range(len(cells)), labels, fontsize=8)
        ax.axvline(0, color="#adb5bd", linewidth=1, zorder=0)
        shown = [c.comparison for c in cells if c.comparison is not None]
        low = min([0.0, *(c.ci_low for c in shown)])
        high = max([0.0, *(c.ci_high for c in shown)])
        span = (high - low) or 1.0
        ax.set_xlim(low - 0.08 * span, high + 0.85 * span)  # room for the text right of each interval
        ordered = list(reversed(cells))
        for y in range(1, len(ordered)):
            if ordered[y].subset != ordered[y - 1].subset:
                ax.axhline(y - 0.5, color="#dee2e6", linewidth=0.8, zorder=0)
        arrow = "lower is better" if cells[0].lower_better else "higher is better"
        ax.set_xlabel(f"Δ {metric} = method − {report.baseline} ({arrow})".replace("$", r"\$"), fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        f"Paired difference vs {report.baseline}: mean ± 95 % bootstrap CI".replace("$", r"\$"), fontsize=9
    )
    fig.text(0.01, 0.005, LEGEND, fontsize=6.5, color="#495057")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with atomic_path(out, suffix=suffix) as tmp:
        stamp = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}[suffix]
        fig.savefig(tmp, format=suffix[1:], metadata=stamp)  # no date stamp: equal inputs, equal bytes
    plt.close(fig)
    return out
