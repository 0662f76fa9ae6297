"""A valid long file name (up to ``NAME_MAX``, 255 bytes) never fails at the temporary step.

Writers name their temporary files and folders after the target (``.<name>.<random>.part.png``,
``.<out>.export-<random>``, ``<name>.part.json``); the rule under test is that every such name stays within
``NAME_MAX`` whatever the target's name, through :func:`temp_prefix` and :func:`sibling_name`.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

import hmtir
from hmtir.data.download import download
from hmtir.io.atomic import atomic_write_text, sibling_name, temp_prefix
from hmtir.io.image import read_image, write_image
from hmtir.io.safety import MAX_NAME_BYTES
from tests.servers import Loopback

LONG_NAMES = {
    "ascii-250": "a" * 246 + ".png",
    "ascii-255": "b" * 251 + ".png",
    "two-byte-chars-254": "é" * 125 + ".png",  # cutting must keep whole characters
    "four-byte-chars-255": "😀" * 62 + "x.png",
}


@pytest.mark.parametrize("key", sorted(LONG_NAMES))
def test_image_with_the_longest_names_is_written(tmp_path: Path, key: str) -> None:
    name = LONG_NAMES[key]
    assert len(name.encode()) <= MAX_NAME_BYTES
    frame = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    write_image(tmp_path / name, frame)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # nothing left beside it
    assert np.abs(read_image(tmp_path / name).data - frame).max() <= 0.5 / 255 + 1e-7


def test_text_with_a_255_byte_name_is_written(tmp_path: Path) -> None:
    name = "c" * 250 + ".yaml"
    atomic_write_text(tmp_path / name, "x: 1\n")
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("tag", ["", "export-", "old-", "extract-", "hf-", "member-", "repair-", "building-"])
@pytest.mark.parametrize("key", sorted(LONG_NAMES))
def test_temporary_folders_fit_for_every_tag(tmp_path: Path, key: str, tag: str) -> None:
    staging = Path(
        tempfile.mkdtemp(prefix=temp_prefix(LONG_NAMES[key], tag, ".part"), suffix=".part", dir=tmp_path)
    )
    assert staging.name.startswith(".") and len(staging.name.encode()) <= MAX_NAME_BYTES


def test_companion_names_fit_stay_apart_and_are_stable() -> None:
    short = sibling_name("w.bin", ".part")
    assert short == "w.bin.part"
    first, second = ("d" * 250 + end for end in ("1.bin", "2.bin"))  # differ only past the cut
    parts = [sibling_name(n, ".part") for n in (first, second)]
    sidecars = [sibling_name(p, ".json") for p in parts]
    assert all(len(n.encode()) <= MAX_NAME_BYTES for n in parts + sidecars)
    assert parts[0] != parts[1] and sidecars[0] != sidecars[1]
    assert parts == [sibling_name(n, ".part") for n in (first, second)]  # a resume finds its own part
    accented = sibling_name("é" * 127 + "x", ".json")  # cut between whole two-byte characters
    assert accented.startswith("é" * 120 + "~") and len(accented.encode()) == MAX_NAME_BYTES - 1


def test_download_of_a_file_with_a_250_byte_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``<name>.part`` and ``<name>.part.json`` were 255 and 260 bytes: the transfer failed after the download."""
    name = "e" * 246 + ".bin"
    payload = bytes(range(256)) * 40
    server = Loopback()
    try:
        server.routes["/w.bin"] = lambda req: req.reply_file(payload, ETag='"v1"')
        registry = tmp_path / "sources.yaml"
        registry.write_text(
            f"sources:\n  test-blob:\n    kind: weights\n    files:\n      - name: {name}\n"
            f'        extract: false\n        mirrors:\n          - {{kind: http, url: "{server.url}/w.bin"}}\n'
        )
        monkeypatch.setenv("HMTIR_SOURCES", str(registry))
        [path] = download(["test-blob"], dir=tmp_path / "out", progress=False)
    finally:
        server.close()
    assert path.name == name and path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([name, "hmtir.lock.json"])


def test_no_writer_names_a_temporary_after_its_target_by_hand() -> None:
    """The rule, not a list: every ``mkstemp``/``mkdtemp``/``TemporaryDirectory`` prefix built from a target's
    name goes through :func:`temp_prefix` (a hand-built ``f".{x.name}…"`` overflows for long names)."""
    root = Path(hmtir.__file__).parent
    hand_built = re.compile(r"prefix\s*=\s*f[\"']\.?\{[^}]*name")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if hand_built.search(line)
    ]
    assert offenders == []


def test_enhance_an_image_with_a_254_byte_name(tmp_path: Path) -> None:
    """``<output>.json`` was 259 bytes: the image was written, then the record failed with a traceback."""
    from click.testing import CliRunner

    from hmtir.cli import cli

    name = "f" * 250 + ".png"
    write_image(tmp_path / "in" / name, np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["enhance", str(tmp_path / "in" / name), "--method", "identity", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(written) == 2 and name in written
    [record] = [n for n in written if n != name]
    assert record.endswith(".json") and len(record.encode()) <= MAX_NAME_BYTES
    assert json.loads((out / record).read_text())["output"] == name
