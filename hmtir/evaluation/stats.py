"""Is a difference between two methods real? Paired statistics over the frames both were scored on.

Two methods evaluated on the same frames give paired scores, so what matters is the distribution of the
per-frame *differences*, not of the two means. For the mean difference we report a percentile bootstrap
confidence interval (frames resampled with replacement) and a two-sided paired sign-flip permutation test
(under "no difference" each frame's difference is equally likely to have either sign). Both are
distribution-free, deterministic for a given seed, and exact enough at the default 10,000 draws
(the p-value's Monte-Carlo standard error is below 0.005).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from hmtir.errors import HmtirError

DEFAULT_DRAWS = 10_000
DEFAULT_CONFIDENCE = 0.95
#: The exact words every table uses for its "±" (so a reader never has to guess what it means).
PLUS_MINUS = "± = half-width of the 95 % paired bootstrap confidence interval of the mean difference"


@dataclass(frozen=True)
class PairedComparison:
    """``b − a`` over the frames both were scored on (positive: ``b`` higher)."""

    metric: str
    frames: int
    mean_a: float
    mean_b: float
    mean_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    draws: int
    wins: int  # frames where b is strictly better (respecting the metric's direction)
    losses: int

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def significant(self) -> bool:
        """The interval excludes zero (at ``confidence``)."""
        return self.ci_low > 0 or self.ci_high < 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "half_width": self.half_width, "significant": self.significant}


def paired_comparison(
    a: np.ndarray | pd.Series,
    b: np.ndarray | pd.Series,
    metric: str = "score",
    lower_better: bool = False,
    draws: int = DEFAULT_DRAWS,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> PairedComparison:
    """Bootstrap CI of ``mean(b − a)`` and a paired permutation p-value; ``a``/``b`` aligned per frame."""
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1:
        raise HmtirError(
            f"paired scores must be two equal-length lists, got {first.shape} and {second.shape}"
        )
    if first.size < 2:
        raise HmtirError(f"a paired comparison of {metric} needs at least 2 common frames, got {first.size}")
    if not (np.isfinite(first).all() and np.isfinite(second).all()):
        raise HmtirError(f"{metric}: infinite or missing per-frame scores (e.g. PSNR of identical frames)")
    if not 0 < confidence < 1:
        raise HmtirError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    diff = second - first
    rng = np.random.default_rng(seed)
    n = diff.size
    means = np.empty(draws)
    flips = np.empty(draws)
    for start in range(0, draws, 1000):  # blocks keep memory flat for large benchmarks
        stop = min(draws, start + 1000)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[picks].mean(axis=1)
        signs = rng.integers(0, 2, size=(stop - start, n)) * 2 - 1
        flips[start:stop] = (signs * diff).mean(axis=1)
    alpha = (1 - confidence) / 2
    observed = diff.mean()
    # +1 in numerator and denominator: the observed labelling is one of the permutations (never p = 0)
    extreme = np.count_nonzero(np.abs(flips) >= abs(observed) - 1e-12)
    better = diff < 0 if lower_better else diff > 0
    worse = diff > 0 if lower_better else diff < 0
    return PairedComparison(
        metric=metric,
        frames=n,
        mean_a=float(first.mean()),
        mean_b=float(second.mean()),
        mean_difference=float(observed),
        ci_low=float(np.quantile(means, alpha)),
        ci_high=float(np.quantile(means, 1 - alpha)),
        confidence=confidence,
        p_value=float((extreme + 1) / (draws + 1)),
        draws=draws,
        wins=int(np.count_nonzero(better)),
        losses=int(np.count_nonzero(worse)),
    )


def compare_records(
    records: pd.DataFrame,
    baseline: str,
    metrics: list[str],
    lower_better: dict[str, bool] | None = None,
    by: str = "subset",
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Every other method against ``baseline``, per ``by`` group and metric, on the frames both have.

    ``records`` is a tidy table (:func:`hmtir.load_results`): one row per method × subset × frame. Frames
    are matched by (subset, name); a method evaluated on different data (another manifest) must not be
    compared, so rows are also matched on ``input_sha256`` when both sides have it.
    """
    lower_better = lower_better or {}
    methods = list(dict.fromkeys(records["method"]))
    if baseline not in methods:
        raise HmtirError(f"baseline method '{baseline}' is not in the results (have: {', '.join(methods)})")
    keys = ["subset", "name"] + (["input_sha256"] if "input_sha256" in records.columns else [])
    duplicated = records.duplicated(subset=["method", *keys])
    if duplicated.any():
        row = records[duplicated].iloc[0]
        raise HmtirError(
            f"method {row['method']} has two results for {row['subset']}/{row['name']}; "
            "compare one evaluation per method"
        )
    base = records[records["method"] == baseline]
    rows = []
    for method in methods:
        if method == baseline:
            continue
        other = records[records["method"] == method]
        joined = base.merge(other, on=keys, suffixes=("_a", "_b"))
        for group, frame in joined.groupby(by, sort=False) if by else [("all", joined)]:
            for metric in metrics:
                if f"{metric}_a" not in frame or f"{metric}_b" not in frame:
                    continue
                result = paired_comparison(
                    frame[f"{metric}_a"],
                    frame[f"{metric}_b"],
                    metric,
                    lower_better.get(metric, False),
                    draws,
                    seed=seed,
                )
                rows.append(
                    {"method": method, "baseline": baseline, by or "group": group, **result.as_dict()}
                )
    if not rows:
        raise HmtirError(f"no frames in common between {baseline} and the other methods")
    return pd.DataFrame(rows)


def format_difference(comparison: PairedComparison, decimals: int = 2) -> str:
    """``+0.41 ± 0.12 (p=0.003)``: mean difference, CI half-width (see :data:`PLUS_MINUS`) and p-value."""
    p = comparison.p_value
    p_text = (
        f"p<{1 / (comparison.draws + 1):.0e}" if p <= 1 / (comparison.draws + 1) + 1e-15 else f"p={p:.3g}"
    )
    if math.isnan(comparison.mean_difference):
        return "n/a"
    return f"{comparison.mean_difference:+.{decimals}f} ± {comparison.half_width:.{decimals}f} ({p_text})"
