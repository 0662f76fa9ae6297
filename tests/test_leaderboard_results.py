"""Leaderboards from your own runs, paired statistics in tables, and user benchmark registries (issue 15 §2-3).

Two methods are evaluated on a tiny layout (tests/test_evaluate.py's ``make_layout``), then
``hmtir leaderboard build --results`` renders them and ``hmtir compare RESULT_DIR...`` compares them.
Expected values are computed here from the evaluation's own per-image records (``records.parquet``) and
from :func:`hmtir.evaluation.stats.paired_comparison` directly, never read back from the site.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from test_browser import CHROMIUM, DEMO_SUBSETS, DevTools, _entry, browser  # noqa: F401 - browser: fixture
from test_evaluate import make_layout

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate
from hmtir.evaluation.report import STD_LEGEND, summary_tables
from hmtir.evaluation.stats import PLUS_MINUS, paired_comparison
from hmtir.leaderboard.benchmarks import (
    BENCHMARKS_ENV,
    BENCHMARKS_FILE,
    get_benchmark,
    merge_benchmarks,
    parse_benchmark_file,
)
from hmtir.leaderboard.paired import LEGEND, compare_results
from hmtir.leaderboard.render import build_site
from hmtir.leaderboard.schema import records_relpath
from hmtir.leaderboard.scoring import records_csv
from hmtir.leaderboard.store import write_entry

SUBSETS = ("composited/normal", "single/noise")


@pytest.fixture(autouse=True)
def _no_user_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BENCHMARKS_ENV, raising=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """identity and wfaf evaluated on the same tiny layout, under one results folder."""
    root = tmp_path_factory.mktemp("runs")
    data = make_layout(root / "tinybench")
    results = root / "results"
    out = {}
    for method in ("identity", "wfaf"):
        out[method] = evaluate(method, data=data, metrics="psnr,ssim", device="cpu",
                               out=results / method, progress=False)  # fmt: skip
    manifest = hashlib.sha256((data / "meta" / "manifest.jsonl").read_bytes()).hexdigest()
    return {"data": data, "results": results, "manifest": manifest, **out}


def _site_json(site: Path) -> dict[str, Any]:
    return json.loads((site / "leaderboard.json").read_text())


def _row(data: dict[str, Any], method: str) -> dict[str, Any]:
    return next(r for r in data["rows"] if r["method"] == method)


def _expected(runs: dict[str, Any], subset: str, metric: str = "psnr") -> tuple[float, float, Any]:
    """(identity mean, wfaf mean, paired comparison) computed from the records themselves."""
    a = runs["identity"].records.query("subset == @subset")
    b = runs["wfaf"].records.query("subset == @subset").set_index("name").loc[a["name"]]  # a's frame order
    return (
        a[metric].mean(),
        b[metric].mean(),
        paired_comparison(a[metric].to_numpy(), b[metric].to_numpy(), metric),
    )


# ------------------------------------------------------------------------------ build --results


def test_build_from_results_tables_equal_the_records_and_carry_paired_cis(runs, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = CliRunner().invoke(
        cli, ["leaderboard", "build", "--results", str(runs["results"]), "--out", str(site)]
    )
    assert result.exit_code == 0, result.output
    bench = f"tinybench-{runs['manifest'][:8]}"  # not registered: named by its data folder and manifest
    assert f"{bench}-v1" in result.output and "its data" in result.output and "identity" in result.output
    data = _site_json(site)
    assert [b["key"] for b in data["benchmarks"]] == [f"{bench}-v1"]
    assert (
        data["benchmarks"][0]["subsets"] == list(SUBSETS) and data["benchmarks"][0]["paired_vs"] == "identity"
    )
    md = (site / "LEADERBOARD.md").read_text()
    for subset in SUBSETS:
        mean_a, mean_b, expected = _expected(runs, subset)
        for method, mean in (("identity", mean_a), ("wfaf", mean_b)):
            assert _row(data, method)["subsets"][subset]["psnr"] == pytest.approx(mean, abs=1e-12)
        ssim = runs["wfaf"].records.query("subset == @subset")["ssim"].mean()
        assert _row(data, "wfaf")["subsets"][subset]["ssim"] == pytest.approx(ssim, abs=1e-12)
        cell = _row(data, "wfaf")["paired"][subset]["psnr"]
        assert cell["mean_difference"] == pytest.approx(mean_b - mean_a, abs=1e-12)  # Δ = difference of means
        assert (cell["ci_low"], cell["ci_high"], cell["p_value"], cell["frames"]) == pytest.approx(
            (expected.ci_low, expected.ci_high, expected.p_value, 5), abs=1e-12
        )
        assert cell["ci_low"] <= cell["mean_difference"] <= cell["ci_high"] and 0 < cell["p_value"] <= 1
        assert _row(data, "identity")["reference"] and not _row(data, "identity")["paired"]
        # the Markdown table prints the same means at the metric's precision, and the Δ cell with its ±
        assert f"{mean_a:.2f}" in md and f"{mean_b:.2f}" in md
        assert cell["text"] in md.replace("\\", "")
    # a user's own folders are the user's claim: tier user, in a ranking titled as such, never verified
    assert "| 1 | wfaf | user |" in md or "| 1 | identity | user |" in md
    assert "— from your results folders (your evaluate runs; not re-scored by hmtir)" in md
    assert {r["trust"] for r in data["rows"]} == {"user"} and "verified" not in md
    assert PLUS_MINUS in md and "Paired difference vs identity on the same frames" in md
    rows = pd.read_csv(site / "leaderboard.csv")
    noise = rows[(rows["method"] == "wfaf") & (rows["subset"] == "single/noise")].iloc[0]
    assert noise["paired_vs"] == "identity" and noise["mean_difference"] == pytest.approx(
        _expected(runs, "single/noise")[1] - _expected(runs, "single/noise")[0], abs=1e-12
    )
    for page in ("index.html", "methods/wfaf.html", "plots/" + f"{bench}-v1-psnr-runtime.svg"):
        assert (site / page).is_file(), page
    assert PLUS_MINUS in (site / "methods" / "wfaf.html").read_text()


def tiny_registry(manifest: str) -> str:
    """A benchmarks.yaml that registers the images of ``manifest`` as benchmark ``tiny``, version 3."""
    return f"""version: 1
benchmarks:
  tiny:
    version: "3"
    title: "Tiny test set"
    description: "five frames"
    subsets: [composited/normal, single/noise]
    primary_metric: {{composited/normal: ssim, single/noise: psnr}}
    manifest_sha256: {manifest}
"""


def test_user_registry_names_the_data_next_to_results_or_in_env(runs, tmp_path: Path, monkeypatch) -> None:
    results = tmp_path / "results"
    shutil.copytree(runs["results"], results)
    (results / "benchmarks.yaml").write_text(tiny_registry(runs["manifest"]))
    out = CliRunner().invoke(
        cli, ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "s")]
    )
    assert out.exit_code == 0, out.output
    data = _site_json(tmp_path / "s")
    assert [b["key"] for b in data["benchmarks"]] == ["tiny-v3"]
    assert data["subsets"]["composited/normal"]["primary"] == "ssim"  # the registry's choice, not the default
    assert str(results / "benchmarks.yaml") in out.output  # "defined by"
    # the same file through $HMTIR_BENCHMARKS (like $HMTIR_SOURCES), results given folder by folder
    (results / "benchmarks.yaml").rename(tmp_path / "mine.yaml")
    monkeypatch.setenv(BENCHMARKS_ENV, str(tmp_path / "mine.yaml"))
    args = [
        "leaderboard",
        "build",
        "--results",
        str(results / "identity"),
        "--results",
        str(results / "wfaf"),
    ]
    out = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s")])  # a site built before is replaced
    assert out.exit_code == 0, out.output
    assert [b["key"] for b in _site_json(tmp_path / "s")["benchmarks"]] == ["tiny-v3"]
    assert get_benchmark("tiny").title == "Tiny test set"  # registered for every command, not only builds


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("subsets:", "subset:"), "benchmarks.tiny.subset: unknown field 'subset' (did you mean 'subsets'"),
        (lambda t: t.replace("single/noise]", "single/nois]"), "benchmarks.tiny.subsets: unknown subset 'single/nois' (did you mean 'single/noise'"),
        (lambda t: t.replace("single/noise: psnr", "single/noise: psnrr"), "benchmarks.tiny.primary_metric.single/noise: unknown leaderboard metric 'psnrr' (did you mean 'psnr'"),
        (lambda t: t.replace('version: "3"', "version: three"), "benchmarks.tiny.version: must be a whole number"),
        (lambda t: t.replace("  tiny:", "  Tiny Set:"), "benchmarks.Tiny Set: a benchmark name is lowercase"),
        (lambda t: t.replace("    title: \"Tiny test set\"\n", ""), "benchmarks.tiny.title: missing"),
        (lambda t: t.replace("manifest_sha256: ", "manifest_sha256: x"), "benchmarks.tiny.manifest_sha256: must be 64 lowercase hex"),
        (lambda t: t.replace("  tiny:", "  demo:"), "benchmarks.demo: already defined differently by hmtir"),
        (lambda t: t + "  other:\n" + t.split("  tiny:\n")[1], "benchmarks.other.manifest_sha256: the same images are already benchmark tiny"),
        (lambda t: t.replace("benchmarks:", "benchmark:"), "(top level): must be a mapping with a 'benchmarks' mapping"),
        (lambda t: t + "  bad: [1, 2\n", "not valid YAML"),
        (lambda t: t.replace("{composited/normal: ssim, ", "{"), "benchmarks.tiny.primary_metric: must name one metric for each subset"),
    ],
)  # fmt: skip
def test_a_bad_registry_is_one_line_naming_file_and_key(runs, tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(edit(tiny_registry(runs["manifest"])))
    args = ["leaderboard", "build", "--results", str(runs["results"]), "--benchmarks", str(path)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "site")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert str(path) in result.output and message in result.output, result.output
    assert not (tmp_path / "site").exists()


def test_shipped_registry_passes_the_same_validation() -> None:
    shipped = parse_benchmark_file(BENCHMARKS_FILE)
    assert set(shipped) == {"demo", "hm-tir"} and shipped["demo"].manifest_sha256.startswith("fef0a973")
    assert merge_benchmarks([shipped, shipped]) == shipped  # repeating a definition word for word is fine


def test_results_build_refusals(runs, tmp_path: Path) -> None:
    twice = tmp_path / "twice"
    shutil.copytree(runs["results"] / "wfaf", twice / "a")
    shutil.copytree(runs["results"] / "wfaf", twice / "b")
    cases = [
        (["--results", str(twice)], "method wfaf has two results on benchmark"),
        (
            ["--results", str(runs["results"]), "--out", str(runs["results"] / "site")],
            "overlaps the results folder",
        ),
        (["--results", str(tmp_path / "nope")], "does not exist"),
        (["--results", str(runs["results"]), "--leaderboard", "leaderboard"], "pass one of them"),
        (["--benchmarks", str(tmp_path / "x.yaml")], "--benchmarks applies with --results"),
    ]
    for args, fragment in cases:
        if "--out" not in args:
            args = [*args, "--out", str(tmp_path / "site")]
        result = CliRunner().invoke(cli, ["leaderboard", "build", *args])
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert fragment in result.output, result.output
    assert not (runs["results"] / "site").exists()


@pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Debian chromium is not installed (CI installs it: apt-get install chromium)",
)
def test_results_site_renders_in_chromium(runs, tmp_path: Path, browser: DevTools) -> None:  # noqa: F811
    site = tmp_path / "site"
    assert (
        CliRunner()
        .invoke(cli, ["leaderboard", "build", "--results", str(runs["results"]), "--out", str(site)])
        .exit_code
        == 0
    )
    data = _site_json(site)
    browser.open(site / "index.html")
    assert sorted(
        browser.js("Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.dataset.method)")
    ) == ["identity", "wfaf"]
    browser.click("#tabs button[data-subset='single/noise']")
    header = browser.js("document.querySelector('th[data-key=delta]').textContent")
    assert header == "Δ PSNR"
    cells = browser.js("Array.from(document.querySelectorAll('#board tbody tr')).map(r => "
                       "[r.dataset.method, r.querySelector('td[data-key=delta]').textContent])")  # fmt: skip
    assert dict(cells) == {
        "identity": "reference",
        "wfaf": _row(data, "wfaf")["paired"]["single/noise"]["psnr"]["text"],
    }
    legend = browser.js("document.getElementById('legend').textContent")
    assert PLUS_MINUS in legend and "paired difference vs identity" in legend
    urls = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert urls and all(u.startswith("file://") for u in urls), urls


# ---------------------------------------------------------------- hmtir compare RESULT_DIR...


def test_compare_results_table_plot_and_library(runs, tmp_path: Path) -> None:
    report = compare_results([runs["results"]])
    cells = {(c.subset, c.metric): c for c in report.cells}
    assert set(cells) == {(s, m) for s in SUBSETS for m in ("psnr", "ssim")} and report.baseline == "identity"
    for subset in SUBSETS:
        _, _, expected = _expected(runs, subset)
        assert cells[(subset, "psnr")].comparison == expected  # same frames, same seed: the same numbers
    plot = tmp_path / "forest.png"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["compare", str(runs["results"]), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert cells[("single/noise", "psnr")].text() in result.output and PLUS_MINUS in result.output
    assert plot.read_bytes().startswith(b"\x89PNG") and plot.stat().st_size > 10_000
    again = CliRunner().invoke(cli, ["compare", str(runs["results"]), "--plot", str(plot)])
    assert again.exit_code == 1 and "--overwrite" in again.output  # an existing picture is not replaced
    # the other way round: wfaf as baseline, only SSIM
    flipped = compare_results([runs["identity"].out, runs["wfaf"].out], baseline="WFAF", metrics=["ssim"])
    assert {c.method for c in flipped.cells} == {"identity"} and {c.metric for c in flipped.cells} == {"ssim"}
    back = {c.subset: c.comparison.mean_difference for c in flipped.cells}
    forward = {c.subset: c.comparison.mean_difference for c in report.cells if c.metric == "ssim"}
    assert back == pytest.approx({s: -v for s, v in forward.items()}, abs=1e-12)


def test_compare_modes_are_distinct_and_errors_are_one_line(runs, tmp_path: Path) -> None:
    help_text = CliRunner().invoke(cli, ["compare", "--help"]).output
    assert (
        "Statistics:  hmtir compare RESULT_DIR..." in help_text
        and "Picture:     hmtir compare --image" in help_text
    )
    results = str(runs["results"])
    cases = [
        (
            ["compare", results, "--baseline", "identiy"],
            "unknown baseline method 'identiy' (did you mean 'identity'?",
        ),
        (["compare", results, "--metrics", "psnrr"], "unknown metric 'psnrr' (did you mean 'psnr'"),
        (["compare", results, "--image", "a.png"], "RESULT_DIR belongs to statistics mode"),
        (["compare", results, "--methods", "wfaf"], "--methods belongs to picture mode"),
        (["compare", "--image", "a.png", "--baseline", "x"], "--baseline belongs to statistics mode"),
        (["compare", "--image", "a.png"], "picture mode (--image) also needs --data, --methods, --out"),
        (["compare"], "nothing to compare"),
        (["compare", str(runs["results"] / "wfaf")], "only one method (wfaf)"),
        (["compare", results, "--plot", str(tmp_path / "f.gif")], "use a .png, .svg or .pdf"),
    ]
    for args, fragment in cases:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and result.output.count("\n") == 1, (args, result.output)
        assert fragment in result.output, (args, result.output)


def test_compare_reports_why_a_cell_has_no_number(runs, tmp_path: Path) -> None:
    """Frames of other data never pair up: the cell says so (or how many frames it used), never a crash."""
    other = make_layout(tmp_path / "otherbench")  # the same layout, then changed:
    for name in ("a.png", "b.png", "c.png", "d.png", "e.png"):  # every composited/normal frame
        (other / "composited" / "normal" / name).write_bytes((other / "imgs" / name).read_bytes())
    (other / "single" / "noise" / "a.png").write_bytes((other / "imgs" / "a.png").read_bytes())  # one frame
    moved = evaluate("wfaf", data=other, metrics="psnr", device="cpu", out=tmp_path / "w", progress=False)
    report = compare_results([runs["identity"].out, moved.out], metrics=["psnr"])
    cells = {c.subset: c for c in report.cells}
    assert cells["composited/normal"].text() == "n/a (no frames in common)"
    assert cells["single/noise"].comparison.frames == 4
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["compare", str(runs["identity"].out), str(moved.out)]
    )
    assert result.exit_code == 0 and "n/a (no frames in common)" in result.output, result.output
    assert "4 of 5 frames" in result.output


# ------------------------------------------------------- leaderboard folder: reference row, legend


def _write_frames(board: Path, entry: dict[str, Any], scores: dict[str, list[float]]) -> None:
    rows = [
        {"subset": s, "name": f"f{i}.png", "psnr": v}
        for s, values in scores.items()
        for i, v in enumerate(values)
    ]
    text = records_csv(rows, ["psnr"], [])
    for s, values in scores.items():
        entry["subsets"][s]["metrics"]["psnr"] = sum(values) / len(values)
    entry["records"] = {
        "file": records_relpath(entry),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "rows": len(rows),
    }
    write_entry(board, entry, text)


def test_leaderboard_paired_reference_is_identity_else_the_best_row(tmp_path: Path) -> None:
    board = tmp_path / "board"
    base = [20.0, 21.0, 22.0, 23.0]
    _write_frames(board, _entry("identity", "reference", "verified", dict.fromkeys(DEMO_SUBSETS, 0.0), 0.01, 0),
                  {s: base for s in DEMO_SUBSETS})  # fmt: skip
    _write_frames(board, _entry("alpha", "learned", "verified", dict.fromkeys(DEMO_SUBSETS, 0.0), 0.5, 10),
                  {s: [v + 1 + 0.1 * i for i, v in enumerate(base)] for s in DEMO_SUBSETS})  # fmt: skip
    _write_frames(board, _entry("charlie", "classical", "recomputed", {"composited/normal": 0.0}, None, None),
                  {"composited/normal": base[:3]})  # fewer frames: no Δ, the means would not be comparable  # fmt: skip
    report = build_site(board, tmp_path / "site")
    [pairs] = [p for key, p in report.pairs.items() if key[1] == "measured"]
    assert pairs.reference.method == "identity"
    alpha = next(r for r in report.groups[0].rows if r.method == "alpha")
    cell = pairs.cell(alpha, "single/noise", "psnr")
    assert cell.comparison.mean_difference == pytest.approx(1.15) and cell.comparison.frames == 4
    charlie = next(r for r in report.groups[0].rows if r.method == "charlie")
    assert (
        pairs.cell(charlie, "composited/normal", "psnr").text() == "n/a (4 vs 3 frames: not the same frames)"
    )
    md = (report.out / "LEADERBOARD.md").read_text()
    assert "Paired difference vs IDENTITY" in md and PLUS_MINUS in md
    assert md.index(PLUS_MINUS) > md.index("| ALPHA | verified | +1.15 ±")  # the legend sits under its table
    # without an identity row the best-ranked row is the reference
    (board / "results" / "identity__demo-v1.json").unlink()
    report = build_site(board, tmp_path / "site")
    [pairs] = [p for key, p in report.pairs.items() if key[1] == "measured"]
    assert pairs.reference.method == "alpha"


def test_every_plus_minus_table_says_what_it_is(runs) -> None:
    tables = summary_tables(runs["wfaf"].summary)
    assert all(t.caption == STD_LEGEND for t in tables) and "population standard deviation" in STD_LEGEND
    assert LEGEND.startswith(PLUS_MINUS)


def test_get_benchmark_suggests_a_close_name() -> None:
    with pytest.raises(HmtirError, match=r"unknown benchmark 'dmeo' \(did you mean 'demo'\?"):
        get_benchmark("dmeo")
