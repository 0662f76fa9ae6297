"""The leaderboard's table model: the ranked groups' paired differences, each row's page and how a value
prints, shared by every output (Markdown, CSV, JSON, the HTML site)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.leaderboard.columns import leaderboard_metric_metas, metric_meta
from hmtir.leaderboard.paired import PairedCell, paired_cells
from hmtir.leaderboard.ranking import RECORDED_GROUPS, RankedGroup, RankedRow
from hmtir.leaderboard.schema import SUBMISSION_TIER

if TYPE_CHECKING:
    import pandas as pd

#: A row's per-image records (subset, name, one column per metric), or None when it has none.
RecordsOf = Callable[[dict[str, Any]], "pd.DataFrame | None"]


@dataclass
class GroupPairs:
    """A group's paired differences (measured or user rows, which carry records): every row with records against one reference row.

    The reference is the group's ``identity`` row (the degraded input) when it has per-image records,
    else its best-ranked row with records. Only subsets where both rows scored the same frames get a
    number, so each Δ is exactly the difference of the two means the table shows.
    """

    reference: RankedRow | None = None
    cells: dict[str, dict[str, dict[str, PairedCell]]] = field(default_factory=dict)  # key→subset→metric

    def cell(self, row: RankedRow, subset: str, metric: str) -> PairedCell | None:
        return self.cells.get(row.key, {}).get(subset, {}).get(metric)


def group_pairs(group: RankedGroup, records_of: RecordsOf) -> GroupPairs:
    """Paired differences of a recorded group's rows against its reference row (see :class:`GroupPairs`)."""
    import pandas as pd

    if group.group not in RECORDED_GROUPS:
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
    """Rows' records as the leaderboard folder holds them (``records/...csv``, hash-checked on load, and
    checked against their row by :func:`check_records`)."""
    import pandas as pd

    def read(entry: dict[str, Any]) -> pd.DataFrame | None:
        path = leaderboard / entry["records"]["file"]
        try:
            records = pd.read_csv(path, dtype={"subset": str, "name": str})
        except (OSError, ValueError) as err:
            raise HmtirError(f"cannot read records {path}: {str(err).splitlines()[0]}") from None
        return check_records(entry, records, path)

    return read


RECORDS_TOLERANCE = 1e-6  # records keep 6 decimals: their mean is within 5e-7 of the row's


def check_records(entry: dict[str, Any], records: pd.DataFrame, source: Path | str) -> pd.DataFrame:
    """``records`` with numeric metric columns, when they agree with their row: only its subsets, and per
    subset the mean it shows of every metric they hold. Else one line: a row's paired differences must be
    the difference of the means the table prints, so records that say something else cannot be used."""
    import pandas as pd

    def refuse(problem: str) -> HmtirError:
        return HmtirError(f"records {source} do not belong to their row ({problem})")

    for column in ("subset", "name"):
        if column not in records.columns:
            raise refuse(f"no {column} column")
    records = records.copy()
    for meta in leaderboard_metric_metas():
        if meta.name in records.columns:
            values = pd.to_numeric(records[meta.name], errors="coerce")
            bad = records[meta.name].notna() & values.isna()
            if bad.any():
                raise refuse(f"{meta.name} holds {str(records[meta.name][bad].iloc[0])[:24]!r}, not a number")
            records[meta.name] = values
    extra = sorted(set(records["subset"]) - set(entry["subsets"]))
    if extra:
        raise refuse(f"frames of {extra[0]}, a subset the row does not have")
    for subset, block in entry["subsets"].items():
        rows = records[records["subset"] == subset]
        for metric, mean in block["metrics"].items():
            if mean is None or metric not in rows.columns:
                continue  # no paired difference is drawn from a metric the records do not hold
            values = rows[metric]
            found = float(values.mean()) if len(values) and values.map(math.isfinite).all() else None
            if found is None or abs(found - mean) > RECORDS_TOLERANCE:
                shown = "no finite mean" if found is None else f"mean {found:.6f}"
                raise refuse(f"{metric} of {subset}: {shown}; the row says {mean:.6f}")
    return records


def fmt_value(value: float | None, metric: str) -> str:
    """``value`` at ``metric``'s display precision; empty when not measured."""
    return "" if value is None else f"{value:.{metric_meta(metric).decimals}f}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


def detail_page(row: RankedRow) -> str:
    """The row's page: ``methods/<method>.html`` for maintainer rows (one page per method, all benchmarks),
    ``submissions/<id>.html`` for a submission's row, so a submission never writes into a method's page."""
    if row.trust == SUBMISSION_TIER:
        return f"submissions/{_slug(row.entry['provenance']['submission'])}.html"
    return f"methods/{_slug(row.method)}.html"
