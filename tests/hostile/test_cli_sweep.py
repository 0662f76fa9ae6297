"""Every CLI command against hostile input: non-zero exit, one ``Error:`` line, no traceback, nothing
written outside the output folder, no existing file replaced.

The inputs are the kinds a tool pointed at other people's data meets: a missing path, a corrupt or
truncated image, a header that declares a huge frame, a float TIFF holding NaN, a frame of the wrong size,
a split list naming a file outside its folder, an output path that is an existing file, a bad number.
Each case names the command and a fragment of the one-line message it must print.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from test_evaluate import make_layout

from hmtir.cli import cli
from hmtir.io.image import write_image

from .test_safety import _png_declaring


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path], list[str]]  # given the world folder, the command line
    message: str  # fragment of the one error line
    out: str | None = None  # the command's output folder (relative to the world), allowed to change


def _world(root: Path) -> Path:
    """A small world of good and bad inputs, built once per test."""
    layout = make_layout(root / "bench")
    clean = root / "clean"
    clean.mkdir()
    for k in range(2):
        write_image(clean / f"f{k}.png", np.full((40, 48), 0.2 + 0.3 * k, np.float32))
    bad = root / "bad"
    bad.mkdir()
    (bad / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (bad / "bomb.png").write_bytes(_png_declaring(20000, 20000))
    tifffile.imwrite(bad / "nan.tif", np.full((40, 48), np.nan, np.float32))
    (bad / "empty.png").write_bytes(b"")
    corrupt_src = root / "corrupt_src"
    corrupt_src.mkdir()
    (corrupt_src / "a.png").write_bytes(b"not an image")
    bomb_src = root / "bomb_src"
    bomb_src.mkdir()
    (bomb_src / "a.png").write_bytes(_png_declaring(20000, 20000))
    escaping = root / "escaping"
    make_layout(escaping)
    (escaping / "meta" / "test.txt").write_text("a.png\n../../clean/f0.png\n")
    wrong_size = root / "wrong_size"
    make_layout(wrong_size)
    write_image(wrong_size / "single/noise/a.png", np.zeros((8, 8), np.float32))
    (root / "a_file").write_text("I am a file, not a folder\n")
    return layout


CASES = [
    Case("synthesize-missing-source", lambda w: ["synthesize", "--source", str(w / "nope"), "--out", str(w / "o")],
         "does not exist", "o"),
    Case("synthesize-corrupt-image", lambda w: ["synthesize", "--source", str(w / "corrupt_src"), "--out",
         str(w / "o")], "not a valid image file", "o"),
    Case("synthesize-pixel-bomb", lambda w: ["synthesize", "--source", str(w / "bomb_src"), "--out", str(w / "o")],
         "over the limit", "o"),
    Case("synthesize-out-is-a-file", lambda w: ["synthesize", "--source", str(w / "clean"), "--out",
         str(w / "a_file")], "a_file", None),
    Case("synthesize-negative-seed", lambda w: ["synthesize", "--source", str(w / "clean"), "--out", str(w / "o"),
         "--seed", "-1"], "seed", "o"),
    Case("synthesize-gate-out-of-range", lambda w: ["synthesize", "--source", str(w / "clean"), "--out",
         str(w / "o"), "--gate", "1.5"], "gate", "o"),
    Case("evaluate-missing-data", lambda w: ["evaluate", "--method", "identity", "--data", str(w / "nope"),
         "--out", str(w / "o")], "does not exist", "o"),
    Case("evaluate-escaping-split-list", lambda w: ["evaluate", "--method", "identity", "--data",
         str(w / "escaping"), "--out", str(w / "o"), "--save-images"], "refusing entry", "o"),
    Case("evaluate-wrong-size", lambda w: ["evaluate", "--method", "identity", "--data", str(w / "wrong_size"),
         "--subset", "single/noise", "--out", str(w / "o")], "but its target", "o"),
    Case("evaluate-unknown-method", lambda w: ["evaluate", "--method", "ppnf", "--data", str(w / "bench"),
         "--out", str(w / "o")], "did you mean 'ppfn'", "o"),
    Case("evaluate-unknown-metric", lambda w: ["evaluate", "--method", "identity", "--data", str(w / "bench"),
         "--metrics", "psnr,lpips", "--out", str(w / "o")], "unknown metric 'lpips'", "o"),
    Case("evaluate-out-is-a-file", lambda w: ["evaluate", "--method", "identity", "--data", str(w / "bench"),
         "--out", str(w / "a_file")], "a_file", None),
    Case("evaluate-real-with-psnr", lambda w: ["evaluate", "--method", "identity", "--real", str(w / "clean"),
         "--metrics", "psnr", "--out", str(w / "o")], "full-reference", "o"),
    Case("enhance-missing-input", lambda w: ["enhance", str(w / "nope.png"), "--out", str(w / "o"), "--method",
         "identity", "--degradation", "composite"], "nope.png", "o"),
    Case("enhance-corrupt-image", lambda w: ["enhance", str(w / "bad" / "corrupt.png"), "--out", str(w / "o"),
         "--method", "identity", "--degradation", "composite"], "corrupt.png", "o"),
    Case("enhance-empty-file", lambda w: ["enhance", str(w / "bad" / "empty.png"), "--out", str(w / "o"),
         "--method", "identity", "--degradation", "composite"], "empty", "o"),
    Case("enhance-nan-tiff", lambda w: ["enhance", str(w / "bad" / "nan.tif"), "--out", str(w / "o"),
         "--method", "identity", "--degradation", "composite"], "NaN", "o"),
    Case("enhance-pixel-bomb", lambda w: ["enhance", str(w / "bad" / "bomb.png"), "--out", str(w / "o"),
         "--method", "identity", "--degradation", "composite"], "over the limit", "o"),
    Case("enhance-onto-its-input", lambda w: ["enhance", str(w / "clean"), "--out", str(w), "--method",
         "identity", "--degradation", "composite"], "input", None),
    Case("train-missing-data", lambda w: ["train", "--data", str(w / "nope"), "--out", str(w / "o"), "--steps", "1"],
         "nope", "o"),
    Case("train-corrupt-frames", lambda w: ["train", "--data", str(w / "corrupt_src"), "--out", str(w / "o"),
         "--steps", "1", "--crop", "16", "--batch-size", "1"], "corrupt_src", "o"),
    Case("verify-missing", lambda w: ["verify", str(w / "nope")], "nope", None),
    Case("export-missing", lambda w: ["export", "--format", "hf", str(w / "nope"), "--out", str(w / "o")], "nope",
         "o"),
    Case("download-unknown", lambda w: ["download", "hm-tri"], "did you mean 'hm-tir'", None),
    Case("download-offline", lambda w: ["download", "hm-tir", "--offline", "--dir", str(w / "o")], "offline", "o"),
    Case("list-unknown-kind", lambda w: ["list", "widgets"], "widgets", None),
    Case("compare-missing-data", lambda w: ["compare", "--data", str(w / "nope"), "--image", "a.png", "--methods",
         "identity", "--out", str(w / "o.png")], "nope", None),
    Case("submit-validate-missing", lambda w: ["submit", "validate", str(w / "nope")], "nope", None),
    Case("leaderboard-build-out-is-a-file", lambda w: ["leaderboard", "build", "--out", str(w / "a_file")],
         "a_file", None),
    Case("unknown-command", lambda w: ["synthesise"], "No such command", None),
]  # fmt: skip


def _snapshot(root: Path, allowed: Path | None) -> dict[str, str]:
    """sha256 of every file under ``root`` except inside ``allowed`` (the command's own output folder)."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not (allowed is not None and (path == allowed or allowed in path.parents)):
            files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_command_refuses_hostile_input_in_one_line(case: Case, tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    _world(world)
    allowed = world / case.out if case.out else None
    before = _snapshot(world, allowed)
    result = CliRunner().invoke(cli, case.args(world), env={"COLUMNS": "200"})
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert case.message in lines[0], lines[0]
    assert _snapshot(world, allowed) == before
