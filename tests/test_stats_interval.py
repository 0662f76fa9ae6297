"""The paired bootstrap interval is the percentile interval at the stated confidence (both tails), and
``compare_records`` pairs only frames scored on the same input and counts wins in each metric's direction."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from hmtir.errors import HmtirError
from hmtir.evaluation.stats import compare_records, paired_comparison


@pytest.mark.parametrize("confidence", [0.95, 0.80])
def test_each_tail_of_the_interval_holds_half_the_missing_confidence(confidence: float) -> None:
    """With 400 frames the bootstrap mean is close to normal, so each end of the percentile interval lies
    z = Φ⁻¹(1 − (1 − confidence)/2) standard errors from the mean (1.96 at 95 %, 1.28 at 80 %)."""
    rng = np.random.default_rng(7)
    a = rng.normal(20.0, 2.0, 400)
    b = a + rng.normal(0.3, 1.0, 400)
    result = paired_comparison(a, b, "psnr", draws=20000, confidence=confidence, seed=1)
    diff = b - a
    standard_error = diff.std(ddof=0) / np.sqrt(diff.size)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    low = (result.mean_difference - result.ci_low) / standard_error
    high = (result.ci_high - result.mean_difference) / standard_error
    # measured at this seed: 1.97 / 1.95 (95 %), 1.29 / 1.28 (80 %); a one-sided cut or a halved tail moves
    # an end by 0.3 or more
    assert low == pytest.approx(z, abs=0.12) and high == pytest.approx(z, abs=0.12)
    assert result.half_width == pytest.approx(z * standard_error, rel=0.05)


def _records(shift_inputs_of: str | None = None) -> pd.DataFrame:
    rows = []
    for k in range(10):
        for method, psnr, niqe in (("identity", 18.0 + k, 6.0), ("ppfn", 18.5 + k, 5.0 + 0.1 * k)):
            sha = f"in{k}" if method != shift_inputs_of or k < 4 else f"other{k}"
            rows.append(
                {"method": method, "subset": "composited/hard", "name": f"f{k}.png", "psnr": psnr, "niqe": niqe,
                 "input_sha256": sha}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_frames_are_paired_only_when_both_scored_the_same_input() -> None:
    assert compare_records(_records(), "identity", ["psnr"], draws=500)["frames"].tolist() == [10]
    # six of ppfn's frames were scored on other data (same names, different input bytes)
    assert compare_records(_records("ppfn"), "identity", ["psnr"], draws=500)["frames"].tolist() == [4]


def test_no_common_inputs_is_a_one_line_error() -> None:
    records = _records()
    records.loc[records["method"] == "ppfn", "input_sha256"] = "elsewhere"
    with pytest.raises(HmtirError, match=r"^no frames in common between identity and the other methods$"):
        compare_records(records, "identity", ["psnr"], draws=500)


def test_wins_follow_each_metrics_direction() -> None:
    table = compare_records(
        _records(), "identity", ["psnr", "niqe"], lower_better={"niqe": True}, draws=500
    ).set_index("metric")
    assert (table.loc["psnr", "wins"], table.loc["psnr", "losses"]) == (10, 0)
    # ppfn's NIQE (5.0 + 0.1 k, k < 10) is below identity's 6.0 on every frame: ten wins when lower is better
    assert (table.loc["niqe", "wins"], table.loc["niqe", "losses"]) == (10, 0)
    higher_is_better = compare_records(_records(), "identity", ["niqe"], draws=500).iloc[0]
    assert (higher_is_better["wins"], higher_is_better["losses"]) == (0, 10)
