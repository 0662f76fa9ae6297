"""The procedural TIR scene generator: determinism, value statistics, thermal layout, scenes.csv, resuming."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from hmtir.data.layout import SCENES_FILE
from hmtir.data.scenes import SCENE_CATEGORIES, SCENES, make_scenes, render_scene
from hmtir.errors import HmtirError
from hmtir.io import read_image

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def frames() -> dict[tuple[str, int], np.ndarray]:
    return {(category, seed): render_scene(category, seed) for category in SCENE_CATEGORIES for seed in SEEDS}


def test_eight_registered_categories() -> None:
    assert SCENE_CATEGORIES == (
        "street",
        "building",
        "skyline",
        "vegetation",
        "waterside",
        "industrial",
        "parking",
        "field",
    )
    assert sorted(SCENE_CATEGORIES) == SCENES.names()
    assert all(SCENES.meta(name).summary for name in SCENE_CATEGORIES)


def test_shape_dtype_range(frames: dict[tuple[str, int], np.ndarray]) -> None:
    for key, frame in frames.items():
        assert frame.shape == (512, 640), key
        assert frame.dtype == np.float32, key
        assert np.isfinite(frame).all(), key
        assert 0.0 <= frame.min() and frame.max() <= 1.0, key


def test_same_seed_is_byte_identical_and_seeds_differ() -> None:
    for category in SCENE_CATEGORIES:
        first = render_scene(category, 7)
        assert first.tobytes() == render_scene(category, 7).tobytes(), category
        assert not np.array_equal(first, render_scene(category, 8)), category
        assert not np.array_equal(first, render_scene(category, 7, index=1)), category


def test_categories_do_not_share_a_stream() -> None:
    a, b = render_scene("street", 0), render_scene("field", 0)
    assert np.abs(a - b).mean() > 0.05


def test_plausible_dynamic_range(frames: dict[tuple[str, int], np.ndarray]) -> None:
    """Ranges measured over seeds 0–11 of every category (std 0.09–0.26, p1 0.02–0.12, p50 0.18–0.61,
    p99 0.68–0.96), widened a little: like an AGC-stretched camera frame, not flat and not saturated."""
    for key, frame in frames.items():
        p1, p50, p99 = np.percentile(frame, [1, 50, 99])
        assert 0.08 < frame.std() < 0.28, key
        assert 0.01 < p1 < 0.14, key
        assert 0.15 < p50 < 0.65, key
        assert 0.65 < p99 < 0.98, key
        assert (frame >= 0.999).mean() < 0.01, key  # the stretch leaves headroom: no blown-out areas


def test_fine_texture_makes_blur_visible(frames: dict[tuple[str, int], np.ndarray]) -> None:
    """A σ=2 blur must change a frame noticeably (measured 1.5–6 grey levels mean absolute change)."""
    for key, frame in frames.items():
        change = np.abs(cv2.GaussianBlur(frame, (0, 0), 2.0) - frame).mean() * 255
        assert change > 1.2, key


def test_skyline_sky_is_cold_and_smooth_and_buildings_warmer(
    frames: dict[tuple[str, int], np.ndarray],
) -> None:
    """Measured on seeds 0–11: top-of-frame mean 0.06–0.14, mean |gradient| ≤ 0.0009 (the whole frame's
    horizontal gradient is ≥ 0.0066), the hottest 0.5 % below the sky ≥ 0.86."""
    for seed in SEEDS:
        frame = frames[("skyline", seed)]
        sky = frame[: int(0.08 * frame.shape[0])]
        sky_gradient = np.abs(np.diff(sky, axis=1)).mean() + np.abs(np.diff(sky, axis=0)).mean()
        frame_gradient = np.abs(np.diff(frame, axis=1)).mean()
        assert sky.mean() < 0.16, seed
        assert sky.mean() < np.median(frame) - 0.15, seed
        assert sky_gradient < 0.0015, seed
        assert sky_gradient < frame_gradient / 4, seed
        warm = np.percentile(frame[frame.shape[0] // 3 :], 99.5)
        assert warm > 0.8 and warm > sky.max() + 0.5, seed


def test_skies_are_the_coldest_part_where_present(frames: dict[tuple[str, int], np.ndarray]) -> None:
    """Every category with a horizon keeps at least its top 2 % of rows as sky, colder than the frame."""
    for category in ("street", "skyline", "vegetation", "waterside", "industrial", "field"):
        for seed in SEEDS:
            frame = frames[(category, seed)]
            sky = frame[: int(0.02 * frame.shape[0])]
            assert sky.mean() < np.percentile(frame, 25), (category, seed)


def test_other_sizes_keep_composition() -> None:
    small = render_scene("street", 3, size=(128, 160))
    assert small.shape == (128, 160) and small.dtype == np.float32
    assert 0.08 < small.std() < 0.3


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(HmtirError) as info:
        render_scene("desert", 0)
    assert str(info.value) == (
        "unknown scene category 'desert' (available: building, field, industrial, parking, skyline, street, "
        "vegetation, waterside)"
    )
    with pytest.raises(HmtirError) as info:
        render_scene("street", 0, size=(16, 640))
    assert str(info.value) == "scene size must be at least 32×32 pixels, got 16×640"
    with pytest.raises(HmtirError) as info:
        make_scenes(tmp_path, per_category=0)
    assert str(info.value) == "per_category must be at least 1, got 0"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HmtirError) as info:
        make_scenes(blocker)
    assert str(info.value) == f"cannot write scenes to {blocker}: it exists and is not a folder"


def test_make_scenes_writes_pngs_and_csv(tmp_path: Path) -> None:
    size = (64, 80)
    pairs = make_scenes(tmp_path, per_category=2, seed=5, size=size)
    expected = [(f"{c}_{k:03d}.png", c) for c in SCENE_CATEGORIES for k in range(2)]
    assert pairs == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([SCENES_FILE] + [n for n, _ in expected])
    with (tmp_path / SCENES_FILE).open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "scene"]
    assert [tuple(r) for r in rows[1:]] == expected
    for name, category in pairs:
        frame = read_image(tmp_path / name)
        assert frame.bit_depth == 8 and frame.data.shape == size
        index = int(name[-7:-4])
        reference = np.rint(render_scene(category, 5, size, index=index) * 255) / 255
        np.testing.assert_array_equal(frame.data, reference.astype(np.float32))


def test_make_scenes_is_order_independent_and_resumable(tmp_path: Path) -> None:
    size = (48, 64)
    full, part = tmp_path / "full", tmp_path / "part"
    make_scenes(full, per_category=2, seed=1, size=size)
    make_scenes(part, per_category=2, seed=1, size=size, categories=("field", "street"))
    for name in ("field_000.png", "field_001.png", "street_001.png"):
        assert (part / name).read_bytes() == (full / name).read_bytes()

    victim = full / "parking_001.png"
    original = victim.read_bytes()
    victim.unlink()
    survivor = full / "street_000.png"
    survivor.write_bytes(b"kept as is")  # proves finished files are not redone
    make_scenes(full, per_category=2, seed=1, size=size)
    assert victim.read_bytes() == original
    assert survivor.read_bytes() == b"kept as is"
    assert not [p.name for p in full.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_each_painter_module_registers_its_own_category() -> None:
    """A new category is one new file: every public module of the package is found and paints its name."""
    import pkgutil

    import hmtir
    import hmtir.data.scenes as package

    modules = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
    assert modules == sorted(SCENE_CATEGORIES)
    for name in SCENE_CATEGORIES:
        assert SCENES.entry(name).factory.__module__ == f"hmtir.data.scenes.{name}"
    assert [SCENES.meta(name).order for name in SCENE_CATEGORIES] == list(range(1, 9))
    assert hmtir.make_scenes is make_scenes


@pytest.mark.parametrize(
    ("seed", "index", "message"), [(-1, 0, "seed"), (2**63, 0, "seed"), (0, -2, "index")]
)
def test_seeds_outside_the_generator_range_are_one_line(seed: int, index: int, message: str) -> None:
    value = index if message == "index" else seed
    with pytest.raises(HmtirError) as info:
        render_scene("street", seed, (32, 32), index=index)
    assert str(info.value) == f"{message} must be a whole number from 0 to 2**63-1, got {value}"
