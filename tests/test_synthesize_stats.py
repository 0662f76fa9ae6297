"""The statistics ``hmtir synthesize`` records describe the frames it wrote: per image (manifest ``stats``)
and per subset (the report), recomputed here from the files on disk."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hmtir.data.scenes import render_scene
from hmtir.degrade.synthesize import synthesize
from hmtir.io.image import read_image, write_image


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("stats")
    for category, depth in (("street", 8), ("industrial", 16)):
        suffix = ".png" if depth == 8 else ".tif"
        write_image(
            root / "src" / f"{category}{suffix}", render_scene(category, 2, (48, 64)), bit_depth=depth
        )
    report = synthesize(root / "src", root / "out", presets="all", seed=3, progress=False)
    return root / "out", report


def test_each_manifest_record_holds_the_psnr_and_grey_shift_of_its_written_frame(made) -> None:
    out, _ = made
    records = [json.loads(line) for line in (out / "meta" / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 10
    for record in records:
        clean = read_image(out / "imgs" / record["name"]).data.astype(np.float64)
        degraded = read_image(out / record["subset"] / record["name"]).data.astype(np.float64)
        mse = float(np.mean((degraded - clean) ** 2))
        assert record["stats"]["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4), record["subset"]
        shift = (degraded.mean() - clean.mean()) * 255
        assert record["stats"]["grey_shift"] == pytest.approx(shift, abs=1e-4), record["subset"]


def test_the_report_averages_the_per_image_statistics(made) -> None:
    out, report = made
    records = [json.loads(line) for line in (out / "meta" / "manifest.jsonl").read_text().splitlines()]
    for subset, summary in report.subsets.items():
        stats = [r["stats"] for r in records if r["subset"] == subset]
        assert summary.images == 2
        assert summary.mean_psnr == pytest.approx(np.mean([s["psnr"] for s in stats]), abs=1e-9)
        assert summary.mean_grey_shift == pytest.approx(np.mean([s["grey_shift"] for s in stats]), abs=1e-9)
