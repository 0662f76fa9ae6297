"""benchmarks/prior_router.py: the per-frame switch between the two shipped brightness priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hmtir.io.image import write_image
from tests.scripts import load_benchmark_script

router = load_benchmark_script("prior_router")


def _frames() -> pd.DataFrame:
    """Two cells: bright frames (std ≥ 0.2) where agc wins by 2 dB, dark ones where dim wins by 3 dB."""
    rows = []
    for cell, (std, dim, agc) in {"xagc": (0.3, 18.0, 20.0), "x0.45": (0.1, 21.0, 18.0)}.items():
        for index in range(4):
            rows.append(
                {
                    "bench": cell,
                    "preset": "normal",
                    "std": std + index / 100,
                    "dim": dim,
                    "agc": agc,
                    "half": 0,
                }
            )
    return pd.DataFrame(rows)


def test_the_fit_finds_the_threshold_that_separates_the_priors() -> None:
    frames = _frames()
    score, threshold, agc_above = router.fit_switch(frames, "std")
    assert (score, agc_above) == (20.5, True)  # each cell gets its better prior: (20 + 21) / 2
    assert 0.13 < threshold <= 0.3
    chosen = router.switched(frames, "std", threshold, agc_above)
    assert chosen.to_agc.tolist() == [True] * 4 + [False] * 4


def test_cells_weigh_the_same_whatever_their_frame_count() -> None:
    frames = pd.DataFrame({"bench": ["a", "a", "a", "b"], "preset": ["normal"] * 4})
    assert router.cell_mean(frames, np.array([10.0, 10.0, 10.0, 20.0])) == pytest.approx(15.0)


def test_grey_statistics_read_the_frame_in_unit_range(tmp_path: Path) -> None:
    frame = np.tile(np.linspace(0.0, 1.0, 201, dtype=np.float32), (4, 1))
    write_image(tmp_path / "ramp.png", frame)
    stats = router.grey_statistics(tmp_path / "ramp.png")
    assert stats["mean"] == pytest.approx(0.5, abs=2e-3)
    assert stats["p50"] == pytest.approx(0.5, abs=3e-3)
    assert stats["spread"] == pytest.approx(0.99, abs=6e-3)
    assert stats["spread90"] == pytest.approx(0.90, abs=6e-3)
