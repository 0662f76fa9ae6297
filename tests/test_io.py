"""hmtir.io.image: round trips for every format and bit depth, channel handling, and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from hmtir.errors import HmtirError
from hmtir.io import Frame, read_image, write_image


def _smooth_frame(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth float frame covering [0, 1], like a TIR frame (JPEG errors stay small on it)."""
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return (smooth - smooth.min()) / (smooth.max() - smooth.min())


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".bmp"])
def test_8bit_lossless_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    data = levels.astype(np.float32) / 255
    target = tmp_path / f"frame{suffix}"
    write_image(target, data, bit_depth=8)
    frame = read_image(target)
    assert isinstance(frame, Frame)
    assert frame.bit_depth == 8
    assert frame.data.dtype == np.float32 and frame.data.shape == (16, 16)
    np.testing.assert_array_equal(np.rint(frame.data * 255).astype(np.uint8), levels)
    np.testing.assert_array_equal(cv2.imread(str(target), cv2.IMREAD_UNCHANGED), levels)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_round_trip_is_exact_for_every_level(tmp_path: Path, suffix: str) -> None:
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    target = tmp_path / f"frame16{suffix}"
    write_image(target, levels.astype(np.float64) / 65535, bit_depth=16)
    on_disk = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert on_disk.dtype == np.uint16
    np.testing.assert_array_equal(on_disk, levels)
    frame = read_image(target)
    assert frame.bit_depth == 16
    np.testing.assert_array_equal(np.rint(frame.data.astype(np.float64) * 65535).astype(np.uint16), levels)
    # and writing what was read gives the same file content back
    write_image(tmp_path / f"again{suffix}", frame.data, bit_depth=frame.bit_depth)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / f"again{suffix}"), cv2.IMREAD_UNCHANGED), levels)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_round_trip_within_measured_tolerance(tmp_path: Path, suffix: str) -> None:
    data = _smooth_frame()
    write_image(tmp_path / f"frame{suffix}", data)
    frame = read_image(tmp_path / f"frame{suffix}")
    assert frame.bit_depth == 8
    error = np.abs(frame.data - data) * 255
    # measured at quality 95 on this smooth frame: max 3.5, mean 0.65 grey levels
    assert error.max() < 6
    assert error.mean() < 1.2


def test_float_tiff_round_trip_is_exact(tmp_path: Path) -> None:
    data = _smooth_frame(seed=3)
    write_image(tmp_path / "float.tif", data, bit_depth=32)
    frame = read_image(tmp_path / "float.tif")
    assert frame.bit_depth == 32
    np.testing.assert_array_equal(frame.data, data)


def test_float_tiff_written_by_tifffile_is_read(tmp_path: Path) -> None:
    data = _smooth_frame(seed=4)
    tifffile.imwrite(tmp_path / "ext.tif", data)
    np.testing.assert_array_equal(read_image(tmp_path / "ext.tif").data, data)


def test_quantisation_rounds_instead_of_truncating(tmp_path: Path) -> None:
    # 0.7/255 truncates to 0 but rounds to 1; 0.5 is 127.5 levels, which round-half-to-even sends to 128
    data = np.array([[0.7 / 255, 0.5, 1.0 - 0.4 / 255, 1.0 + 5e-7, -5e-7]], dtype=np.float64)
    write_image(tmp_path / "q.png", data)
    np.testing.assert_array_equal(
        cv2.imread(str(tmp_path / "q.png"), cv2.IMREAD_UNCHANGED), [[1, 128, 255, 255, 0]]
    )


def test_accepts_single_channel_3d_array(tmp_path: Path) -> None:
    data = _smooth_frame()[..., None]
    write_image(tmp_path / "c1.png", data)
    assert read_image(tmp_path / "c1.png").data.shape == data.shape[:2]


# ------------------------------------------------------------------------------------ channel handling


def test_equal_channel_rgb_and_rgba_become_grey(tmp_path: Path) -> None:
    grey = (np.arange(12 * 10) % 256).astype(np.uint8).reshape(12, 10)
    alpha = np.full_like(grey, 17)
    Image.fromarray(np.dstack([grey] * 3), "RGB").save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([grey] * 3 + [alpha]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(tmp_path / "la.png")
    Image.fromarray(np.dstack([grey] * 3), "RGB").save(tmp_path / "rgb.bmp")
    for name in ("rgb.png", "rgba.png", "la.png", "rgb.bmp"):
        frame = read_image(tmp_path / name)
        assert frame.data.ndim == 2, name
        np.testing.assert_array_equal(np.rint(frame.data * 255).astype(np.uint8), grey, err_msg=name)


def test_grey_palette_png_becomes_grey(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 3]], dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 10, 10, 10, 200, 200, 200, 255, 255, 255])
    image.save(tmp_path / "palette.png")
    frame = read_image(tmp_path / "palette.png")
    np.testing.assert_array_equal(np.rint(frame.data * 255), [[0, 10], [200, 255]])


def test_16bit_rgb_png_with_equal_channels_stays_16bit(tmp_path: Path) -> None:
    levels = (np.arange(40 * 30, dtype=np.uint32) * 53 % 65536).astype(np.uint16).reshape(40, 30)
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.dstack([levels] * 3))
    frame = read_image(tmp_path / "rgb16.png")
    assert frame.bit_depth == 16
    np.testing.assert_array_equal(np.rint(frame.data.astype(np.float64) * 65535).astype(np.uint16), levels)


def test_colour_image_is_refused_without_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    Image.fromarray(rgb, "RGB").save(tmp_path / "red.png")
    with pytest.raises(HmtirError) as info:
        read_image(tmp_path / "red.png")
    assert str(info.value) == (
        f"cannot read image {tmp_path / 'red.png'}: colour image with unequal channels; convert it to grey "
        "or ask for a luminance conversion (luminance=True)"
    )


def test_luminance_uses_bt601_weights_in_rgb_order(tmp_path: Path) -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "colours.png")
    frame = read_image(tmp_path / "colours.png", luminance=True)
    expected = np.array([[0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255]], np.float32)
    np.testing.assert_allclose(frame.data, expected, rtol=0, atol=1e-7)
    assert frame.bit_depth == 8


def test_16bit_surprise_keeps_full_precision(tmp_path: Path) -> None:
    """A 16-bit file that looks like an ordinary PNG must not be squashed to 8 bits."""
    levels = np.array([[1, 2, 257, 1000], [30000, 40001, 65534, 65535]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "raw.png"), levels)
    frame = read_image(tmp_path / "raw.png")
    assert frame.bit_depth == 16
    np.testing.assert_array_equal(np.rint(frame.data.astype(np.float64) * 65535).astype(np.uint16), levels)
    assert frame.data[0, 0] != frame.data[0, 1]  # 1 and 2 would be the same level at 8 bits


# ------------------------------------------------------------------------------------------ bad input


def _read_error(path: Path) -> str:
    with pytest.raises(HmtirError) as info:
        read_image(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    assert _read_error(path) == f"cannot read image {path}: no such file"


def test_directory(tmp_path: Path) -> None:
    assert _read_error(tmp_path) == f"cannot read image {tmp_path}: is a directory"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    assert _read_error(path) == f"cannot read image {path}: file is empty (0 bytes)"


@pytest.mark.parametrize(
    "name, content",
    [
        ("text.png", b"this is not an image at all\n"),
        ("fake.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64),
        ("header-only.png", b"\x89PNG\r\n\x1a\n" + b"x" * 20),
    ],
)
def test_non_image_content(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert _read_error(path) == f"cannot read image {path}: not a valid image file"


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated_file(tmp_path: Path, suffix: str, capfd: pytest.CaptureFixture[str]) -> None:
    whole = tmp_path / f"whole{suffix}"
    write_image(whole, _smooth_frame())
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert _read_error(cut) == f"cannot read image {cut}: not a valid image file"
    assert capfd.readouterr().err == ""  # OpenCV/libpng/libtiff chatter is silenced


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="machine: root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    write_image(path, _smooth_frame())
    path.chmod(0)
    try:
        assert _read_error(path) == f"cannot read image {path}: permission denied"
    finally:
        path.chmod(0o644)


def test_float_tiff_with_nan_or_out_of_range(tmp_path: Path) -> None:
    data = _smooth_frame()
    data[3, 4] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", data)
    assert _read_error(tmp_path / "nan.tif") == (
        f"cannot read image {tmp_path / 'nan.tif'}: float image contains NaN or Inf values"
    )
    tifffile.imwrite(tmp_path / "range.tif", np.array([[0.0, 2.5]], np.float32))
    assert _read_error(tmp_path / "range.tif") == (
        f"cannot read image {tmp_path / 'range.tif'}: float values must lie in [0, 1], found [0, 2.5]"
    )


def test_signed_tiff_is_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "signed.tif", np.array([[-3, 4]], np.int16))
    assert _read_error(tmp_path / "signed.tif") == (
        f"cannot read image {tmp_path / 'signed.tif'}: unsupported sample type int16 "
        "(expected 8- or 16-bit unsigned integers, or float32 in [0, 1])"
    )


def _write_error(path: Path, data: np.ndarray, bit_depth: int = 8) -> str:
    with pytest.raises(HmtirError) as info:
        write_image(path, data, bit_depth=bit_depth)
    assert not path.exists()
    assert _leftovers(path.parent) == []
    return str(info.value)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_16bit_jpeg_or_bmp_is_refused_not_quantised(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    assert _write_error(path, _smooth_frame(), 16) == (
        f"cannot write image {path}: 16-bit output is only possible for PNG and TIFF, not {suffix}; "
        "choose another extension rather than losing precision"
    )


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    data = _smooth_frame()
    gif = tmp_path / "x.gif"
    assert _write_error(gif, data) == (
        f"cannot write image {gif}: unsupported extension '.gif' "
        "(use one of .png, .tif, .tiff, .jpg, .jpeg, .bmp)"
    )
    png = tmp_path / "x.png"
    assert _write_error(png, data, 12) == f"cannot write image {png}: bit_depth must be 8, 16 or 32, not 12"
    assert _write_error(png, data, 32) == (
        f"cannot write image {png}: 32-bit output is only possible for TIFF, not .png; "
        "choose another extension rather than losing precision"
    )
    assert _write_error(png, (data * 255).astype(np.uint8)) == (
        f"cannot write image {png}: expected float data in [0, 1], got uint8"
    )
    assert _write_error(png, np.zeros((4, 5, 3), np.float32)) == (
        f"cannot write image {png}: expected a non-empty H×W grey frame, got shape (4, 5, 3)"
    )


def test_write_rejects_nan_and_out_of_range(tmp_path: Path) -> None:
    png = tmp_path / "x.png"
    with_nan = _smooth_frame()
    with_nan[0, 0] = np.nan
    assert _write_error(png, with_nan) == f"cannot write image {png}: data contains NaN or Inf values"
    too_bright = _smooth_frame() * 1.01
    assert (
        _write_error(png, too_bright) == f"cannot write image {png}: data must lie in [0, 1], found [0, 1.01]"
    )
    just_below = _smooth_frame()
    just_below[0, 0] = -2e-6
    assert (
        _write_error(png, just_below)
        == f"cannot write image {png}: data must lie in [0, 1], found [-2e-06, 1]"
    )


# ------------------------------------------------------------------------------------------- atomicity


def test_failed_write_keeps_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "keep.png"
    write_image(target, _smooth_frame(seed=1))
    before = target.read_bytes()
    bad = _smooth_frame()
    bad[2, 2] = np.inf
    with pytest.raises(HmtirError):
        write_image(target, bad)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == ["keep.png"]


def test_interrupted_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a full disk half-way through: no partial target, no temporary file, old file intact."""
    target = tmp_path / "frame.png"
    write_image(target, _smooth_frame(seed=1))
    before = target.read_bytes()
    real_write_bytes = Path.write_bytes

    def disk_full(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(HmtirError) as info:
        write_image(target, _smooth_frame(seed=2))
    monkeypatch.undo()
    assert str(info.value) == f"cannot write image {target}: No space left on device"
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == ["frame.png"]


def test_interrupted_first_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(HmtirError):
        write_image(tmp_path / "new.png", _smooth_frame())
    monkeypatch.undo()
    assert _leftovers(tmp_path) == []


def test_write_creates_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "frame.tif"
    write_image(target, _smooth_frame(), bit_depth=16)
    assert read_image(target).bit_depth == 16


# ------------------------------------------------------------------------------------------ real frames


def test_real_hit_uav_frames(hit_uav_dir: Path, tmp_path: Path) -> None:
    files = sorted(hit_uav_dir.glob("*.jpg"))[:5]
    assert files
    for path in files:
        frame = read_image(path)
        reference = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert frame.bit_depth == 8
        assert frame.data.shape == reference.shape == (512, 640)
        np.testing.assert_array_equal(np.rint(frame.data * 255).astype(np.uint8), reference)
        # lossless re-encode as PNG is exact
        write_image(tmp_path / f"{path.stem}.png", frame.data)
        np.testing.assert_array_equal(read_image(tmp_path / f"{path.stem}.png").data, frame.data)


def test_atomic_files_get_default_permissions(tmp_path):
    """mkstemp's private 0600 mode must not leak into finished files (published sites, shared results)."""
    import os

    from hmtir.io.atomic import atomic_write_text

    umask = os.umask(0)
    os.umask(umask)
    target = tmp_path / "out.txt"
    atomic_write_text(target, "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
