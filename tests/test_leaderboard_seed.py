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


def test_the_committed_network_rows_name_the_weights_pair_they_ran() -> None:
    """Each committed ppfn/nafnet row carries the sha256 of one shipped pair and its title names that pair:
    the untagged rows the pair the demo data chose (as ``hmtir evaluate`` does), the ``.agc`` rows the camera
    pair; no two rows are the same network."""
    from hmtir.leaderboard.seed import display_name
    from hmtir.methods.networks import SHIPPED_VARIANTS
    from hmtir.weights import sha256_file

    variant_of = {sha256_file(path): (variant, method) for variant, files in SHIPPED_VARIANTS.items()
                  for method, path in files.items()}  # fmt: skip
    shas = []
    for name in ("ppfn", "nafnet", "ppfn.agc", "nafnet.agc"):
        entry = json.loads((REPO / "leaderboard" / "results" / f"{name}__demo-v1.json").read_text())
        variant, method = variant_of[entry["method"]["weights_sha256"]]
        assert method == name.split(".")[0]
        if name.endswith(".agc"):
            assert variant == "agc" and entry["method"]["display_name"] == display_name(name)
        else:
            assert entry["method"]["display_name"] == display_name(name, {"variant": variant})
            assert entry["notes"].endswith(f"→ the {variant} pair.")
        shas.append(entry["method"]["weights_sha256"])
    assert len(set(shas)) == len(shas)


def test_default_weights_are_judged_by_the_pair_their_data_chooses(tmp_path: Path) -> None:
    """``ppfn`` with default weights runs the shipped pair its data chooses (``hmtir evaluate``): a kept run
    (``seed --work``, a demo's results) made with that pair is reused, one made with the other pair is
    recomputed, and the row it yields names the pair it ran."""
    from hmtir.demo import run_demo
    from hmtir.evaluation import evaluate
    from hmtir.leaderboard.seed import choice_note, display_name, weights_for_data
    from hmtir.methods import load_method
    from hmtir.methods.networks import DEFAULT_VARIANT, SHIPPED_VARIANTS, choose_variant
    from hmtir.weights import sha256_file

    out = tmp_path / "demo"
    first = run_demo(out, methods=["ppfn"], progress=False, size=(64, 80))
    data = first.benchmark
    variant = choose_variant(data)["variant"]
    other = "agc" if variant == "dim" else "dim"
    chosen_sha, other_sha = (sha256_file(SHIPPED_VARIANTS[v]["ppfn"]) for v in (variant, other))
    [run] = (out / "results").glob("*/ppfn")
    summary = run / "summary.json"
    recorded = json.loads(summary.read_text())["method"]
    assert recorded["name"] == "ppfn" and recorded["weights_sha256"] == chosen_sha
    assert recorded["weights_choice"]["variant"] == variant

    method = load_method("ppfn", device="cpu")
    assert method.weights_sha256 == sha256_file(SHIPPED_VARIANTS[DEFAULT_VARIANT]["ppfn"])  # before any data
    assert weights_for_data(method, data) == chosen_sha == method.weights_sha256
    assert weights_for_data(load_method(f"ppfn.{other}", device="cpu"), data) == other_sha  # a tag stays
    assert weights_for_data(load_method("identity"), data) is None
    assert not stale_run(run, chosen_sha) and stale_run(run, other_sha)

    stamp = summary.stat().st_mtime_ns
    again = run_demo(out, methods=["ppfn"], progress=False, size=(64, 80))
    assert summary.stat().st_mtime_ns == stamp and again.table() == first.table()  # reused, not recomputed

    # the folder now holds a run of the other pair (as a seed with the previous default left it)
    evaluate(f"ppfn.{other}", data=data, metrics="psnr,ssim", device="cpu", out=run, progress=False,
             overwrite=True)  # fmt: skip
    assert json.loads(summary.read_text())["method"]["weights_sha256"] == other_sha
    third = run_demo(out, methods=["ppfn"], progress=False, size=(64, 80))
    redone = json.loads(summary.read_text())["method"]
    assert redone["name"] == "ppfn" and redone["weights_sha256"] == chosen_sha  # recomputed with its pair
    assert third.table() == first.table()

    # the row title and note say which pair ran
    choice = redone["weights_choice"]
    assert (
        display_name("ppfn", choice)
        == f"PPFN + SPT (shipped compact, weights chosen per data set: {variant} here)"
    )
    assert display_name("ppfn.agc") == "PPFN + SPT (shipped compact, agc weights)"
    assert display_name("identity", None) == "Identity (degraded input)" and choice_note(None) is None
    assert f"the {variant} pair" in choice_note(choice) and str(choice["value"]) in choice_note(choice)
