"""Resuming ``hmtir synthesize`` into a used folder: only outputs made with the same seed, gate and preset
version count as done; anything else is redone and ends byte-identical to a fresh run with the new
arguments (never a mix of old images under new provenance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hmtir.data.scenes import render_scene
from hmtir.degrade.synthesize import synthesize
from hmtir.io.image import write_image
from tests.trees import tree_bytes

PRESETS = ["hard", "single-noise"]


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    for category in ("street", "field"):
        write_image(folder / f"{category}.png", render_scene(category, 3, (48, 64)), bit_depth=8)
    return folder


@pytest.mark.parametrize(
    ("first", "second"),
    [({"seed": 0}, {"seed": 1}), ({"gate": 0.8}, {"gate": 0.3})],
    ids=["seed", "gate"],
)
def test_a_rerun_with_other_arguments_redoes_what_they_change(
    source: Path, tmp_path: Path, first: dict, second: dict
) -> None:
    used, fresh = tmp_path / "used", tmp_path / "fresh"
    synthesize(source, used, presets=PRESETS, progress=False, **first)
    before = tree_bytes(used)
    report = synthesize(source, used, presets=PRESETS, progress=False, **second)
    synthesize(source, fresh, presets=PRESETS, progress=False, **second)
    assert tree_bytes(used) == tree_bytes(fresh)
    changed = {k for k in before if before[k] != tree_bytes(used)[k]}
    assert any(k.startswith("composited/hard/") for k in changed)
    provenance = json.loads((used / "meta" / "dataset.json").read_text())
    assert {k: provenance[k] for k in second} == second
    # single-noise always applies every op (gate 1.0): a gate change leaves those outputs done
    redone = 4 if "seed" in second else 2
    assert (report.written, report.skipped) == (redone, 4 - redone)


def test_a_rerun_with_the_same_arguments_does_nothing(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    synthesize(source, out, presets=PRESETS, seed=5, progress=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    report = synthesize(source, out, presets=PRESETS, seed=5, progress=False)
    assert (report.written, report.skipped) == (0, 4)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before
