"""Per-image records → the statistics a results table shows (per subset, and per scene when labelled)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _finite_or_none(value: float) -> float | None:
    """JSON has no inf/NaN: a PSNR of identical images (inf) is recorded as null; records keep the value."""
    value = float(value)
    return value if math.isfinite(value) else None


def metric_stats(values: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """mean, population std (defined for one image, unlike the sample std), min and max."""
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": _finite_or_none(array.mean()),
        "std": _finite_or_none(array.std(ddof=0)) if np.isfinite(array).all() else None,
        "min": _finite_or_none(array.min()),
        "max": _finite_or_none(array.max()),
    }


def _group_stats(frame: pd.DataFrame, metrics: Sequence[str]) -> dict[str, Any]:
    return {
        "images": len(frame),
        "seconds_per_image": _finite_or_none(frame["seconds"].mean()),
        "metrics": {m: metric_stats(frame[m].to_numpy()) for m in metrics},
    }


def summarize_records(
    records: pd.DataFrame, metrics: Sequence[str], subsets: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``subsets``: subset name → its fixed description (degradation, scenario); images keep their order."""
    out: dict[str, Any] = {}
    for subset, description in subsets.items():
        frame = records[records["subset"] == subset]
        entry = {**description, **_group_stats(frame, metrics)}
        labelled = frame[frame["scene"].notna()]
        if len(labelled):
            entry["scenes"] = {
                scene: _group_stats(group, metrics) for scene, group in labelled.groupby("scene", sort=True)
            }
        out[subset] = entry
    return out
