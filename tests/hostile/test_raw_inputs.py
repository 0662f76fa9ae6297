"""Hostile and broken frames fed to ``hmtir estimate`` and ``hmtir enhance``: one line each, nothing written.

The rule under test, not a list of cases: any input the raw reader, the range mapping or the estimator
cannot handle ends the command with exit status 1 and a single ``Error:`` line naming the file (or a
per-frame reason in ``hmtir estimate``'s output), never a traceback, and ``enhance`` writes no file.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.io.image import write_pixels


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _write(folder: Path, case: str) -> Path:
    """One hostile input per case; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if case == "bomb":
        path = folder / "bomb.png"
        path.write_bytes(_png_declaring(30000, 30000))
    elif case == "junk-tiff":
        path = folder / "junk.tiff"
        path.write_bytes(b"II*\0" + b"\xff" * 64)
    elif case == "empty":
        path = folder / "empty.png"
        path.write_bytes(b"")
    elif case == "folder-named-png":
        path = folder / "dir.png"
        path.mkdir()
    elif case == "all-nan":
        path = folder / "nan.tiff"
        write_pixels(path, np.full((64, 64), np.nan, np.float32))
    elif case == "inf-kelvin":
        path = folder / "inf.tiff"
        pixels = (300 + rng.random((64, 64))).astype(np.float32)
        pixels[0, 0] = np.inf
        write_pixels(path, pixels)
    elif case == "one-pixel":
        path = folder / "one.png"
        write_pixels(path, np.array([[7]], np.uint16))
    elif case == "constant-16":
        path = folder / "flat.png"
        write_pixels(path, np.full((80, 60), 8123, np.uint16))
    elif case == "two-counts":
        path = folder / "two.png"
        write_pixels(path, (8000 + (rng.random((80, 64)) < 0.5)).astype(np.uint16))
    elif case == "uint32":
        path = folder / "u32.tiff"
        import tifffile  # OpenCV cannot write uint32 TIFFs (it reads them)

        tifffile.imwrite(path, (rng.random((64, 64)) * 1e9).astype(np.uint32))
    else:
        raise AssertionError(case)
    return path


CASES = {
    "bomb": "over the limit",
    "junk-tiff": "not a valid image file",
    "empty": "file is empty",
    "folder-named-png": "no images",
    "all-nan": "every pixel is NaN or Inf",
    "inf-kelvin": "contains NaN/Inf pixels",
    "one-pixel": "too small to judge",
    "constant-16": "(nearly) constant",
    "two-counts": "(nearly) constant",
    "uint32": "unsupported sample type uint32",
}


def _one_error_line(output: str, fragment: str) -> None:
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and fragment in errors[0], output


@pytest.mark.parametrize("case", sorted(CASES))
def test_estimate_refuses_each_hostile_frame_in_one_line(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path, case)
    result = CliRunner().invoke(cli, ["estimate", str(path)])
    assert result.exit_code == 1
    _one_error_line(result.output, CASES[case])


@pytest.mark.parametrize("case", sorted(CASES))
def test_enhance_refuses_each_hostile_frame_and_writes_nothing(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path / "in", case)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["enhance", str(path), "--out", str(out), "--method", "identity"])
    assert result.exit_code == 1
    _one_error_line(result.output, CASES[case])
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


@pytest.mark.parametrize("spec", ["", "1", "a,b", "10,5", "nan,3", "-inf,0", "1,2,3", "1e999,1e999"])
def test_hostile_range_specs_are_one_line(tmp_path: Path, spec: str) -> None:
    path = tmp_path / "f.png"
    write_pixels(path, (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    for command in (["estimate", str(path)], ["enhance", str(path), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(cli, [*command, "--range", spec])
        assert result.exit_code == 1
        _one_error_line(result.output, "--range")
    assert not (tmp_path / "o").exists()
