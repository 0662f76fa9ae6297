"""Issue "Trust, round 3" items 6 and 9 on the leaderboard: a results folder cannot be relabelled, a row built
from a user's own folder never claims a tier only hmtir's rescoring earns, and hostile numbers or nesting in
any JSON the leaderboard reads are one ``Error:`` line.

Each refusal is checked as a user meets it (``hmtir leaderboard build`` or ``hmtir submit validate`` exits 1
with one ``Error:`` line, no traceback) and nothing is written: the site folder does not appear and the
inputs stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from test_evaluate import make_layout

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate
from hmtir.leaderboard.benchmarks import BENCHMARKS_ENV, get_benchmark
from hmtir.leaderboard.seed import build_demo_data
from hmtir.leaderboard.store import write_entry
from hostile.corpus import METADATA, make_valid
from tests.hostile.test_leaderboard_rows import refused
from tests.trees import tree_digest

REPO = Path(__file__).resolve().parents[2]
HUGE = 10**400  # 401 digits: Python parses it, and it overflows wherever it meets a float


@pytest.fixture(autouse=True)
def _no_user_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BENCHMARKS_ENV, raising=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """identity and wfaf evaluated on one tiny layout: an honest user's results folder."""
    root = tmp_path_factory.mktemp("trust")
    data = make_layout(root / "tinybench")
    for method in ("identity", "wfaf"):
        evaluate(method, data=data, metrics="psnr,ssim", device="cpu", out=root / "results" / method,
                 progress=False)  # fmt: skip
    return root / "results"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_data(get_benchmark("demo"), tmp_path_factory.mktemp("bench") / "demo")


@pytest.fixture()
def results(runs: Path, tmp_path: Path) -> Path:
    """A private copy of the results folder, free to be tampered with."""
    return Path(shutil.copytree(runs, tmp_path / "results"))


@pytest.fixture()
def board(tmp_path: Path) -> Path:
    """A copy of the repository's leaderboard folder."""
    return Path(shutil.copytree(REPO / "leaderboard", tmp_path / "leaderboard"))


def _board_row(board: Path) -> Path:
    return board / "results" / "wfaf__demo-v1.json"


def build_results(results: Path, site: Path) -> list[str]:
    return ["leaderboard", "build", "--results", str(results), "--out", str(site)]


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def _write_summary(folder: Path, summary: dict[str, Any]) -> None:
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))


def _relabel(summary: dict[str, Any], method: str) -> None:
    summary["method"]["name"] = method
    summary["run"]["method"] = method


def _rebind(folder: Path, summary: dict[str, Any]) -> None:
    """What a careful forger does: recompute every hash the summary holds, so only its content can tell."""
    from hmtir.evaluation.results import summary_digest

    for name in summary["records_sha256"]:
        summary["records_sha256"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    summary["digest"] = summary_digest(summary)
    _write_summary(folder, summary)


# ---------------------------------------------------------------------------------- relabelled folders


def test_a_relabelled_summary_is_refused(results: Path, tmp_path: Path) -> None:
    """Before: summary.json edited to say ppfn over a WFAF run gave a "ppfn" row, tier verified, with WFAF's
    numbers, while the records still said wfaf."""
    summary = _summary(results / "wfaf")
    _relabel(summary, "ppfn")
    _write_summary(results / "wfaf", summary)
    site = tmp_path / "site"
    refused(
        build_results(results, site), "summary.json was edited after it was written", results, absent=site
    )


def test_a_relabelled_summary_with_its_digest_recomputed_is_refused_by_its_records(
    results: Path, tmp_path: Path
) -> None:
    summary = _summary(results / "wfaf")
    _relabel(summary, "ppfn")
    _rebind(results / "wfaf", summary)
    site = tmp_path / "site"
    refused(
        build_results(results, site), "method ppfn in the summary, wfaf in the records", results, absent=site
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s.update(data="tinybench"),
        lambda s: s["data"].update(root=["a", "b"]),
        lambda s: s["data"].update(manifest_sha256=7),
    ],
    ids=["data-text", "root-list", "manifest-number"],
)
def test_a_rebound_summary_of_another_shape_is_one_line(
    results: Path, tmp_path: Path, tamper: Callable[[dict[str, Any]], None]
) -> None:
    """Hashes recomputed over a summary whose data block has the wrong types: one line, not an
    AttributeError from filing it under its data's benchmark."""
    summary = _summary(results / "wfaf")
    tamper(summary)
    _rebind(results / "wfaf", summary)
    site = tmp_path / "site"
    refused(build_results(results, site), "is not an hmtir evaluate summary", results, absent=site)


def test_a_folder_rewritten_consistently_is_only_ever_the_users_claim(results: Path, tmp_path: Path) -> None:
    """Records, summary and hashes all saying ppfn: nothing in the folder can tell, so the row is the user's
    claim (tier user), never a tier that hmtir's own rescoring earns."""
    folder = results / "wfaf"
    for name, write in (("records.parquet", "to_parquet"), ("records.csv", "to_csv")):
        records = pd.read_parquet(folder / "records.parquet").assign(method="ppfn")
        getattr(records, write)(folder / name, index=False)
    summary = _summary(folder)
    _relabel(summary, "ppfn")
    _rebind(folder, summary)
    site = tmp_path / "site"
    result = CliRunner().invoke(cli, build_results(results, site))
    assert result.exit_code == 0, result.output
    rows = json.loads((site / "leaderboard.json").read_text())["rows"]
    assert {(r["method"], r["trust"], r["group"]) for r in rows} == {
        ("identity", "user", "user"),
        ("ppfn", "user", "user"),
    }


# ------------------------------------------------------------------------------------- the user tier


def test_an_honest_user_folder_is_shown_with_the_user_tier(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = CliRunner().invoke(cli, build_results(results, site))
    assert result.exit_code == 0, result.output
    data = json.loads((site / "leaderboard.json").read_text())
    assert sorted((r["method"], r["trust"]) for r in data["rows"]) == [("identity", "user"), ("wfaf", "user")]
    assert data["group_order"] == ["measured", "user", "reported"]
    md = (site / "LEADERBOARD.md").read_text()
    assert "from your results folders (your evaluate runs; not re-scored by hmtir)" in md
    assert "| wfaf | user |" in md and "verified" not in md and "measured by hmtir" not in md
    assert "<span class='tier tier-user'>user</span>" in (site / "methods" / "wfaf.html").read_text()
    assert '<span class="tier tier-user">user</span>' in (site / "index.html").read_text()  # the legend
    assert ".tier-user" in (site / "style.css").read_text()
    assert {r["trust"] for r in pd.read_csv(site / "leaderboard.csv").to_dict("records")} == {"user"}


def test_a_user_row_cannot_enter_a_leaderboard_folder(board: Path, tmp_path: Path) -> None:
    """The user tier exists only in a site built from results folders; a leaderboard folder (what seed and
    submit score write, what build reads) refuses it, whether written by the API or by hand."""
    entry = json.loads(_board_row(board).read_text())
    entry.update(trust="user")
    entry["method"]["name"] = "mine"
    entry["records"]["file"] = "records/mine__demo-v1.csv"
    before = tree_digest(board)
    with pytest.raises(HmtirError, match="a user row is read from a user's own results folder"):
        write_entry(board, entry, "subset,name\n")
    assert tree_digest(board) == before
    (board / "results" / "mine__demo-v1.json").write_text(json.dumps(entry))
    site = tmp_path / "site"
    refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)],
        "mine__demo-v1.json: a user row is read from a user's own results folder by `leaderboard build "
        "--results`; a leaderboard folder holds recomputed, verified, reported rows",
        board,
        absent=site,
    )


# --------------------------------------------------------------------- hostile numbers and nesting


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        (("seed",), "is outside ±(2**63-1)"),
        (("subsets", "composited/normal", "images"), "is outside ±(2**63-1)"),
        (("notes",), "nested deeper than 32 levels"),
    ],
    ids=["seed", "images", "deep"],
)
def test_a_huge_integer_or_deep_nesting_in_a_summary_is_one_line(
    results: Path, tmp_path: Path, where: tuple[str, ...], fragment: str
) -> None:
    """Before: an integer of 10**400 in summary.json gave a traceback from ``leaderboard build``; so does
    nesting 50 000 deep anywhere in it."""
    text = (results / "wfaf" / "summary.json").read_text()
    summary = json.loads(text)
    target = summary
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = HUGE
    _write_summary(results / "wfaf", summary)
    if where == ("notes",):
        text = (results / "wfaf" / "summary.json").read_text()
        (results / "wfaf" / "summary.json").write_text(text.replace(str(HUGE), "[" * 50_000 + "]" * 50_000))
    site = tmp_path / "site"
    refused(build_results(results, site), fragment, results, absent=site)


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda t: t.replace('"parameters": 0', f'"parameters": {HUGE}'), "is outside ±(2**63-1)"),
        (lambda t: t.replace('"parameters": 0', '"parameters": NaN'), "NaN is not a JSON number"),
        (lambda t: t.replace('"parameters": 0', '"parameters": 1e400'), "too large for a float"),
        (
            lambda t: t.replace('"parameters": 0', '"parameters": ' + "[" * 50_000 + "]" * 50_000),
            "nested deeper than 32 levels",
        ),  # fmt: skip
    ],
    ids=["huge-int", "nan", "huge-float", "deep"],
)
def test_hostile_json_in_a_leaderboard_entry_is_one_line(
    board: Path, tmp_path: Path, tamper: Callable[[str], str], fragment: str
) -> None:
    text = _board_row(board).read_text()
    assert '"parameters": 0' in text
    _board_row(board).write_text(tamper(text))
    site = tmp_path / "site"
    line = refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)],
        f"leaderboard result {_board_row(board)}: ",
        board,
        absent=site,
    )
    assert fragment in line, line


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        (
            "submission.yaml",
            METADATA + f"parameters: {HUGE}\n",
            "parameters: an integer of 1329 bits is outside",
        ),
        (
            "submission.json",
            json.dumps({"method": "x"})[:-1] + f', "parameters": {HUGE}}}',
            "submission.json: integer 100000000000… (401 digits) is outside ±(2**63-1)",
        ),
        (
            "submission.json",
            '{"method": "x", "parameters": NaN}',
            "submission.json: NaN is not a JSON number",
        ),
    ],
    ids=["yaml-huge-int", "json-huge-int", "json-nan"],
)
def test_hostile_numbers_in_submission_metadata_are_one_line(
    demo: Path, tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    sub = make_valid(tmp_path / "sub", demo)
    (sub / "submission.yaml").unlink()
    (sub / name).write_text(text)
    refused(["submit", "validate", str(sub), "--data", str(demo)], fragment, sub, demo)


def _records_of(board: Path, method: str) -> Path:
    return board / "records" / f"{method}__demo-v1.csv"


def _set_cell(board: Path, value: str) -> None:
    lines = _records_of(board, "wfaf").read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    first[header.index("psnr")] = value
    _records_of(board, "wfaf").write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda board: _set_cell(board, "abc"), "psnr holds 'abc', not a number"),
        (
            lambda board: _set_cell(board, str(HUGE)),
            "psnr of composited/normal: no finite mean; the row says",
        ),
        (lambda board: _set_cell(board, ""), "psnr of composited/normal: no finite mean; the row says"),
        (
            lambda board: shutil.copyfile(_records_of(board, "identity"), _records_of(board, "wfaf")),
            "psnr of composited/hard: mean ",  # the first subset in the row, identity's mean there
        ),
    ],
    ids=["not-a-number", "huge-int", "missing", "another-rows-records"],
)
def test_records_that_are_not_their_rows_are_one_line(
    board: Path, tmp_path: Path, tamper: Callable[[Path], None], fragment: str
) -> None:
    """A records file whose sha256 its entry was edited to match is still checked against the row: the
    paired differences must be differences of the means the table prints (before: 'abc' was a traceback, a
    swapped file gave a paired difference of another row's frames)."""
    tamper(board)
    entry = json.loads(_board_row(board).read_text())
    entry["records"]["sha256"] = hashlib.sha256(_records_of(board, "wfaf").read_bytes()).hexdigest()
    _board_row(board).write_text(json.dumps(entry))
    site = tmp_path / "site"
    line = refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)],
        f"records {_records_of(board, 'wfaf')} do not belong to their row (",
        board,
        absent=site,
    )
    assert fragment in line, line


def test_a_deeply_nested_site_marker_is_not_a_site(board: Path, tmp_path: Path) -> None:
    """``--out`` holding a leaderboard.json nested 50 000 deep: not a site hmtir built, so refused in one
    line as any other foreign folder (before: the marker check parsed it unbounded)."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "leaderboard.json").write_text('{"schema": ' + "[" * 50_000 + "]" * 50_000 + "}")
    refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(out)],
        "is not empty and not a leaderboard site built by hmtir",
        board,
        out,
    )
