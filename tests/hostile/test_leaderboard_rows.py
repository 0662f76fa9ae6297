"""Issue 12 items 5, 7 and 9 on the leaderboard: rows a submission does not own, data that is not the
declared benchmark, parser bombs in metadata, and hostile text in what the build renders.

Each refusal is checked as a user meets it: ``hmtir submit score|validate`` or ``hmtir leaderboard build``
exits 1 with one ``Error:`` line (no traceback), and the leaderboard folder, the submission and the data
stay byte-identical. The leaderboard used is a copy of the repository's own, so the verified and reported
rows a submission must not touch are the real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.scoring import score_submission
from hmtir.leaderboard.seed import build_demo_data
from hmtir.leaderboard.store import load_results
from hostile.corpus import DEEP_NESTING, METADATA, make_valid
from tests.trees import tree_digest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_data(get_benchmark("demo"), tmp_path_factory.mktemp("bench") / "demo")


@pytest.fixture()
def board(tmp_path: Path) -> Path:
    """A copy of the repository's leaderboard: real verified, reported and submission rows."""
    return Path(shutil.copytree(REPO / "leaderboard", tmp_path / "leaderboard"))


def submission(where: Path, demo: Path, method: str = "hostile-example", extra: str = "") -> Path:
    sub = make_valid(where, demo)
    (sub / "submission.yaml").write_text(METADATA.replace("hostile-example", method) + extra)
    return sub


def refused(args: list[str], fragment: str, *untouched: Path, absent: Path | None = None) -> str:
    """Run the CLI; it must exit 1 with one Error line holding ``fragment``, change none of ``untouched`` and
    not create ``absent`` (e.g. the site folder)."""
    before = [tree_digest(p) for p in untouched]
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, lines
    assert fragment in lines[0], lines[0]
    assert [tree_digest(p) for p in untouched] == before, "a file was changed"
    assert absent is None or not absent.exists(), f"{absent} was written"
    return lines[0]


def score(sub: Path, data: Path, board: Path, *extra: str) -> list[str]:
    return ["submit", "score", str(sub), "--data", str(data), "--leaderboard", str(board), *extra]


# ------------------------------------------------------------------------------------- who owns a row


@pytest.mark.parametrize("method", ["wfaf", "ppfn", "restormer"])
def test_a_submission_cannot_replace_or_pose_as_a_maintainer_row(
    tmp_path: Path, demo: Path, board: Path, method: str
) -> None:
    """Before: ``method: wfaf`` was written to results/wfaf__demo-v1.json over the verified row."""
    sub = submission(tmp_path / "mallory", demo, method=method)
    refused(
        score(sub, demo, board),
        f"method {method} already belongs to maintainers ({'results/' + method}__",
        board,
        sub,
        demo,
    )


def test_two_submitters_never_share_a_row_or_a_method_name(tmp_path: Path, demo: Path, board: Path) -> None:
    first = submission(tmp_path / "alice", demo, method="shared-name")
    path = score_submission(first, demo, board).path
    assert path == board / "results" / "submissions" / "alice__demo-v1.json"
    [row] = [e for e in load_results(board) if e["provenance"].get("submission") == "alice"]
    assert row["records"]["file"] == "records/submissions/alice__demo-v1.csv"
    second = submission(tmp_path / "bob", demo, method="shared-name")
    refused(
        score(second, demo, board),
        "method shared-name already belongs to submission alice (results/submissions/alice__demo-v1.json)",
        board,
    )
    # the same folder name elsewhere is the same submission id: it never replaces a row unasked
    twin = submission(tmp_path / "elsewhere" / "alice", demo, method="shared-name")
    refused(score(twin, demo, board), "already exists (owner: submission alice); pass --replace", board)
    result = CliRunner().invoke(cli, score(twin, demo, board, "--replace"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["Alice", "al ice", "a.b", "-x", "é", "x" * 65])
def test_a_submission_id_is_a_lowercase_slug(tmp_path: Path, demo: Path, board: Path, name: str) -> None:
    sub = submission(tmp_path / name, demo)
    refused(score(sub, demo, board), "is not a submission id", board, sub)
    refused(["submit", "validate", str(sub)], "rename the folder: it names the leaderboard row", sub)


def test_hand_placed_rows_cannot_claim_another_owner(tmp_path: Path, board: Path) -> None:
    """A submission row copied to a maintainer's place, or a maintainer method name taken by a submission."""
    site = tmp_path / "site"
    mine = board / "results" / "submissions" / "example-wfaf__demo-v1.json"
    entry = json.loads(mine.read_text())
    moved = board / "results" / "example-wfaf__demo-v1.json"
    shutil.move(mine, moved)
    refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)],
        "should be " + str(board / "results/submissions/example-wfaf__demo-v1.json"),
        board,
    )
    shutil.move(moved, mine)
    entry["method"]["name"] = "wfaf"
    mine.write_text(json.dumps(entry))
    refused(
        ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)],
        "method wfaf already belongs to maintainers",
        board,
    )
    assert not site.exists()


# ------------------------------------------------------------------------------- the declared data


def test_data_must_be_the_benchmark_the_submission_declares(tmp_path: Path, demo: Path, board: Path) -> None:
    sub = submission(tmp_path / "carol", demo)
    other = Path(shutil.copytree(demo, tmp_path / "other"))
    manifest = other / "meta" / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + "\n")
    pinned = get_benchmark("demo").manifest_sha256
    message = refused(
        score(sub, other, board), "is not benchmark demo v1: it has manifest sha256", board, sub
    )
    assert pinned[:12] in message
    refused(["submit", "validate", str(sub), "--data", str(other)], "is not benchmark demo v1", sub, other)
    manifest.unlink()
    refused(score(sub, other, board), "it has no meta/manifest.jsonl", board, sub, other)


def test_unpinned_benchmark_data_must_match_the_rows_already_ranked(
    tmp_path: Path, demo: Path, board: Path
) -> None:
    """HM-TIR pins no manifest (the release has none): its first measured row decides the data."""
    hm = METADATA.replace("benchmark: demo", "benchmark: hm-tir")
    first = make_valid(tmp_path / "first", demo)
    (first / "submission.yaml").write_text(hm.replace("hostile-example", "first-method"))
    score_submission(first, demo, board)
    other = Path(shutil.copytree(demo, tmp_path / "other"))
    (other / "meta" / "manifest.jsonl").write_text("{}\n")
    second = make_valid(tmp_path / "second", demo)
    (second / "submission.yaml").write_text(hm.replace("hostile-example", "second-method"))
    refused(score(second, other, board), "was scored on", board, second, other)


# ---------------------------------------------------------------------------------- parser bombs


def test_deeply_nested_metadata_is_refused_in_milliseconds(tmp_path: Path, demo: Path, board: Path) -> None:
    """Before: 28 s (60 s on a busy 2-core machine), then a RecursionError traceback."""
    nested = "self_reported: {x: " + "[" * DEEP_NESTING + "]" * DEEP_NESTING + "}\n"
    sub = submission(tmp_path / "deep", demo, extra=nested)
    start = time.perf_counter()
    refused(["submit", "validate", str(sub)], "submission.yaml: nested deeper than 8 levels", sub)
    assert time.perf_counter() - start < 5.0
    refused(score(sub, demo, board), "nested deeper than 8 levels", board, sub, demo)


# ------------------------------------------------------------------------ hostile text, rendered


HOSTILE_DISPLAY = "<img src=x onerror=alert(1)> | `rm` [a](javascript:x) $\\frac$ *b* \n# h"


def test_hostile_metadata_is_inert_in_every_rendered_output(tmp_path: Path, demo: Path, board: Path) -> None:
    """Before: LEADERBOARD.md held the raw <img> tag, and its pipe split the row into extra cells."""
    sub = submission(tmp_path / "eve", demo, extra="")
    text = (sub / "submission.yaml").read_text()
    (sub / "submission.yaml").write_text(
        text.replace("display_name: Hostile example", f"display_name: {json.dumps(HOSTILE_DISPLAY)}")
        + 'paper: "<script>alert(1)</script>"\n'
    )
    score_submission(sub, demo, board)
    result = CliRunner().invoke(
        cli, ["leaderboard", "build", "--leaderboard", str(board), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    site = tmp_path / "s"
    md = (site / "LEADERBOARD.md").read_text()
    lines = md.splitlines()
    rows = [i for i, line in enumerate(lines) if "onerror" in line]
    assert len(rows) == 2  # the ranking, and the paired-difference table under it
    unescaped = lambda line: line.replace("\\|", "").count("|")  # noqa: E731
    for i in rows:
        row = lines[i]
        header = next(
            lines[j] for j in range(i, -1, -1) if lines[j].startswith("| ") and lines[j + 1].startswith("|-")
        )
        assert unescaped(row) == unescaped(header)  # the name stays in its cell
        assert "&lt;img src=x onerror=alert(1)&gt;" in row and "\\`rm\\`" in row and "\\[a\\]" in row
    for raw in ("<img", "`rm`", "[a](", "$\\frac$", "*b*", "\n# h"):
        assert raw not in md
    page = (site / "submissions" / "eve.html").read_text()
    assert "<script>" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    assert not (site / "methods" / "hostile-example.html").exists()  # a submission's page is its own


def test_a_display_name_is_never_parsed_as_mathtext(tmp_path: Path) -> None:
    """Before: a plotted row named "$\\frac$" crashed `leaderboard build` in matplotlib with a traceback."""
    from test_browser import DEMO_SUBSETS, _entry, _write

    board = tmp_path / "board"
    entry = _entry("alpha", "learned", "verified", dict.fromkeys(DEMO_SUBSETS, 30.0), 0.5, 10)
    entry["method"]["display_name"] = "$\\frac$ $x"
    _write(board, entry)
    result = CliRunner().invoke(
        cli, ["leaderboard", "build", "--leaderboard", str(board), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert "frac" in (tmp_path / "s" / "plots" / "demo-v1-psnr-runtime.svg").read_text()


@pytest.mark.parametrize("target", ["board", "inside-board", "repo-like", "file", "dot", "link"])
def test_build_never_replaces_a_folder_it_did_not_build(tmp_path: Path, board: Path, target: str) -> None:
    """Before: --out was renamed away and deleted whatever it was (--out leaderboard erased the data)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    out = {
        "board": board,
        "inside-board": board / "site",
        "repo-like": mine,
        "file": mine / "notes.txt",
        "dot": Path("."),
        "link": tmp_path / "link",
    }[target]
    if target == "link":
        out.symlink_to(mine)
    cwd = Path.cwd()
    os.chdir(mine)
    try:
        refused(
            ["leaderboard", "build", "--leaderboard", str(board), "--out", str(out)], "--out ", board, mine
        )
    finally:
        os.chdir(cwd)


def test_build_replaces_its_own_previous_site(tmp_path: Path, board: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()  # an empty folder is fine (CI builds into mktemp -d)
    for _ in range(2):
        result = CliRunner().invoke(
            cli, ["leaderboard", "build", "--leaderboard", str(board), "--out", str(site)]
        )
        assert result.exit_code == 0, result.output
    assert (site / "index.html").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [
        "leaderboard",
        "site",
    ]


@pytest.mark.parametrize("target", ["truth", "degraded", "existing", "folder", "under-a-file"])
def test_compare_writes_only_a_new_output_file(tmp_path: Path, demo: Path, target: str) -> None:
    """Before: --out imgs/street_000.png replaced the ground truth with the picture of the grid."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "old.png").write_bytes(b"keep me")
    out = {
        "truth": demo / "imgs" / "street_000.png",
        "degraded": demo / "composited" / "normal" / "street_000.png",
        "existing": mine / "old.png",
        "folder": mine,
        "under-a-file": mine / "old.png" / "grid.png",
    }[target]
    args = ["compare", "--data", str(demo), "--image", "street_000.png", "--methods", "identity"]
    fragment = {"truth": "it is the input", "degraded": "it is the input", "existing": "pass --overwrite"}
    refused([*args, "--out", str(out)], fragment.get(target, "--out"), demo, mine)
