"""The README's main job, on small frames: scenes → five subsets → evaluation → table and figure."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.layout import read_scenes
from hmtir.demo import run_demo
from hmtir.vocabulary import SUBSETS


def test_demo_builds_benchmark_evaluates_and_resumes(tmp_path) -> None:
    out = tmp_path / "demo"
    result = run_demo(out, methods=["identity", "wfaf", "daclip"], progress=False, size=(64, 80))

    assert set(read_scenes(result.benchmark).values()) == {
        "street", "building", "skyline", "vegetation", "waterside", "industrial", "parking", "field",
    }  # fmt: skip
    table = result.table()
    assert list(table) == ["identity", "wfaf"] and list(table["identity"]) == list(SUBSETS)
    # daclip has no weights here: it is reported as skipped with the download hint, not a crash
    assert "hmtir download daclip" in result.skipped["daclip"]
    # identity on single/blur scores the blurred input: below the clean image, above the hard composite
    normal, hard = table["identity"]["composited/normal"], table["identity"]["composited/hard"]
    assert 5 < hard["psnr"] < normal["psnr"] < 60 and 0 < hard["ssim"] < 1
    assert json.loads((out / "demo_summary.json").read_text()) == table
    assert result.figure is not None and result.figure.stat().st_size > 10_000

    # a second run reuses every finished result instead of recomputing or refusing
    again = run_demo(out, methods=["identity", "wfaf"], progress=False, size=(64, 80))
    assert again.table() == table


def test_demo_cli_prints_both_tables(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(tmp_path / "d"), "--methods", "identity", "--per-category", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "PSNR (dB)" in result.output and "SSIM" in result.output and "identity" in result.output


def test_demo_unknown_method_is_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "d"), "--methods", "nope"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown method 'nope' (available: ")
