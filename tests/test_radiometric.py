"""Raw radiometric frames (hmtir.io.radiometric): the mapping to display, its inverse, and raw pixel I/O."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hmtir.errors import HmtirError
from hmtir.io.image import read_image, read_pixels, write_pixels
from hmtir.io.radiometric import (
    DISPLAY_BAND,
    MIN_DISPLAY_LEVELS,
    NARROW_FRACTION,
    RangeMapping,
    RangeSpec,
    choose_mapping,
    display_levels,
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
    for text in ("7000.12345,8000", "7000.12349,8000", "-1e-300,1e+300", "0.1,0.30000000000000004"):
        assert str(RangeSpec.parse(text)) == text  # the recorded window is the one asked for
        assert RangeSpec.parse(str(RangeSpec.parse(text))) == RangeSpec.parse(text)


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


def counts_7000() -> np.ndarray:
    """16-bit counts 7000–7399: a 0.6 % band of the type, the frame of the issue's --range=-1e308,1e308."""
    return (7000 + np.random.default_rng(0).integers(0, 400, (64, 64))).astype(np.uint16)


@pytest.mark.parametrize(
    ("frame", "spec", "fragment"),
    [
        (
            counts_7000(),
            "-1e308,1e308",
            "range -1e+308,1e+308: outside what uint16 samples can hold (0…65535)",
        ),
        (counts_7000(), "-1,400", "outside what uint16 samples can hold"),
        (counts_7000().astype(np.float64), "-1e308,1e308", "HIGH − LOW is too wide or too narrow"),
        (counts_7000().astype(np.float32), "0,1e39", "outside what float32 samples can hold"),
        (counts_7000(), "full", "--range full (0…65535) maps the frame's values 7001…7398 (uint16, "),
        (counts_7000(), "0,65535", "onto 3 of 256 display levels, fewer than 8"),
        (counts_7000(), "20000,30000", "onto 1 of 256 display levels"),  # the whole frame black
        (counts_7000(), "7000.2,7000.7", "onto 1 of 256 display levels"),  # the whole frame white
        (counts_7000().astype(np.float64) + 1e-3, "-1e307,1e307", "onto 1 of 256 display levels"),
    ],
)
def test_a_range_that_collapses_the_frame_is_one_line_naming_frame_and_range(
    frame: np.ndarray, spec: str, fragment: str
) -> None:
    with pytest.raises(HmtirError) as info:
        choose_mapping(frame, spec, what="cam/f.tiff")
    message = str(info.value)
    assert message.startswith("cam/f.tiff: ") and fragment in message and "\n" not in message


def test_a_window_that_keeps_enough_levels_is_taken_as_given() -> None:
    mapping = choose_mapping(counts_7000(), "6000,8000")  # 400 of 2000 counts: 51 levels, and 0 clipped
    assert mapping.mode == "manual" and display_levels(mapping, counts_7000()) >= MIN_DISPLAY_LEVELS
    assert mapping.clipped_fraction == 0.0
    full = choose_mapping(narrow_counts(), "full")  # 3.6 % of the range: 10 levels, dark but allowed
    assert full.narrow and MIN_DISPLAY_LEVELS <= display_levels(full, narrow_counts()) < 16


def test_frames_with_fewer_values_than_the_threshold_need_only_what_their_agc_shows() -> None:
    """A flat or two-valued frame has nothing more to show: auto and a covering window both pass."""
    flat = np.full((40, 40), 8123, np.uint16)
    two = (8000 + (np.random.default_rng(1).random((40, 40)) < 0.5)).astype(np.uint16)
    for frame in (flat, two):
        mapping = choose_mapping(frame)
        assert display_levels(mapping, frame) == len(np.unique(frame))
        assert choose_mapping(frame, "7990,8010").mode == "manual"
    with pytest.raises(HmtirError, match="onto 1 of 256 display levels, fewer than 2"):
        choose_mapping(two, "full")  # both counts land on one 8-bit level: the frame's only contrast gone
    top = np.full((8, 8), 65535, np.uint16)  # the degenerate AGC band stays inside the type
    mapping = choose_mapping(top)
    assert (mapping.low, mapping.high) == (65534.0, 65535.0)
    assert np.array_equal(mapping.from_display(mapping.to_display(top)), top)


def test_auto_falls_back_to_the_agc_when_a_display_float_frame_would_collapse() -> None:
    dim = (0.001 + 0.002 * scene()).astype(np.float32)  # in [0, 1], but 2 levels as it is
    mapping = choose_mapping(dim)
    assert mapping.mode == "percentile" and display_levels(mapping, dim) > 100
    inside = (mapping.to_display(dim) > 0) & (mapping.to_display(dim) < 1)
    assert np.abs(mapping.from_display(mapping.to_display(dim)) - dim)[inside].max() < 1e-8
    with pytest.raises(HmtirError, match=r"--range full \(0…1\) maps .* onto 2 of 256"):
        choose_mapping(dim, "full")
    ordinary = scene().astype(np.float32)  # a display frame that shows itself stays as it is
    assert choose_mapping(ordinary).mode == "display"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("manual", "uint16", 5.0, 5.0), "LOW must be below HIGH"),
        (("manual", "uint16", 9.0, 5.0), "LOW must be below HIGH"),
        (("manual", "uint16", -1e308, 1e308), "outside what uint16 samples can hold"),
        (("manual", "float64", -1e308, 1e308), "HIGH − LOW is too wide"),
        (("manual", "float64", 0.0, 1e-320), "HIGH − LOW is too wide or too narrow"),
        (("manual", "float32", 0.0, math.nan), "must be finite"),
        (("manual", "float32", -math.inf, 0.0), "must be finite"),
        (("percentile", "uint16", 7000.0, 8000.0, 0.847, 0.175), "must rise within [0, 1]"),
        (("percentile", "uint16", 7000.0, 8000.0, 0.5, 0.5), "must rise within [0, 1]"),
        (("percentile", "uint16", 7000.0, 8000.0, -0.1, 0.9), "must rise within [0, 1]"),
        (("manual", "complex64", 0.0, 1.0), "cannot map samples of type complex64"),
        (("manual", "no-such-type", 0.0, 1.0), "cannot map samples of type no-such-type"),
        (("manual", "uint16", "7000", 8000.0), "LOW, HIGH and the display band must be numbers"),
        (("manual", "uint16", 7000.0, None), "must be numbers"),
    ],
)
def test_the_library_api_refuses_a_window_no_frame_can_go_through(args: tuple, fragment: str) -> None:
    with pytest.raises(HmtirError) as info:
        RangeMapping(*args)
    assert fragment in str(info.value) and str(info.value).startswith("range ")


def test_the_way_back_never_leaves_the_input_type() -> None:
    """A float32 frame near its type's top: the network's white maps past it, clipped, never Inf."""
    frame = np.linspace(3.0e38, 3.4e38, 64, dtype=np.float32).reshape(8, 8)
    mapping = choose_mapping(frame)
    back = mapping.from_display(np.array([[0.0, 1.0]], np.float32))
    assert back.dtype == np.float32 and np.isfinite(back).all()
    assert back[0, 1] == np.finfo(np.float32).max


def test_agc_keeps_hot_bright_and_the_round_trip_exact() -> None:
    """White-hot in, white-hot to the network: the hottest counts get the highest display values."""
    counts = narrow_counts()
    mapping = choose_mapping(counts)
    display = mapping.to_display(counts)
    hot, cold = (
        np.unravel_index(counts.argmax(), counts.shape),
        np.unravel_index(counts.argmin(), counts.shape),
    )
    assert display[hot] > 0.8 > 0.2 > display[cold]
    order = np.argsort(counts, axis=None, kind="stable")
    assert (np.diff(display.ravel()[order]) >= 0).all()  # monotone rising: radiometric order kept
    assert mapping.display_low < mapping.display_high == DISPLAY_BAND[1]


def test_raw_frames_respect_the_pixel_limit_before_any_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    frames = {
        "counts.tiff": narrow_counts(),
        "kelvin.tiff": (290 + scene()).astype(np.float32),
        "kelvin64.tiff": 290 + scene(),  # float64: Pillow cannot parse it, its size comes from the tags
    }
    for name, frame in frames.items():
        write_pixels(tmp_path / name, frame)
        assert np.array_equal(read_raw(tmp_path / name).pixels, frame)
    monkeypatch.setenv("HMTIR_MAX_PIXELS", str(96 * 128 - 1))

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a frame over the pixel limit")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    for name in frames:
        with pytest.raises(HmtirError, match=r"128×96 = 12,288 pixels is over the limit of 12,287"):
            read_raw(tmp_path / name)
