"""The shipped models keep their quality: PSNR gain over identity on fixed frames of every subset.

A finite score proves nothing about a model (random weights score finitely too), so each shipped method is
run on small fixed benchmarks (two procedural scenes, and two held-out HIT-UAV frames where
``../shared`` is present; 128×160, five subsets, seed 0) and every subset's gain must be at least the
gain recorded in ``hmtir/models/weights/quality_floor.json`` minus its margin. The file also pins the
sha256 of the weights it was measured on: a new checkpoint must come with re-measured floors
(``python benchmarks/quality_floor.py --write``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hmtir.methods import load_method
from hmtir.vocabulary import SUBSETS
from hmtir.weights import sha256_file
from tests.scripts import load_benchmark_script

REGENERATE = "python benchmarks/quality_floor.py --write"


qf = load_benchmark_script("quality_floor")


@pytest.fixture(scope="module")
def floor() -> dict[str, Any]:
    return qf.read_floor()


@pytest.fixture(scope="module")
def benches(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, Path]:
    """Frame set → its synthesised benchmark; ``hit-uav`` only resolved when a test asks for it."""
    root = tmp_path_factory.mktemp("quality-floor")
    return _LazyBenches(root, request)


class _LazyBenches(dict):
    def __init__(self, root: Path, request: pytest.FixtureRequest) -> None:
        super().__init__()
        self.root, self.request = root, request

    def __missing__(self, frame_set: str) -> Path:
        hit_uav = self.request.getfixturevalue("hit_uav_dir") if frame_set == "hit-uav" else None
        self[frame_set] = qf.synthesize_set(frame_set, self.root, hit_uav)
        return self[frame_set]


def test_the_floor_file_was_measured_on_the_shipped_weights(floor: dict[str, Any]) -> None:
    files = {name: qf.shipped_path(name) for name in qf.CHECKPOINTS}
    stale = [
        f"{name}: {path.name} has sha256 {sha256_file(path)}, the floors were measured "
        f"on {floor['methods'][name]['sha256']}"
        for name, path in files.items()
        if sha256_file(path) != floor["methods"][name]["sha256"]
    ]
    assert not stale, "; ".join(stale) + f" — re-measure the floors: {REGENERATE}"
    assert set(floor["methods"]) == set(qf.CHECKPOINTS)
    for name, path in files.items():
        assert floor["methods"][name]["weights"] == path.name
        for frame_set in qf.FRAME_SETS:
            assert set(floor["methods"][name]["gain_db"][frame_set]) == set(SUBSETS)


def test_the_floor_frames_are_the_ones_the_script_measures(floor: dict[str, Any]) -> None:
    assert floor["frames"] == {
        "size": list(qf.SIZE),
        "seed": qf.SEED,
        "gate": qf.GATE,
        "procedural": list(qf.PROCEDURAL),
        "hit-uav": list(qf.HIT_UAV),
    }
    assert 0 < floor["margin_db"] <= 0.25


@pytest.mark.parametrize("frame_set", qf.FRAME_SETS)
@pytest.mark.parametrize("name", qf.CHECKPOINTS)
def test_shipped_model_keeps_its_psnr_gain_on_every_subset(
    name: str, frame_set: str, floor: dict[str, Any], benches: dict[str, Path]
) -> None:
    bench = benches[frame_set]
    method = load_method(name, device="cpu")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        measured = qf.gains(method, bench)
    finally:
        torch.set_num_threads(threads)
    problems = qf.shortfalls(floor, name, frame_set, measured)
    assert not problems, f"{name} on {frame_set}: " + "; ".join(problems)


def test_the_composite_gain_is_a_real_restoration(floor: dict[str, Any]) -> None:
    """The recorded floors themselves mean something: on the composite subsets both shipped models gain
    at least 1 dB everywhere (a floor re-measured on broken weights would not)."""
    for name in qf.CHECKPOINTS:
        for frame_set in qf.FRAME_SETS:
            gains = floor["methods"][name]["gain_db"][frame_set]
            assert gains["composited/hard"] >= 1.0, (name, frame_set, gains)
            assert gains["single/noise"] >= 1.0, (name, frame_set, gains)
