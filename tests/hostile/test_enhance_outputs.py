"""Issue 12 item 4: ``hmtir enhance`` never replaces the user's originals, nor any file it was not asked to.

Every case runs the real CLI with the ``identity`` method (no weights needed) and checks three things: exit
status 1 with one line naming the problem, no traceback, and every byte of the inputs unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.io.image import write_image

BASE = ["--method", "identity", "--degradation", "composite", "--device", "cpu"]


def _frames(folder: Path) -> dict[Path, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for name in ("a.png", "b.png"):
        write_image(folder / name, rng.random((12, 14)).astype(np.float32))
    write_image(folder / "c.jpg", rng.random((12, 14)).astype(np.float32))
    return {p: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    runner = CliRunner()
    if cwd is None:
        result = runner.invoke(cli, ["enhance", *args, *BASE])
    else:
        previous = Path.cwd()
        os.chdir(cwd)
        try:
            result = runner.invoke(cli, ["enhance", *args, *BASE])
        finally:
            os.chdir(previous)
    return result.exit_code, result.output


def _one_line_refusal(code: int, output: str, fragment: str) -> None:
    assert code == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert fragment in lines[0] and "Traceback" not in output


def _unchanged(before: dict[Path, bytes]) -> None:
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was modified"


def test_a_file_enhanced_into_its_own_folder_is_refused(tmp_path: Path) -> None:
    before = _frames(tmp_path / "frames")
    code, output = _run([str(tmp_path / "frames" / "a.png"), "--out", str(tmp_path / "frames")])
    _one_line_refusal(code, output, "it is the input")
    _unchanged(before)


def test_a_folder_enhanced_into_its_parent_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    before = _frames(tmp_path / "frames")
    code, output = _run(["frames", "--out", ".", "--overwrite"], cwd=tmp_path)
    _one_line_refusal(code, output, "it is the input")
    _unchanged(before)


@pytest.mark.parametrize("spelling", ["dot", "symlink", "trailing-dot", "hardlink"])
def test_every_spelling_of_the_input_folder_is_refused(tmp_path: Path, spelling: str) -> None:
    before = _frames(tmp_path / "frames")
    source = tmp_path / "frames" / "a.png"
    if spelling == "dot":
        out = tmp_path / "." / "frames" / "."
    elif spelling == "symlink":
        (tmp_path / "alias").symlink_to(tmp_path / "frames")
        out = tmp_path / "alias"
    elif spelling == "trailing-dot":
        out = tmp_path / "frames" / ".." / "frames"
    else:  # a hard link to the input under the output's name
        (tmp_path / "out").mkdir()
        os.link(source, tmp_path / "out" / "a.png")
        out = tmp_path / "out"
    code, output = _run([str(source), "--out", str(out), "--overwrite"])
    _one_line_refusal(code, output, "it is the input")
    _unchanged(before)


def test_case_folded_spelling_is_refused_where_the_file_system_folds_case(tmp_path: Path) -> None:
    before = _frames(tmp_path / "frames")
    if not (tmp_path / "FRAMES").exists():
        pytest.skip("machine: this file system is case-sensitive: FRAMES is another folder")
    code, output = _run([str(tmp_path / "frames" / "a.png"), "--out", str(tmp_path / "FRAMES")])
    _one_line_refusal(code, output, "it is the input")
    _unchanged(before)


def test_a_symlinked_output_file_pointing_at_an_input_is_refused(tmp_path: Path) -> None:
    before = _frames(tmp_path / "frames")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").symlink_to(tmp_path / "frames" / "b.png")  # would clobber b.png
    code, output = _run(
        [
            str(tmp_path / "frames" / "a.png"),
            str(tmp_path / "frames" / "b.png"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1 and "Traceback" not in output
    _unchanged(before)


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    _frames(tmp_path / "frames")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep me")
    code, output = _run([str(tmp_path / "frames" / "a.png"), "--out", str(out)])
    _one_line_refusal(code, output, "already exists; pass --overwrite")
    assert (out / "a.png").read_bytes() == b"keep me"
    code, output = _run([str(tmp_path / "frames" / "a.png"), "--out", str(out), "--overwrite"])
    assert code == 0, output
    assert (out / "a.png").read_bytes() != b"keep me"


def test_nothing_is_written_when_one_of_several_outputs_is_refused(tmp_path: Path) -> None:
    _frames(tmp_path / "frames")
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    (out / "frames" / "b.png").write_bytes(b"keep me")
    code, output = _run([str(tmp_path / "frames"), "--out", str(out)])
    _one_line_refusal(code, output, "already exists")
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["b.png"]


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_out_pointing_at_a_file_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    before = _frames(tmp_path / "frames")
    out = tmp_path / "frames" / "a.png"
    if where == "below-a-file":
        out = out / "sub"
    code, output = _run([str(tmp_path / "frames" / "b.png"), "--out", str(out)])
    assert code != 0 and "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error") and "a.png" in lines[-1] and "file" in lines[-1]
    _unchanged(before)


def test_a_rerun_does_not_enhance_its_own_outputs_inside_the_input_folder(tmp_path: Path) -> None:
    _frames(tmp_path / "frames")
    out = tmp_path / "frames" / "enhanced"
    code, output = _run([str(tmp_path / "frames"), "--out", str(out)])
    assert code == 0, output
    first = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    code, output = _run([str(tmp_path / "frames"), "--out", str(out), "--overwrite"])
    assert code == 0, output
    assert sorted(p.relative_to(out) for p in out.rglob("*.png")) == first  # no frames/enhanced/frames/...
