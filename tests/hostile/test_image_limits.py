"""The pixel limit holds before decoding, for every format any decoder in hmtir would accept.

The rule under test: OpenCV picks its decoder from the file's first bytes, not its name, so
``read_image``/``read_pixels`` decode only the formats whose header they probe (PNG, TIFF, JPEG, BMP) and
only once the declared size is within ``$HMTIR_MAX_PIXELS``; every other format is refused unread in one
line that names the file and the format; a device or pipe is never read at all. Each bomb here is a few
hundred bytes that merely *declares* 9000×9000, and ``cv2.imdecode`` is made to fail the test if called.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io import image as image_io
from hmtir.io.image import read_image, read_pixels

SIDE = 9000  # 81 MP declared, over the 1 MP limit set below (and over the 64 MP default)
LIMIT = 1_000_000
Reader = Callable[[Path], object]  # read_image or read_pixels


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    sof = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])  # baseline, one grey component
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", 2 + len(sof)) + sof + b"\xff\xda" + b"\0" * 64


def _tiff(width: int, height: int, big: bool = False) -> bytes:
    """A little-endian (Big)TIFF whose first directory declares width×height 8-bit grey, one tiny strip."""
    tags = [
        (256, width),
        (257, height),
        (258, 8),
        (259, 1),
        (262, 1),
        (273, 0),
        (277, 1),
        (278, height),
        (279, 1),
    ]
    if big:
        head = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16)
        body = struct.pack("<Q", len(tags)) + b"".join(struct.pack("<HHQQ", t, 16, 1, v) for t, v in tags)
        return head + body + struct.pack("<Q", 0) + b"\0" * 16
    head = b"II*\x00" + struct.pack("<I", 8)
    body = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", t, 4, 1, v) for t, v in tags)
    return head + body + struct.pack("<I", 0) + b"\0" * 16


def _bmp(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 64, 0, 0, 14 + len(info)) + info + b"\0" * 64


BOMBS = {
    "png": _png,
    "jpeg": _jpeg,
    "tiff": _tiff,
    "bigtiff": lambda w, h: _tiff(w, h, big=True),
    "bmp": _bmp,
    "bmp-top-down": lambda w, h: _bmp(w, -h),
}


def _encoded(ext: str) -> bytes:
    frame = np.full((8, 8, 3), 100, np.uint8)
    ok, data = cv2.imencode(ext, frame.astype(np.float32) / 255 if ext in (".hdr", ".pfm") else frame)
    assert ok
    return data.tobytes()


#: Small valid files OpenCV decodes (checked below, so the case cannot pass vacuously), or the magic of
#: formats it cannot write here; every one is named ``.png`` and must be refused naming its format.
OTHER_FORMATS = {
    "Radiance HDR": lambda: _encoded(".hdr"),
    "PFM (portable float map)": lambda: _encoded(".pfm"),
    "Netpbm (PBM/PGM/PPM/PAM)": lambda: _encoded(".ppm"),
    "Sun raster": lambda: _encoded(".ras"),
    "WebP": lambda: _encoded(".webp"),
    "GIF": lambda: _encoded(".gif"),
    "AVIF/HEIF": lambda: _encoded(".avif"),
    "JPEG 2000": lambda: b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 64,
    "OpenEXR": lambda: b"\x76\x2f\x31\x01" + b"\0" * 64,
}
DECODABLE_BY_OPENCV = {
    "Radiance HDR",
    "PFM (portable float map)",
    "Netpbm (PBM/PGM/PPM/PAM)",
    "Sun raster",
    "WebP",
    "GIF",
    "AVIF/HEIF",
}


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call of OpenCV's decoder fails the test: a refusal must come from the header alone."""

    def decode(*_: object) -> None:
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(cv2, "imdecode", decode)
    monkeypatch.setenv("HMTIR_MAX_PIXELS", str(LIMIT))


def _error(reader: Reader, path: Path) -> str:
    with pytest.raises(HmtirError) as info:
        reader(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("reader", [read_image, read_pixels])
@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_declared_size_is_refused_before_decoding(
    tmp_path: Path, kind: str, reader: Reader, no_decoding: None
) -> None:
    path = tmp_path / "frame.png"  # the name says PNG whatever the content: content decides
    path.write_bytes(BOMBS[kind](SIDE, SIDE))
    assert path.stat().st_size < 1000
    assert _error(reader, path) == (
        f"cannot read image {path}: {SIDE}×{SIDE} = {SIDE * SIDE:,} pixels is over the limit of "
        f"{LIMIT:,} (set HMTIR_MAX_PIXELS to raise it)"
    )


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_the_probe_reads_the_size_the_header_declares(kind: str) -> None:
    """The bombs are not refused by accident: a small declaration is read as exactly that size."""
    assert image_io._declared_size(BOMBS[kind](123, 45), "x") == (123, 45)


@pytest.mark.parametrize("reader", [read_image, read_pixels])
@pytest.mark.parametrize("name", sorted(OTHER_FORMATS))
def test_formats_without_a_probe_are_refused_unread(
    tmp_path: Path, name: str, reader: Reader, no_decoding: None
) -> None:
    path = tmp_path / "frame.png"
    path.write_bytes(OTHER_FORMATS[name]())
    assert _error(reader, path) == (
        f"cannot read image {path}: a {name} file; hmtir reads PNG, TIFF, JPEG and BMP only (convert it)"
    )


@pytest.mark.parametrize("name", sorted(DECODABLE_BY_OPENCV))
def test_the_refused_samples_are_images_opencv_would_decode(name: str) -> None:
    data = OTHER_FORMATS[name]()
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def test_hdr_named_png_is_one_line_in_estimate(tmp_path: Path) -> None:
    """The issue's case through the CLI: exit 1, one ``Error:`` line naming the file and the format."""
    path = tmp_path / "bomb.png"
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 9000 +X 9000\n" + b"\x02\x02\x23\x28" * 16)
    result = CliRunner().invoke(cli, ["estimate", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: cannot read image {path}: a Radiance HDR file; hmtir reads PNG, TIFF, JPEG and BMP only (convert it)"
    ]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
@pytest.mark.parametrize("reader", [read_image, read_pixels])
def test_link_to_a_device_is_not_read(tmp_path: Path, reader: Reader) -> None:
    path = tmp_path / "zero.png"
    path.symlink_to("/dev/zero")
    assert _error(reader, path) == f"cannot read image {path}: not a regular file (a device, pipe or socket)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_named_pipe_is_not_opened(tmp_path: Path) -> None:
    """A FIFO with no writer would block ``open`` for ever; it is refused before."""
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    assert (
        _error(read_image, path) == f"cannot read image {path}: not a regular file (a device, pipe or socket)"
    )


def test_a_file_that_grows_is_read_only_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size check is repeated on what was read, so a file larger than ``stat`` said is still capped."""
    monkeypatch.setenv("HMTIR_MAX_PIXELS", "1")
    limit = 1 * 8 + (16 << 20)
    path = tmp_path / "big.png"
    path.write_bytes(b"\0" * (limit + 10))
    real_stat = Path.stat

    def small_stat(self: Path, **kwargs: object) -> os.stat_result:
        info = real_stat(self, **kwargs)
        return os.stat_result((info.st_mode, *info[1:6], 100, *info[7:]))

    monkeypatch.setattr(Path, "stat", small_stat)
    assert _error(read_image, path) == (
        f"cannot read image {path}: over {limit:,} bytes is more than any frame within the pixel limit can "
        "take (HMTIR_MAX_PIXELS)"
    )
