"""``convention="uint8"`` scores the outputs rounded to 8 bits for every metric: registry metrics and metric
objects passed in alike (an object carries no ``quantize_8bit`` of its own, so the runner must round)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hmtir import evaluate
from hmtir.data.scenes import render_scene
from hmtir.degrade.synthesize import synthesize
from hmtir.io.image import read_image, write_image
from hmtir.methods import Method, MethodMeta
from tests.metric_objects import ObjectMeta, ObjectMetric

OFFSET = 0.3 / 255  # moves every output off the 8-bit grid, so rounding changes the scores


class Shift(Method):
    meta = MethodMeta(name="shift", kind="reference")

    def restore(self, batch, degradation="composite", scenario="composite"):
        return batch * 0.5 + 0.25 + OFFSET


class MeanAbsoluteError(ObjectMetric):
    meta = ObjectMeta("mae", mode="FR", lower_better=True)
    formula = "mean(|pred - target|)"

    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return (pred - target).abs().double().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("convention")
    for category in ("street", "field"):
        write_image(root / "src" / f"{category}.png", render_scene(category, 1, (32, 48)), bit_depth=8)
    synthesize(root / "src", root / "bench", presets=["single-noise"], seed=0, progress=False)
    return root / "bench"


def _expected(bench: Path, name: str, rounded: bool) -> float:
    degraded = read_image(bench / "single" / "noise" / name).data.astype(np.float32)
    clean = read_image(bench / "imgs" / name).data.astype(np.float64)
    out = np.clip(degraded * np.float32(0.5) + np.float32(0.25) + np.float32(OFFSET), 0, 1).astype(np.float64)
    if rounded:
        out = np.round(out * 255) / 255
    return float(np.mean(np.abs(out - clean)))


@pytest.mark.parametrize("convention", ["float", "uint8"])
def test_a_metric_object_scores_what_the_convention_says(
    bench: Path, tmp_path: Path, convention: str
) -> None:
    result = evaluate(
        Shift(), data=bench, subsets="single/noise", metrics=[MeanAbsoluteError()], device="cpu",
        progress=False, out=tmp_path / convention, convention=convention,
    )  # fmt: skip
    rows = result.records.set_index("name")["mae"]
    assert sorted(rows.index) == ["field.png", "street.png"]
    for name, score in rows.items():
        assert score == pytest.approx(_expected(bench, name, convention == "uint8"), abs=1e-6)
        assert score != pytest.approx(_expected(bench, name, convention != "uint8"), abs=1e-6)
