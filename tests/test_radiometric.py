"""Raw radiometric frames (hmtir.io.radiometric): the mapping to display, its inverse, and raw pixel I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hmtir.errors import HmtirError
from hmtir.io.image import read_image, read_pixels, write_pixels
from hmtir.io.radiometric import (
    DISPLAY_BAND,
    NARROW_FRACTION,
    RangeSpec,
    choose_mapping,
    read_raw,
    write_raw,
)


def scene(shape: tuple[int, int] = (96, 128), seed: int = 0) -> np.ndarray:
    """A smooth frame in [0, 1] with a few edges: something with a histogram worth mapping."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    frame = 0.3 + 0.4 * xx + 0.2 * np.sin(8 * yy) + 0.02 * rng.standard_normal(shape)
    frame[20:40, 30:60] += 0.25
    return np.clip(frame, 0, 1)


def narrow_counts(low: int = 7564, high: int = 9928, seed: int = 0) -> np.ndarray:
    frame = scene(seed=seed)
    return np.rint(low + (frame - frame.min()) / np.ptp(frame) * (high - low)).astype(np.uint16)


def test_narrow_16_bit_counts_take_the_agc_path_and_come_back_exactly() -> None:
    counts = narrow_counts()
    mapping = choose_mapping(counts)
    assert mapping.mode == "percentile" and mapping.dtype == "uint16" and not mapping.narrow
    assert mapping.used_fraction is not None and mapping.used_fraction < 0.04
    display = mapping.to_display(counts)
    p_low, p_high = np.percentile(display, (0.5, 99.5))
    assert abs(p_low - DISPLAY_BAND[0]) < 1e-3 and abs(p_high - DISPLAY_BAND[1]) < 1e-3
    # every count inside the window survives the float32 display and the way back
    back = mapping.from_display(display)
    assert back.dtype == np.uint16
    inside = (display > 0) & (display < 1)
    assert np.array_equal(back[inside], counts[inside]) and inside.mean() > 0.99


def test_wide_16_bit_and_every_8_bit_frame_use_the_full_range() -> None:
    wide = np.rint(scene() * 65535).astype(np.uint16)
    mapping = choose_mapping(wide)
    assert mapping.mode == "full" and (mapping.low, mapping.high) == (0.0, 65535.0)
    assert np.array_equal(mapping.from_display(mapping.to_display(wide)), wide)
    dim = np.rint(scene() * 30).astype(np.uint8)  # 8 bits is a display frame, however dim
    mapping = choose_mapping(dim)
    assert mapping.mode == "full" and mapping.used_fraction < NARROW_FRACTION and not mapping.narrow
    assert np.array_equal(mapping.to_display(dim), (dim / 255).astype(np.float32))


def test_a_14_bit_camera_in_a_16_bit_container_is_raw() -> None:
    counts = np.rint(scene() * 16383).astype(np.uint16)  # the whole 14-bit range: 25 % of 16 bits
    assert choose_mapping(counts).mode == "percentile"


def test_full_range_on_a_narrow_frame_is_flagged_never_silent() -> None:
    mapping = choose_mapping(narrow_counts(), "full")
    assert mapping.mode == "full" and mapping.narrow and "NARROW" in mapping.describe()


def test_kelvin_float_tiff_is_read_mapped_and_written_back_as_kelvin(tmp_path: Path) -> None:
    kelvin = (290 + 20 * scene()).astype(np.float32)
    path = tmp_path / "k.tiff"
    write_pixels(path, kelvin)
    with pytest.raises(HmtirError, match=r"float values must lie in \[0, 1\]"):
        read_image(path)  # the display reader keeps refusing it
    raw = read_raw(path)
    assert raw.dtype == np.float32 and np.array_equal(raw.pixels, kelvin)
    assert raw.mapping.mode == "percentile" and raw.mapping.used_fraction is None
    assert 289 < raw.mapping.low < raw.mapping.high < 311
    out = tmp_path / "out.tiff"
    written = write_raw(out, raw.display, raw.mapping)
    back = read_pixels(out)
    assert back.dtype == np.float32 and np.array_equal(back, written)
    inside = (raw.display > 0) & (raw.display < 1)
    assert np.abs(back[inside] - kelvin[inside]).max() < 1e-3  # float32 display precision, in K
    with pytest.raises(HmtirError, match=r"--range full needs integers or floats in \[0, 1\].*290"):
        read_raw(path, "full")


def test_manual_window_maps_low_to_black_and_high_to_white() -> None:
    counts = narrow_counts()
    mapping = choose_mapping(counts, "8000,9000")
    assert mapping.mode == "manual" and (mapping.display_low, mapping.display_high) == (0.0, 1.0)
    display = mapping.to_display(np.array([7000, 8000, 8500, 9000, 9500], np.uint16))
    assert display.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert 0.3 < mapping.clipped_fraction < 0.9  # the window cuts the frame; recorded


@pytest.mark.parametrize("text", ["", "abc", "5,3", "1,1", "nan,2", "1,inf", "1,2,3", "1;2"])
def test_bad_range_specs_are_one_line_errors(text: str) -> None:
    with pytest.raises(HmtirError) as info:
        RangeSpec.parse(text)
    assert "--range" in str(info.value) and "\n" not in str(info.value)


def test_range_spec_parses_and_prints() -> None:
    assert str(RangeSpec.parse(" AUTO ")) == "auto" and str(RangeSpec.parse("full")) == "full"
    spec = RangeSpec.parse("290.5,310")
    assert (spec.mode, spec.low, spec.high, str(spec)) == ("manual", 290.5, 310.0, "290.5,310")


def test_hot_and_dead_pixels_do_not_move_the_agc() -> None:
    counts = narrow_counts()
    spoiled = counts.copy()
    spoiled.flat[::997] = 65535  # ~0.1 % stuck hot
    spoiled.flat[5::991] = 0  # and dead
    clean, hurt = choose_mapping(counts), choose_mapping(spoiled)
    assert hurt.mode == "percentile"  # min/max would call this frame full-range
    assert abs(hurt.low - clean.low) < 25 and abs(hurt.high - clean.high) < 25
    assert 0.001 < hurt.clipped_fraction < 0.01


def test_constant_and_nan_frames_keep_an_invertible_mapping() -> None:
    flat = np.full((40, 40), 8000, np.uint16)
    mapping = choose_mapping(flat)
    assert mapping.high > mapping.low
    assert np.array_equal(mapping.from_display(mapping.to_display(flat)), flat)
    kelvin = (295 + scene()).astype(np.float32)
    kelvin[3, 3] = np.nan
    mapping = choose_mapping(kelvin)  # NaN ignored for the window, kept in the display for checks downstream
    assert np.isfinite([mapping.low, mapping.high]).all() and np.isnan(mapping.to_display(kelvin)[3, 3])
    with pytest.raises(HmtirError, match="every pixel is NaN or Inf"):
        choose_mapping(np.full((8, 8), np.nan, np.float32))


def test_mapping_record_is_plain_json() -> None:
    import json

    record = choose_mapping(narrow_counts()).as_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["mode"] == "percentile" and record["percentiles"] == [0.5, 99.5]


def test_pixel_io_keeps_the_sample_type_and_refuses_lossy_formats(tmp_path: Path) -> None:
    signed = (np.arange(48, dtype=np.int16).reshape(6, 8) - 20) * 300
    write_pixels(tmp_path / "s.tiff", signed)
    assert np.array_equal(read_pixels(tmp_path / "s.tiff"), signed)
    assert read_raw(tmp_path / "s.tiff").mapping.dtype == "int16"
    for name, pixels in (("a.png", signed), ("b.jpg", signed.astype(np.uint16)), ("c.png", signed * 1.0)):
        with pytest.raises(HmtirError, match="cannot store"):
            write_pixels(tmp_path / name, pixels)
    with pytest.raises(HmtirError, match="unsupported extension"):
        write_pixels(tmp_path / "d.gif", signed)
    (tmp_path / "e.tiff").write_bytes(b"junk")
    with pytest.raises(HmtirError, match="not a valid image file"):
        read_raw(tmp_path / "e.tiff")
