"""The README's main job: the leaderboard's demo benchmark → five subsets → evaluation → tables, figure,
and where the rows would sit on the leaderboard (small frames for the custom-options test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.layout import manifest_hash, read_scenes
from hmtir.demo import demo_benchmark, run_demo
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.ranking import rank
from hmtir.leaderboard.schema import MEASURED_TIERS
from hmtir.leaderboard.store import load_results
from hmtir.vocabulary import SUBSETS

REPO = Path(__file__).resolve().parents[1]


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
    # other frame sizes are plainly another benchmark: named differently and never placed on the leaderboard
    assert result.definition.name == "demo-custom" and "80×64" in result.definition.title
    assert result.standings == [] and "not placed on the leaderboard" in result.note

    # a second run reuses every finished result instead of recomputing or refusing
    again = run_demo(out, methods=["identity", "wfaf"], progress=False, size=(64, 80))
    assert again.table() == table


def test_default_demo_is_the_leaderboards_demo_benchmark_and_says_where_its_rows_sit(tmp_path) -> None:
    bench = get_benchmark("demo")
    assert demo_benchmark() is bench and demo_benchmark(per_category=1, seed=0, size=(128, 160)) is bench
    assert demo_benchmark(seed=1).name == "demo-custom"
    result = run_demo(
        tmp_path / "d", methods=["identity", "wfaf"], progress=False, leaderboard=REPO / "leaderboard"
    )
    assert manifest_hash(result.benchmark) == bench.manifest_sha256  # the pinned images, bit for bit
    board = [
        e
        for e in load_results(REPO / "leaderboard")
        if e["benchmark"]["name"] == "demo" and e["trust"] in MEASURED_TIERS
    ]
    standings = {s.method: s for s in result.standings}
    assert set(standings) == {"identity", "wfaf"}
    for standing in standings.values():
        assert standing.of == len(board)  # its own method's row replaced by this demo's
        # the committed row was measured on the same images: equal scores (until the weights change)
        assert standing.board_psnr == pytest.approx(standing.average_psnr, abs=1e-9)
        assert 1 <= standing.rank <= standing.of
    # same scores as the committed rows, so the same places as the committed leaderboard gives them
    (measured,) = [g for g in rank(board) if g.group == "measured"]
    assert {m: standings[m].rank for m in standings} == {
        r.method: r.overall_rank for r in measured.rows if r.method in standings and r.trust == "verified"
    }


def test_demo_cli_prints_both_tables_and_the_placement(tmp_path) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli,
        [
            "demo",
            "--out",
            str(tmp_path / "d"),
            "--methods",
            "identity",
            "--leaderboard",
            str(REPO / "leaderboard"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "PSNR (dB)" in result.output and "SSIM" in result.output and "identity" in result.output
    assert "Where these rows would sit among the measured demo-v1 rows" in result.output
    assert "(same)" in result.output


def test_demo_unknown_method_is_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "d"), "--methods", "nope"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown method 'nope' (")


def test_a_broken_leaderboard_costs_the_demo_only_its_placement(tmp_path) -> None:
    board = tmp_path / "board"
    (board / "results").mkdir(parents=True)
    (board / "results" / "identity__demo-v1.json").write_text("{not json")
    result = run_demo(tmp_path / "d", methods=["identity"], progress=False, leaderboard=board)
    assert "identity" in result.table() and result.standings == []
    assert result.note.startswith(
        f"these rows could not be placed on {board}: leaderboard result {board / 'results'}"
    )
