"""Pinned procedural scenes: every category at the tests' demo size (64×80) and at 640×512, two seeds.

Determinism run-against-run cannot notice a painter that changes every run the same way (a reordered
random draw, a moved stroke, a refactor that is not byte-identical), so each frame is pinned in
``tests/golden/scenes.json``: the sha256 of the float32 frame and a coarse signature of its 8-bit levels
(see ``pinned.py``). Regenerate with ``python tests/test_scenes_golden.py`` only after an intended change
of the scenes, and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pinned import levels, mismatches, pin

from hmtir.data.scenes import SCENE_CATEGORIES, render_scene

GOLDEN = Path(__file__).parent / "golden" / "scenes.json"
SIZES = ((64, 80), (512, 640))  # (height, width): test_demo's size and HM-TIR's frame
SEEDS = (0, 1)


def key(category: str, seed: int, size: tuple[int, int], index: int = 0) -> str:
    return f"{category}/seed{seed}/index{index}/{size[1]}x{size[0]}"


def observe() -> dict[str, Any]:
    frames = {}
    for size in SIZES:
        for seed in SEEDS:
            for category in SCENE_CATEGORIES:
                frame = render_scene(category, seed, size)
                frames[key(category, seed, size)] = pin(frame, levels(frame, 8))
    for category in SCENE_CATEGORIES:  # the index of a frame within its category is a stream too
        frame = render_scene(category, 0, SIZES[0], index=1)
        frames[key(category, 0, SIZES[0], 1)] = pin(frame, levels(frame, 8))
    return frames


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_every_category_renders_its_pinned_frames(size: tuple[int, int]) -> None:
    golden = json.loads(GOLDEN.read_text())
    want = {k: v for k, v in golden.items() if k.endswith(f"/{size[1]}x{size[0]}")}
    got = {}
    for k in want:
        category, seed, index, _ = k.split("/")
        frame = render_scene(category, int(seed[4:]), size, index=int(index[5:]))
        got[k] = pin(frame, levels(frame, 8))
    assert {k.split("/")[0] for k in want} == set(SCENE_CATEGORIES)
    assert mismatches(got, want) == []


if __name__ == "__main__":  # regenerate the fixture from the current code
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(observe(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
