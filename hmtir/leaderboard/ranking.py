"""Rank leaderboard rows per subset and overall, honestly.

* Rows of different benchmarks are never ranked together, and rows of one benchmark must come from the
  same data (equal manifest hashes), as MTEB refuses to merge results across dataset revisions.
* hmtir-measured rows (``recomputed``, ``verified``), rows read from a user's own results folders
  (``user``) and ``reported`` paper numbers are ranked in separate groups; every row carries its tier, so
  neither a reported number nor a user's claim ever sits in hmtir's measured ranking.
* Ties are judged at display precision (two equal printed PSNRs share a rank: 1, 1, 3).
* Overall: mean rank over the group's subsets and a clearly labelled average of the full-reference metric;
  a method missing any of those subsets gets no overall value instead of an average of what it has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hmtir.errors import HmtirError
from hmtir.leaderboard.benchmarks import Benchmark, get_benchmark
from hmtir.leaderboard.columns import metric_meta
from hmtir.leaderboard.schema import MEASURED_TIERS, RECORDED_TIERS, USER_TIER, row_key

AVERAGED_METRICS = ("psnr", "ssim")  # averaged over the paired (synthetic) subsets only


GROUP_ORDER = ("measured", "user", "reported")  # the order of a benchmark's rankings in every output
RECORDED_GROUPS = ("measured", "user")  # groups whose rows carry per-image records: paired Δ, plots


def rank_group(trust: str) -> str:
    """The ranking a tier joins: hmtir's measurements, a user's own results, or papers' numbers."""
    return "measured" if trust in MEASURED_TIERS else "user" if trust == USER_TIER else "reported"


@dataclass
class RankedRow:
    entry: dict[str, Any]
    group: str
    subset_ranks: dict[str, int | None] = field(default_factory=dict)
    mean_rank: float | None = None
    averages: dict[str, float | None] = field(default_factory=dict)
    overall_rank: int | None = None

    @property
    def method(self) -> str:
        return self.entry["method"]["name"]

    @property
    def key(self) -> str:
        """Who owns the row (:func:`hmtir.leaderboard.schema.row_key`): unique within a benchmark."""
        return row_key(self.entry)

    @property
    def trust(self) -> str:
        return self.entry["trust"]

    def value(self, subset: str, metric: str) -> float | None:
        block = self.entry["subsets"].get(subset)
        return None if block is None else block["metrics"][metric]


@dataclass
class RankedGroup:
    """One ranking: a benchmark version × a trust group, its subsets in benchmark order, its rows ranked."""

    benchmark: Benchmark
    group: str
    subsets: list[str]
    rows: list[RankedRow]

    @property
    def paired_subsets(self) -> list[str]:
        """The benchmark's full-reference subsets (all of them, so "Avg PSNR" means the same in every group)."""
        return [s for s in self.benchmark.subsets if self.benchmark.primary_metric[s] in AVERAGED_METRICS]


def competition_ranks(values: Sequence[float | None], lower_better: bool, decimals: int) -> list[int | None]:
    """Standard competition ranking ("1224") of rounded values; None values get no rank."""
    keyed = [None if v is None or not math.isfinite(v) else round(v, decimals) for v in values]
    present = [v for v in keyed if v is not None]
    ranks: list[int | None] = []
    for v in keyed:
        if v is None:
            ranks.append(None)
        else:
            better = sum(1 for other in present if (other < v if lower_better else other > v))
            ranks.append(better + 1)
    return ranks


def _check_same_data(entries: Sequence[dict[str, Any]], bench: Benchmark) -> None:
    hashes = {
        e["benchmark"]["manifest_sha256"]: e["method"]["name"]
        for e in entries
        if e["trust"] in RECORDED_TIERS
    }
    hashes.pop(None, None)
    if len(hashes) > 1:
        (h1, m1), (h2, m2) = list(hashes.items())[:2]
        raise HmtirError(
            f"benchmark {bench.key}: {m1} was scored on data {h1[:12]} but {m2} on {h2[:12]}; "
            "re-score one of them on the same data before ranking them together"
        )


def rank(entries: Sequence[dict[str, Any]]) -> list[RankedGroup]:
    """Group entries by benchmark version and trust group, then rank per subset and overall."""
    buckets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        key = (entry["benchmark"]["name"], rank_group(entry["trust"]))
        buckets.setdefault(key, []).append(entry)
    seen = set()
    for (bench_name, _), bucket in buckets.items():
        for entry in bucket:
            if (bench_name, entry["trust"], entry["method"]["name"]) in seen:
                raise HmtirError(
                    f"method {entry['method']['name']} appears twice as {entry['trust']} on {bench_name}"
                )
            seen.add((bench_name, entry["trust"], entry["method"]["name"]))
    groups = []
    for (bench_name, group), bucket in sorted(
        buckets.items(), key=lambda kv: (kv[0][0], GROUP_ORDER.index(kv[0][1]))
    ):
        bench = get_benchmark(bench_name)
        _check_same_data(bucket, bench)
        subsets = [s for s in bench.subsets if any(s in e["subsets"] for e in bucket)]
        rows = [RankedRow(entry, group) for entry in sorted(bucket, key=lambda e: e["method"]["name"])]
        ranked = RankedGroup(bench, group, subsets, rows)
        _rank_subsets(ranked)
        _rank_overall(ranked)
        ranked.rows.sort(key=lambda r: (r.overall_rank is None, r.overall_rank or 0, r.method))
        groups.append(ranked)
    return groups


def _rank_subsets(group: RankedGroup) -> None:
    for subset in group.subsets:
        metric = group.benchmark.primary_metric[subset]
        values = [row.value(subset, metric) for row in group.rows]
        meta = metric_meta(metric)
        for row, r in zip(group.rows, competition_ranks(values, meta.lower_better, meta.decimals)):
            row.subset_ranks[subset] = r


def _rank_overall(group: RankedGroup) -> None:
    for row in group.rows:
        ranks = [row.subset_ranks[s] for s in group.subsets]
        row.mean_rank = None if any(r is None for r in ranks) else sum(ranks) / len(ranks)  # type: ignore[arg-type,misc]
        for metric in AVERAGED_METRICS:
            values = [row.value(s, metric) for s in group.paired_subsets]
            complete = values and all(v is not None for v in values)
            row.averages[metric] = sum(values) / len(values) if complete else None  # type: ignore[arg-type,misc]
    overall = competition_ranks([row.mean_rank for row in group.rows], lower_better=True, decimals=2)
    for row, r in zip(group.rows, overall):
        row.overall_rank = r
