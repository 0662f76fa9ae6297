"""The leaderboard's metric columns, from each metric's :class:`~hmtir.metrics.MetricMeta`.

Which metrics are columns, their direction and their display precision come from the metric registry
(``leaderboard``, ``lower_better``, ``decimals``), never from a list kept here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from hmtir.errors import HmtirError

if TYPE_CHECKING:
    from hmtir.metrics import MetricMeta


@cache
def leaderboard_metric_metas() -> tuple[MetricMeta, ...]:
    """Every registered metric whose metadata says ``leaderboard=True``: full-reference first, then by name."""
    from hmtir.metrics import METRICS

    metas = [entry.meta for entry in METRICS if entry.meta.leaderboard]
    if METRICS.load_errors:  # a missing module would silently drop columns and reject valid results
        module, why = next(iter(METRICS.load_errors.items()))
        raise HmtirError(
            f"the leaderboard needs every metric's metadata, but {module} failed to load ({why})"
        )
    return tuple(sorted(metas, key=lambda m: (m.mode != "FR", m.name)))


def leaderboard_metrics() -> tuple[str, ...]:
    """Names of the leaderboard's metric columns, in column order."""
    return tuple(meta.name for meta in leaderboard_metric_metas())


def metric_meta(name: str) -> MetricMeta:
    """The :class:`MetricMeta` of leaderboard metric ``name`` (direction, decimals, range)."""
    for meta in leaderboard_metric_metas():
        if meta.name == name:
            return meta
    raise HmtirError(f"'{name}' is not a leaderboard metric ({', '.join(leaderboard_metrics())})")


def empty_metrics() -> dict[str, float | None]:
    """A subset's ``metrics`` object with every column present and unmeasured (``null``)."""
    return dict.fromkeys(leaderboard_metrics())
