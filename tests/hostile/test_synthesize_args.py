"""``synthesize``'s arguments, source files and output folder (issue "Trust, round 3", items 9, 10, 13).

The library checks its arguments as the CLI checks its options: one :class:`HmtirError` line naming the
argument, nothing written. An empty preset selection is refused rather than "succeeding" with nothing
made. A source image (or ``scenes.csv``, or the manifest) that is a FIFO, socket, device or a link to one
is named as "not a regular file" (reading a FIFO would block forever). A file system that refuses writes
is one ``Error:`` line, not a traceback.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.degrade.synthesize import synthesize
from hmtir.errors import HmtirError
from tests.trees import tree_digest


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A regression that opens a FIFO would block forever: fail the test after 60 s instead."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("synthesize blocked (reading a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def one_line(result) -> str:  # noqa: ANN001 - click's Result
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


ARGUMENT_CASES = [
    ({"source": None}, "--source must be a path, got None"),
    ({"source": 3}, "--source must be a path, got 3"),
    ({"source": ""}, '--source must be a path, got ""'),
    ({"out": None}, "--out must be a path, got None"),
    ({"out": " "}, '--out must be a path, got " "'),
    ({"gate": "0.5"}, "--gate must be between 0 and 1, got '0.5'"),
    ({"gate": float("nan")}, "--gate must be between 0 and 1, got nan"),
    ({"gate": True}, "--gate must be between 0 and 1, got True"),
    ({"gate": None}, "--gate must be between 0 and 1, got None"),
    ({"gate": -0.1}, "--gate must be between 0 and 1, got -0.1"),
    ({"workers": None}, "--workers must be a whole number of at least 1, got None"),
    ({"workers": 0}, "--workers must be a whole number of at least 1, got 0"),
    ({"workers": 1.5}, "--workers must be a whole number of at least 1, got 1.5"),
    ({"workers": "2"}, "--workers must be a whole number of at least 1, got '2'"),
    ({"seed": "1"}, "--seed must be a whole number from 0 to 2**63-1, got 1"),
    ({"seed": None}, "--seed must be a whole number from 0 to 2**63-1, got None"),
    ({"presets": None}, "--preset must be a preset name or a list of them, got null"),
    ({"presets": 3}, "--preset must be a preset name or a list of them, got 3"),
    ({"presets": []}, "--preset must name at least one preset (all, normal, hard, single-contrast"),
    ({"presets": ()}, "--preset must name at least one preset"),
    ({"presets": ""}, "--preset names an empty preset '' (all, normal"),
    ({"presets": ["hard", " "]}, "--preset names an empty preset ' '"),
    ({"presets": [3]}, "unknown degradation preset 3 (available: hard, normal"),
    ({"presets": ["medium"]}, "unknown degradation preset 'medium'"),
    ({"from_manifest": 3}, "--from-manifest must be a path, got 3"),
    ({"scenes": ["a.png"]}, "scenes must map image names to scene labels, got list"),
    ({"scenes": {"../a.png": "street"}}, "scenes: refusing entry '../a.png': escapes its folder"),
    ({"scenes": {"a.png": 3}}, "scenes: the label of 'a.png' must be printable text, got 3"),
]


@pytest.mark.parametrize(("changes", "message"), ARGUMENT_CASES, ids=[m[:40] for _, m in ARGUMENT_CASES])
def test_library_arguments_are_checked_like_cli_options(
    source: Path, tmp_path: Path, changes: dict, message: str
) -> None:
    arguments = {"source": source, "out": tmp_path / "out", "progress": False, **changes}
    before = tree_digest(tmp_path)
    with pytest.raises(HmtirError) as info:
        synthesize(**arguments)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize("preset", ["", " ", "hard,", "hard,,normal", ","])
def test_a_blank_preset_selection_is_refused_by_the_cli(source: Path, tmp_path: Path, preset: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(out), "--preset", preset]
    )
    assert result.exit_code == 2
    assert f"Invalid value for --preset: an empty preset name (in {preset!r}) is not one of all" in one_line(
        result
    )
    assert not out.exists()


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


def link_to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name("target.fifo"))
    path.symlink_to(path.with_name("target.fifo"))


def link_to_device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless: reading it would never finish


def folder(path: Path) -> None:
    path.mkdir()


SPECIALS = [make_fifo, make_socket, link_to_fifo, link_to_device, folder]


@pytest.mark.parametrize("make", SPECIALS, ids=[m.__name__ for m in SPECIALS])
def test_a_non_regular_file_in_the_source_folder_is_named(source: Path, tmp_path: Path, make) -> None:  # noqa: ANN001
    special = source / "c.png"
    make(special)
    out = tmp_path / "out"
    message = f"source image {special} is not a regular file"
    with pytest.raises(HmtirError) as info:
        synthesize(source, out, presets=["hard"], progress=False)
    assert str(info.value) == message
    assert not out.exists()
    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(out), "--preset", "hard"]
    )
    assert result.exit_code == 1 and one_line(result) == f"Error: {message}"
    assert not out.exists()


@pytest.mark.parametrize("make", SPECIALS, ids=[m.__name__ for m in SPECIALS])
def test_a_non_regular_source_named_in_a_manifest_is_not_called_missing(
    source: Path,
    tmp_path: Path,
    make,  # noqa: ANN001
) -> None:
    synthesize(source, tmp_path / "ref", presets=["hard"], progress=False)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text((tmp_path / "ref" / "meta" / "manifest.jsonl").read_text())
    (source / "a.png").unlink()
    make(source / "a.png")
    with pytest.raises(HmtirError) as info:
        synthesize(source, tmp_path / "out", from_manifest=manifest, progress=False)
    assert str(info.value) == f"source image {source / 'a.png'} is not a regular file"
    assert not (tmp_path / "out").exists()
    if (source / "a.png").is_dir() and not (source / "a.png").is_symlink():
        (source / "a.png").rmdir()
    else:
        (source / "a.png").unlink()
    with pytest.raises(HmtirError) as info:  # really missing: still said so
        synthesize(source, tmp_path / "out", from_manifest=manifest, progress=False)
    assert str(info.value) == f"source image {source / 'a.png'} named in the manifest does not exist"


def test_a_fifo_as_scene_list_or_manifest_is_named(source: Path, tmp_path: Path) -> None:
    make_fifo(source / "scenes.csv")
    with pytest.raises(HmtirError) as info:
        synthesize(source, tmp_path / "out", progress=False)
    assert str(info.value) == f"{source / 'scenes.csv'} is not a regular file"
    (source / "scenes.csv").unlink()
    make_fifo(tmp_path / "manifest.jsonl")
    with pytest.raises(HmtirError) as info:
        synthesize(source, tmp_path / "out", from_manifest=tmp_path / "manifest.jsonl", progress=False)
    assert str(info.value) == f"manifest {tmp_path / 'manifest.jsonl'} is not a regular file"
    assert not (tmp_path / "out").exists()


def read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Every OS call that would create, change or remove something under ``root`` fails with EROFS.

    Tests run as root, which chmod does not stop; these are the calls a real read-only mount refuses
    (``mkdir``, ``open`` for writing, ``rename``/``replace``, ``unlink``), patched where Python makes them.
    """
    inside = str(root)

    def under(path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)).startswith(inside)

    def refuse(path: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def guard(real, *, writes=lambda *a, **k: True):  # noqa: ANN001, ANN202
        def call(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if under(path) and writes(*args, **kwargs):
                raise refuse(path)
            return real(path, *args, **kwargs)

        return call

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    monkeypatch.setattr(os, "mkdir", guard(os.mkdir))
    monkeypatch.setattr(os, "unlink", guard(os.unlink))
    monkeypatch.setattr(os, "replace", guard(os.replace))
    monkeypatch.setattr(os, "rename", guard(os.rename))
    monkeypatch.setattr(os, "open", guard(os.open, writes=lambda flags, *a, **k: bool(flags & write_flags)))
    opening = guard(io.open, writes=lambda mode="r", *a, **k: any(c in mode for c in "wax+"))
    monkeypatch.setattr(io, "open", opening)
    monkeypatch.setattr(builtins, "open", opening)


@pytest.mark.parametrize("state", ["absent", "partly done"])
def test_a_read_only_output_folder_is_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    out = tmp_path / "out"
    if state == "partly done":  # an earlier run; one output lost, so this run must write
        synthesize(source, out, presets=["hard"], progress=False)
        (out / "composited" / "hard" / "b.png").unlink()
    before = tree_digest(tmp_path)
    read_only(monkeypatch, out)
    with pytest.raises(HmtirError) as info:
        synthesize(source, out, presets=["hard"], progress=False)
    text = str(info.value)
    assert text.startswith(f"cannot write {out}") and text.endswith(": Read-only file system"), text
    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(out), "--preset", "hard"]
    )
    assert result.exit_code == 1
    assert one_line(result).endswith(": Read-only file system") and "Traceback" not in result.output
    monkeypatch.undo()
    assert tree_digest(tmp_path) == before
    if state == "partly done":  # the manifest left behind is still strict JSON
        for line in (out / "meta" / "manifest.jsonl").read_text().splitlines():
            json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in the manifest"))


def test_a_source_that_is_a_file_is_not_called_missing(source: Path, tmp_path: Path) -> None:
    with pytest.raises(HmtirError) as info:
        synthesize(source / "a.png", tmp_path / "out", progress=False)
    assert (
        str(info.value)
        == f"--source {source / 'a.png'} is not a folder (pass --source DIR with clean frames)"
    )
    assert not (tmp_path / "out").exists()
