"""The versioned result schema: what a leaderboard row is, who owns it, and the rules it must pass.

A result file is one row: one method on one benchmark version, self-describing as in lm-eval-harness and
MTEB: per-subset means of every leaderboard metric (missing ones are an explicit ``null``), the per-image
record file and its sha256, runtime and hardware, parameter count, trust tier and provenance. Files are
checked against ``result.schema.json`` on load, so a hand-edited or truncated entry is a one-line error
instead of a wrong table. Which metrics are columns, their direction and their display precision come
from each metric's :class:`~hmtir.metrics.MetricMeta` (``leaderboard``, ``lower_better``, ``decimals``);
the schema file's per-metric block is checked against those facts.

**Who owns a row.** A row's *key* decides its file names, ``results/<key>__<benchmark>-v<version>.json``
and ``records/<key>__<benchmark>-v<version>.csv``:

* maintainer rows (``verified``: hmtir ran the method; ``reported``: a paper's numbers) are keyed by the
  method name, e.g. ``results/wfaf__demo-v1.json``;
* a submission's row (``recomputed``) is keyed by its submission id — the name of its folder,
  ``submissions/<id>/``, unique in the repository and lowercase so no file system can merge two — in a
  namespace of its own: ``results/submissions/<id>__demo-v1.json``. ``hmtir submit score`` therefore
  cannot address a maintainer row, and one submission cannot address another's.

A method name belongs to one owner (the maintainers, or one submission), so a submission cannot pose as
a maintainer row's method either; both collisions, and re-scoring an existing row without ``replace``,
are one-line refusals made before anything is written.

**Who stands behind the numbers** is the row's tier: ``verified`` and ``recomputed`` only where hmtir
computed them itself (``leaderboard seed``, ``submit score``), ``reported`` for a paper's numbers, and
``user`` for a row read from a user's own ``evaluate`` folder (``leaderboard build --results``): those
files are its owner's to rewrite, so the row is their claim, ranked apart and never in a leaderboard
folder (:data:`BOARD_TIERS`).

Reading and writing result files is :mod:`hmtir.leaderboard.store`; the benchmark registry is
:mod:`hmtir.leaderboard.benchmarks`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.columns import leaderboard_metric_metas
from hmtir.leaderboard.json_schema import check_json_schema, load_schema

if TYPE_CHECKING:
    from hmtir.metrics import MetricMeta

RESULT_SCHEMA_ID = "hmtir.leaderboard.result/1"
TRUST_TIERS = ("recomputed", "verified", "user", "reported")
MEASURED_TIERS = ("recomputed", "verified")  # numbers hmtir computed itself
#: A row built from a user's own ``evaluate`` folder (``leaderboard build --results``): hmtir read the numbers
#: from files the user holds and can rewrite consistently, so the row is the user's claim, never verified.
USER_TIER = "user"
RECORDED_TIERS = (*MEASURED_TIERS, USER_TIER)  # rows with per-image records: paired differences, plots
BOARD_TIERS = ("recomputed", "verified", "reported")  # the tiers a leaderboard folder's result files hold
SUBMISSION_TIER = "recomputed"  # the only tier a submission gets, and the only one it can write
RESULTS_DIR = "results"
RECORDS_DIR = "records"
SUBMISSIONS_DIR = "submissions"  # the namespace of submission rows inside results/ and records/
SUBMISSION_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def metrics_block(metas: Sequence[MetricMeta]) -> dict[str, Any]:
    """The JSON Schema of a subset's ``metrics`` object, derived from metric metadata.

    Every leaderboard metric is required (``null`` when not measured); a full-reference metric's exact
    score range becomes its bounds.
    """
    properties: dict[str, Any] = {}
    for meta in metas:
        spec: dict[str, Any] = {"type": ["number", "null"]}
        if meta.mode == "FR":
            low, high = meta.score_range
            if math.isfinite(low):
                spec["minimum"] = low
            if math.isfinite(high):
                spec["maximum"] = high
        properties[meta.name] = spec
    return {
        "type": "object",
        "required": [meta.name for meta in metas],
        "additionalProperties": False,
        "properties": properties,
    }


def check_metrics_block(schema: dict[str, Any], metas: Sequence[MetricMeta]) -> None:
    """Refuse a result schema whose per-metric block disagrees with the metric registry's facts."""
    block = schema["properties"]["subsets"]["additionalProperties"]["properties"]["metrics"]
    block = {k: v for k, v in block.items() if k not in ("title", "description")}
    expected = metrics_block(metas)
    if block != expected:
        raise HmtirError(
            "hmtir/leaderboard/result.schema.json disagrees with the metric registry: its subset 'metrics' "
            f"block must be {json.dumps(expected, separators=(',', ': '))}"
        )


@cache
def result_schema() -> dict[str, Any]:
    """``result.schema.json``, checked once against the metric registry (see :func:`check_metrics_block`)."""
    schema = load_schema("result")
    check_metrics_block(schema, leaderboard_metric_metas())
    return schema


def row_key(entry: dict[str, Any]) -> str:
    """The row's owner-namespaced key: the method name, or ``submissions/<id>`` for a submission's row."""
    if entry["trust"] == SUBMISSION_TIER:
        submission = entry["provenance"].get("submission")
        if not isinstance(submission, str):
            raise HmtirError(
                f"a {SUBMISSION_TIER} row of {entry['method']['name']} needs provenance.submission (the id of "
                "the submission that owns it); re-score it with hmtir submit score"
            )
        return f"{SUBMISSIONS_DIR}/{submission}"
    return entry["method"]["name"]


def row_owner(entry: dict[str, Any]) -> str:
    """Who may write a row and use its method name: ``maintainers`` or ``submission <id>``."""
    if entry["trust"] == SUBMISSION_TIER:
        return f"submission {row_key(entry).removeprefix(SUBMISSIONS_DIR + '/')}"
    return "maintainers"


def result_relpath(entry: dict[str, Any]) -> str:
    """``results/<key>__<benchmark>-v<version>.json``, relative to the leaderboard folder."""
    return f"{RESULTS_DIR}/{row_key(entry)}__{get_benchmark(entry['benchmark']['name']).key}.json"


def records_relpath(entry: dict[str, Any]) -> str:
    """``records/<key>__<benchmark>-v<version>.csv``: where the row's per-image records must live."""
    return f"{RECORDS_DIR}/{row_key(entry)}__{get_benchmark(entry['benchmark']['name']).key}.csv"


def validate_result(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """Schema plus the cross-field rules JSON Schema cannot say; ``source`` names the file in errors."""
    try:
        check_json_schema(entry, result_schema())
    except ValueError as err:
        raise HmtirError(f"invalid leaderboard result {source}: {err}") from None
    submission = entry["provenance"].get("submission")
    if (entry["trust"] == SUBMISSION_TIER) != (submission is not None):
        need = "needs" if submission is None else "must not have"
        raise HmtirError(
            f"invalid leaderboard result {source}: a {entry['trust']} row {need} provenance.submission "
            "(the id of the submission that owns it); re-score it with hmtir submit score"
        )
    bench = get_benchmark(entry["benchmark"]["name"])
    if entry["benchmark"]["version"] != bench.version:
        raise HmtirError(
            f"invalid leaderboard result {source}: benchmark {bench.name} version {entry['benchmark']['version']} "
            f"is not the current version {bench.version}; re-score it"
        )
    unknown = sorted(set(entry["subsets"]) - set(bench.subsets))
    if unknown:
        raise HmtirError(
            f"invalid leaderboard result {source}: subset(s) {', '.join(unknown)} are not part of benchmark "
            f"{bench.name} ({', '.join(bench.subsets)})"
        )
    if entry["trust"] in RECORDED_TIERS and entry["records"] is None:
        raise HmtirError(
            f"invalid leaderboard result {source}: a {entry['trust']} row needs its per-image records file"
        )
    if entry["records"] is not None and entry["records"]["file"] != records_relpath(entry):
        raise HmtirError(
            f"invalid leaderboard result {source}: its records file must be {records_relpath(entry)}, "
            f"not {entry['records']['file']}"
        )
    pinned, found = bench.manifest_sha256, entry["benchmark"]["manifest_sha256"]
    if entry["trust"] in RECORDED_TIERS and pinned is not None and found != pinned:
        raise HmtirError(
            f"invalid leaderboard result {source}: scored on data {str(found)[:12]}, but benchmark "
            f"{bench.key} is the data {pinned[:12]}; re-score it on the benchmark's data"
        )
    return entry
