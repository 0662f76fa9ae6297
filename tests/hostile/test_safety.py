"""The shared write rules (hmtir.io.safety) and the pixel limit of every image read."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from hmtir.errors import HmtirError
from hmtir.io.image import read_image, write_image
from hmtir.io.safety import check_name, check_new_file, confined, output_folder, refuse_inputs

HOSTILE_NAMES = [
    ("../escape.png", "escapes its folder"),
    ("a/../../b.png", "escapes its folder"),
    ("/etc/passwd", "is an absolute path"),
    ("C:\\x.png", "contains a backslash"),
    ("C:x.png", "is an absolute path"),
    ("a\nb.png", "control or invisible characters"),
    ("a\x00.png", "control or invisible characters"),
    ("\u202egnp.exe", "control or invisible characters"),
    (".bashrc", "hidden file"),
    ("", "empty name"),
    ("e\u0301.png", "NFC"),
    ("x" * 300 + ".png", "longer than 255 bytes"),
    (7, "a int, not a text name"),
]


@pytest.mark.parametrize(("name", "reason"), HOSTILE_NAMES)
def test_hostile_names_are_refused_in_one_line_naming_file_and_entry(name, reason) -> None:
    with pytest.raises(HmtirError) as info:
        check_name(name, "meta/manifest.jsonl")
    message = str(info.value)
    assert message.startswith(f"meta/manifest.jsonl: refusing entry {ascii(name)}: ")
    assert reason in message and "\n" not in message


def test_plain_names_pass_and_nesting_is_opt_in() -> None:
    assert check_name("frame_0001.png", "f") == "frame_0001.png"
    assert check_name("composited/normal/a.png", "f", nested=True) == "composited/normal/a.png"
    with pytest.raises(HmtirError, match="folder separator"):
        check_name("composited/normal/a.png", "f")


def test_confined_refuses_a_symlink_that_leads_out(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert confined(root, "a.png", "list") == root / "a.png"
    with pytest.raises(HmtirError, match="resolves outside"):
        confined(root, "link/a.png", "list", nested=True)


def test_outputs_that_are_inputs_are_refused_whatever_the_spelling(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    original = frames / "a.png"
    original.write_bytes(b"x")
    (tmp_path / "alias").symlink_to(frames)
    os.link(original, tmp_path / "hard.png")
    for spelling in (frames / "." / "a.png", tmp_path / "alias" / "a.png", tmp_path / "hard.png"):
        with pytest.raises(HmtirError, match=r"refusing to write output .* it is the input"):
            refuse_inputs([spelling], [original])
    refuse_inputs([frames / "b.png"], [original])  # a new file is fine


def test_existing_files_are_replaced_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    check_new_file(target, overwrite=False)
    target.write_bytes(b"1")
    with pytest.raises(HmtirError, match=r"already exists; pass --overwrite"):
        check_new_file(target, overwrite=False)
    check_new_file(target, overwrite=True)
    with pytest.raises(HmtirError, match=r"is a file, not a folder"):
        output_folder(target / "sub")


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_a_small_file_declaring_a_huge_frame_is_refused_from_its_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(20000, 20000))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(
        HmtirError, match=r"over the limit of 67,108,864 \(set HMTIR_MAX_PIXELS to raise it\)"
    ):
        read_image(bomb)


def test_pixel_limit_is_configurable_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = tmp_path / "f.png"
    write_image(frame, np.zeros((40, 50), np.float32))
    monkeypatch.setenv("HMTIR_MAX_PIXELS", "1999")
    with pytest.raises(HmtirError, match=r"f.png: 50×40 = 2,000 pixels is over the limit of 1,999"):
        read_image(frame)
    monkeypatch.setenv("HMTIR_MAX_PIXELS", "2000")
    assert read_image(frame).data.shape == (40, 50)
    monkeypatch.setenv("HMTIR_MAX_PIXELS", "lots")
    with pytest.raises(HmtirError, match=r"HMTIR_MAX_PIXELS must be a positive whole number"):
        read_image(frame)
