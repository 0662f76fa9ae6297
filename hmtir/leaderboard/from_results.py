"""Leaderboards from your own runs: ``hmtir leaderboard build --results DIR [--results DIR ...] --out SITE``.

Any ``hmtir evaluate`` result folders become rows of a site with the same tables, plots and paired
differences as the shipped leaderboard. Each folder is read through the evaluation results loader, which
refuses a summary that is not bound to its records (an edited method name, swapped records) in one line.
Its rows get the ``user`` tier, shown as such: the files are their owner's to rewrite consistently, so the
numbers are the user's claim, never ``verified`` or ``recomputed`` (those only hmtir's own scoring
earns: ``leaderboard seed``, ``submit score``). Each result is filed under the benchmark its data *is*:

* a **registered** benchmark whose ``manifest_sha256`` pins the data's ``meta/manifest.jsonl`` — the
  shipped ``benchmarks.yaml``, files listed in ``$HMTIR_BENCHMARKS`` (``os.pathsep``-separated, as
  ``$HMTIR_SOURCES`` for download sources), a ``benchmarks.yaml`` inside a ``--results`` folder, or
  ``--benchmarks FILE``; every file is validated like the shipped one (one-line errors naming file and key);
* otherwise a benchmark **named by its data**: ``<data folder>-<first 8 hex of the manifest sha256>``
  (data without a manifest: of the sha256 over its evaluated frames' hashes), so two runs share a ranking
  exactly when they were scored on the same images.

A registry file is the shipped format::

    version: 1
    benchmarks:
      my-bench:
        version: "1"
        title: "My TIR test set"
        description: "600 frames from ..., degraded with hmtir synthesize --seed 0"
        subsets: [composited/normal, single/noise]
        primary_metric: {composited/normal: psnr, single/noise: psnr}
        manifest_sha256: <sha256sum of DATA/meta/manifest.jsonl>
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.leaderboard.benchmarks import (
    LOCAL_BENCHMARKS_FILE,
    Benchmark,
    benchmark_for_manifest,
    benchmark_scope,
    benchmarks,
    merge_benchmarks,
    parse_benchmark_file,
)
from hmtir.leaderboard.columns import leaderboard_metric_metas
from hmtir.leaderboard.render import BuildReport, check_site_out, render_site
from hmtir.leaderboard.schema import USER_TIER
from hmtir.leaderboard.scoring import result_from_evaluation, subset_label
from hmtir.vocabulary import SUBSETS, is_real

DATA_SOURCE = "data manifest"  # Benchmark.source of a benchmark named by its data


@dataclass
class ResultsBoard:
    """What a results build found: the benchmarks it used and, per result folder, its row."""

    benchmarks: dict[str, Benchmark]  # every benchmark a row is filed under
    rows: dict[Path, dict[str, Any]] = field(default_factory=dict)  # result folder -> entry
    records: dict[tuple[str, str], Any] = field(default_factory=dict)  # (benchmark, method) -> DataFrame


def registry_files(results: Sequence[Path], extra: Sequence[Path] = ()) -> list[Path]:
    """User registries for a results build: ``--benchmarks`` files, then ``benchmarks.yaml`` in each
    ``--results`` folder (``$HMTIR_BENCHMARKS`` is always read, by :func:`~hmtir.leaderboard.benchmarks.benchmarks`)."""
    files = [Path(p) for p in extra]
    files += [Path(r) / LOCAL_BENCHMARKS_FILE for r in results if (Path(r) / LOCAL_BENCHMARKS_FILE).is_file()]
    return list(dict.fromkeys(files))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40].strip("-_")
    return slug or "data"


def data_identity(manifest: str | None, records: Any) -> tuple[str, str]:
    """(kind, sha256) identifying the images a result was scored on: its data manifest, or — without one —
    the sha256 over its evaluated frames (subset, name, input sha256)."""
    if manifest:
        return "manifest", manifest
    lines = sorted(f"{r.subset}\t{r.name}\t{r.input_sha256}" for r in records.itertuples())
    return "frames", hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def data_benchmark(
    root: str, identity: tuple[str, str], subsets: Sequence[str], measured: Sequence[str]
) -> Benchmark:
    """The benchmark named by its data (see the module docstring); its subsets in the vocabulary's order,
    each ranked by the first leaderboard metric measured that fits it (full-reference first where paired)."""
    kind, sha = identity
    folder = Path(root).name or "data"
    ordered = [s for s in SUBSETS if s in subsets] + sorted(s for s in subsets if s not in SUBSETS)
    metas = [m for m in leaderboard_metric_metas() if m.name in measured]
    primary = {}
    for subset in ordered:
        fitting = [m for m in metas if not (is_real(subset) and m.mode == "FR")]
        if not fitting:
            raise HmtirError(
                f"results on {root} measured no leaderboard metric for {subset} "
                f"({', '.join(m.name for m in leaderboard_metric_metas())}); evaluate with one of them"
            )
        primary[subset] = fitting[0].name
    what = "data manifest" if kind == "manifest" else "evaluated frames, no manifest"
    return Benchmark(
        name=f"{_slug(folder)}-{sha[:8]}",
        version="1",
        title=f"{folder} ({what} {sha[:12]}; not a registered benchmark)",
        description=(
            f"Evaluate results on {root}, named by the sha256 of its "
            + (
                "meta/manifest.jsonl"
                if kind == "manifest"
                else "evaluated frames (it has no meta/manifest.jsonl)"
            )
            + f" ({sha}). Register it in a benchmarks.yaml (next to the results or in $HMTIR_BENCHMARKS) "
            "to give it a name."
        ),
        subsets=tuple(ordered),
        primary_metric=primary,
        manifest_sha256=sha if kind == "manifest" else None,
        source=DATA_SOURCE,
    )


@dataclass(frozen=True)
class _Facts:
    """What filing a result needs from its summary, each field checked for its type."""

    root: str | None
    manifest_sha256: str | None
    subsets: tuple[str, ...]
    metrics: tuple[str, ...]


def _facts(folder: Path, summary: dict[str, Any]) -> _Facts:
    """The summary's data root and manifest (text or absent), subsets and metrics; else one line naming it."""
    data, metrics = summary.get("data", {}), summary.get("metrics")
    text = ("root", "manifest_sha256")
    if (
        not isinstance(data, dict)
        or not isinstance(metrics, dict)
        or any(not isinstance(data.get(key), str | None) for key in text)
    ):
        raise HmtirError(
            f"results {folder}: summary.json is not an hmtir evaluate summary (its data block must name a "
            "root and manifest_sha256 as text, its metrics must be a table)"
        )
    root, manifest = (data.get(key) for key in text)
    return _Facts(root, manifest, tuple(map(str, summary["subsets"])), tuple(map(str, metrics)))


def collect(
    results: Sequence[str | os.PathLike[str]],
    benchmark_files: Sequence[str | os.PathLike[str]] = (),
    advance: Callable[[str], None] | None = None,
) -> ResultsBoard:
    """Every result folder under ``results`` as a ``user`` row of the benchmark its data is."""
    from hmtir.evaluation import load_results
    from hmtir.evaluation.results import read_summary

    if not results:
        raise HmtirError("name at least one evaluate results folder with --results DIR")
    tidy = load_results(list(results))
    folders = [Path(f) for f in dict.fromkeys(tidy["result"])]
    registries = [
        parse_benchmark_file(p)
        for p in registry_files([Path(r) for r in results], [Path(p) for p in benchmark_files])
    ]
    local = merge_benchmarks([benchmarks(), *registries])
    with benchmark_scope(list(local.values())):
        facts = {f: _facts(f, read_summary(f) or {"subsets": {}}) for f in folders}
        filed: dict[Path, Benchmark | tuple[str, str]] = {}
        unregistered: dict[tuple[str, str], dict[str, Any]] = {}
        for folder in folders:
            fact = facts[folder]
            records = tidy[tidy["result"] == str(folder)]
            registered = benchmark_for_manifest(fact.manifest_sha256)
            if registered is not None:
                filed[folder] = registered
                continue
            identity = data_identity(fact.manifest_sha256, records)
            filed[folder] = identity
            root = fact.root or str(folder)
            group = unregistered.setdefault(identity, {"root": root, "subsets": {}, "metrics": {}})
            group["subsets"].update(dict.fromkeys(subset_label(s, root) for s in fact.subsets))
            group["metrics"].update(dict.fromkeys(fact.metrics))
        made = {
            identity: data_benchmark(g["root"], identity, list(g["subsets"]), list(g["metrics"]))
            for identity, g in unregistered.items()
        }
    with benchmark_scope([*local.values(), *made.values()]) as catalog:
        board = ResultsBoard({})
        owners: dict[tuple[str, str], Path] = {}
        for folder in folders:
            target = filed[folder]
            bench = target if isinstance(target, Benchmark) else made[target]
            outcome = result_from_evaluation(folder, bench.name, trust=USER_TIER)
            method = outcome.entry["method"]["name"]
            first = owners.setdefault((bench.name, method), folder)
            if first != folder:
                raise HmtirError(
                    f"method {method} has two results on benchmark {bench.key}: {first} and {folder}; "
                    "pass one of them (a leaderboard has one row per method)"
                )
            board.rows[folder] = outcome.entry
            root = facts[folder].root
            records = tidy[tidy["result"] == str(folder)].copy()  # full precision (the CSV keeps 6 decimals)
            records["subset"] = [subset_label(s, root) for s in records["subset"]]
            board.records[(bench.name, method)] = records
            board.benchmarks[bench.name] = catalog[bench.name]
            if advance is not None:
                advance(str(folder))
    return board


def build_from_results(
    results: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    benchmark_files: Sequence[str | os.PathLike[str]] = (),
    advance: Callable[[str], None] | None = None,
) -> tuple[BuildReport, ResultsBoard]:
    """Render the site (tables, plots, paired differences) from evaluate result folders into ``out``.

    ``out`` must be new, empty or a site built before, and must not overlap a results folder.
    """
    import pandas as pd

    out = check_site_out([Path(r) for r in results], out, what="the results folder")
    board = collect(results, benchmark_files, advance)

    def records_of(entry: dict[str, Any]) -> pd.DataFrame | None:
        return board.records.get((entry["benchmark"]["name"], entry["method"]["name"]))

    with benchmark_scope(list(board.benchmarks.values())):
        report = render_site(list(board.rows.values()), out, records_of)
    return report, board
