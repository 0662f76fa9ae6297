"""``hmtir leaderboard seed``: the one command that regenerates the demo rows after shipped weights change.

Seeded here with identity only (no weights, so its committed row must come back unchanged); a kept
``--work`` run is reused when its weights match and recomputed when they do not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.leaderboard.seed import stale_run

REPO = Path(__file__).resolve().parents[1]


def test_seed_rewrites_the_demo_rows_and_reuses_only_runs_with_the_same_weights(tmp_path: Path) -> None:
    board = Path(shutil.copytree(REPO / "leaderboard", tmp_path / "leaderboard"))
    work = tmp_path / "work"
    args = ["leaderboard", "seed", "--leaderboard", str(board), "--work", str(work), "--methods", "identity"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Verified rows on demo-v1" in result.output and "identity" in result.output
    committed = json.loads((REPO / "leaderboard" / "results" / "identity__demo-v1.json").read_text())
    seeded = json.loads((board / "results" / "identity__demo-v1.json").read_text())
    # The same images give the same scores (only the timing is re-measured). Equal to 1e-12, not bit for bit:
    # a mean over pixels sums in an order that depends on the thread count (1 vs 2 threads: ~1e-15 dB).
    assert set(seeded["subsets"]) == set(committed["subsets"])
    for subset, row in committed["subsets"].items():
        assert seeded["subsets"][subset]["images"] == row["images"]
        scores = seeded["subsets"][subset]["metrics"]
        assert {k for k, v in scores.items() if v is None} == {
            k for k, v in row["metrics"].items() if v is None
        }
        measured = {k: v for k, v in row["metrics"].items() if v is not None}  # NR metrics are None here
        assert {k: scores[k] for k in measured} == pytest.approx(measured, rel=1e-12), subset
    columns = ["subset", "name", "psnr", "ssim", "input_sha256"]
    for rel in ("records/identity__demo-v1.csv",):
        assert pd.read_csv(board / rel)[columns].equals(pd.read_csv(REPO / "leaderboard" / rel)[columns])
    assert (board / "figures" / "demo-v1" / "composited-normal.png").is_file()

    run = work / "runs" / "identity"
    summary = run / "summary.json"
    assert not stale_run(run, None) and stale_run(run, "ab" * 32) and not stale_run(tmp_path / "none", None)
    stamp = summary.stat().st_mtime_ns
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert summary.stat().st_mtime_ns == stamp  # same weights: the kept run is loaded, not recomputed
    data = json.loads(summary.read_text())
    data["method"]["weights_sha256"] = "ab" * 32  # as if it had been run with the previous checkpoint
    summary.write_text(json.dumps(data))
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert json.loads(summary.read_text())["method"]["weights_sha256"] is None  # recomputed with today's


def test_seed_help_names_every_default_method_and_the_committed_rows_match_them() -> None:
    """The CLI help spells the default list out; it and the committed demo rows must follow SEED_METHODS."""
    from hmtir.leaderboard.seed import SEED_METHODS

    help_text = " ".join(CliRunner().invoke(cli, ["leaderboard", "seed", "--help"]).output.split())
    assert f"[default: {', '.join(SEED_METHODS)} where runnable]" in help_text
    rows = {
        p.name.removesuffix("__demo-v1.json")
        for p in (REPO / "leaderboard" / "results").glob("*__demo-v1.json")
    }
    assert rows == set(SEED_METHODS)
