"""Leaderboard submissions: validation, recomputed scoring, and a generated corpus of hostile submissions."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hostile.corpus import CASES, METADATA, SUBSET, make_valid

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io.image import read_image, write_image
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.scoring import score_submission
from hmtir.leaderboard.seed import build_demo_data
from hmtir.leaderboard.store import load_results
from hmtir.leaderboard.submission import validate_submission
from hmtir.metrics import psnr
from tests.trees import tree_digest


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_data(get_benchmark("demo"), tmp_path_factory.mktemp("bench") / "demo")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, demo: Path) -> Path:
    """A leaderboard that already holds one scored entry (so 'unchanged' covers existing files too)."""
    root = tmp_path_factory.mktemp("board") / "leaderboard"
    sub = make_valid(tmp_path_factory.mktemp("seed") / "seeded", demo)
    (sub / "submission.yaml").write_text(METADATA.replace("hostile-example", "seeded-example"))
    score_submission(sub, demo, root)
    return root


def test_valid_submission_needs_no_data_for_the_demo_benchmark(tmp_path: Path, demo: Path) -> None:
    sub = make_valid(tmp_path / "ok", demo)
    report = validate_submission(sub)
    assert report["images"] == 8 and report["benchmark"] == "demo-v1" and report["subsets"] == [SUBSET]
    assert validate_submission(sub, demo)["sha256"] == report["sha256"]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_archived_submission_is_the_same_submission(tmp_path: Path, demo: Path, kind: str) -> None:
    folder = make_valid(tmp_path / "folder", demo)
    packed = make_valid(tmp_path / "packed", demo)
    images = packed / "images"
    if kind == "zip":
        with zipfile.ZipFile(packed / "images.zip", "w") as zf:
            for file in sorted(images.rglob("*.png")):
                zf.write(file, file.relative_to(images).as_posix())
    else:
        with tarfile.open(packed / "images.tar.gz", "w:gz") as tf:
            tf.add(images / "composited", "composited")
    shutil.rmtree(images)
    assert validate_submission(packed, demo)["images"] == 8
    a = score_submission(folder, demo, None).entry["subsets"]
    b = score_submission(packed, demo, None).entry["subsets"]
    assert a == b


def test_score_recomputes_every_image_and_ignores_self_reported_numbers(tmp_path: Path, demo: Path) -> None:
    sub = make_valid(tmp_path / "liar", demo)
    (sub / "submission.yaml").write_text(METADATA + "self_reported: {psnr: 99.0, ssim: 1.0}\n")
    board = tmp_path / "leaderboard"
    outcome = score_submission(sub, demo, board)
    expected = [
        psnr(read_image(demo / SUBSET / n).data, read_image(demo / "imgs" / n).data)
        for n in sorted(p.name for p in (demo / SUBSET).glob("*.png"))
    ]
    block = outcome.entry["subsets"][SUBSET]
    assert block["images"] == 8
    assert block["metrics"]["psnr"] == pytest.approx(float(np.mean(expected)), abs=1e-9)
    assert 10 < block["metrics"]["psnr"] < 40 and 0 < block["metrics"]["ssim"] < 1
    assert (
        block["metrics"]["niqe"] is None and block["metrics"]["musiq"] is None
    )  # not computed: explicit null
    assert outcome.entry["trust"] == "recomputed"
    [loaded] = load_results(board)  # validates the schema and the records' sha256
    assert loaded == outcome.entry
    rows = (board / loaded["records"]["file"]).read_text().splitlines()
    assert rows[0] == "subset,name,psnr,ssim,image_sha256" and len(rows) == 9


def test_sixteen_bit_and_float_submissions_score_like_eight_bit(tmp_path: Path, demo: Path) -> None:
    eight = make_valid(tmp_path / "eight", demo)
    sixteen = make_valid(tmp_path / "sixteen", demo)
    floats = make_valid(tmp_path / "floats", demo)
    for file in sorted((sixteen / "images" / SUBSET).glob("*.png")):
        write_image(file, read_image(file).data, bit_depth=16)
        assert read_image(file).bit_depth == 16
    for file in sorted((floats / "images" / SUBSET).glob("*.png")):
        write_image(file.with_suffix(".tif"), read_image(file).data, bit_depth=32)
        file.unlink()
    scores = [
        score_submission(s, demo, None).entry["subsets"][SUBSET]["metrics"] for s in (eight, sixteen, floats)
    ]
    assert (
        scores[0]["psnr"]
        == pytest.approx(scores[1]["psnr"], abs=1e-6)
        == pytest.approx(scores[2]["psnr"], abs=1e-6)
    )


def test_rescoring_gives_identical_bytes(tmp_path: Path, demo: Path) -> None:
    sub = make_valid(tmp_path / "again", demo)
    first = score_submission(sub, demo, tmp_path / "a")
    second = score_submission(sub, demo, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_submission_is_refused_and_leaderboard_unchanged(
    case, tmp_path: Path, demo: Path, board: Path
) -> None:
    sub = make_valid(tmp_path / case.name, demo)
    case.build(sub)
    before = tree_digest(board)
    with pytest.raises(HmtirError) as caught:
        score_submission(sub, demo, board)
    message = str(caught.value)
    assert case.message in message, message
    assert "\n" not in message and message.startswith(f"submission {sub}")
    assert tree_digest(board) == before
    assert not list(Path(tmp_path).glob("**/.*.part*"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_submission_through_the_cli_is_one_line_and_changes_nothing(
    case, tmp_path: Path, demo: Path, board: Path
) -> None:
    """`hmtir submit score`: exit 1, one Error line (no progress bar, no traceback); the leaderboard, the
    submission and the data are byte-identical afterwards."""
    sub = make_valid(tmp_path / case.name, demo)
    case.build(sub)
    before = [tree_digest(p) for p in (board, sub, demo)]
    result = CliRunner().invoke(
        cli, ["submit", "score", str(sub), "--data", str(demo), "--leaderboard", str(board)]
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert len(lines) == 1 and lines[0].startswith("Error: ") and case.message in lines[0], lines
    assert [tree_digest(p) for p in (board, sub, demo)] == before


def test_cli_reports_one_line_and_exit_code(tmp_path: Path, demo: Path, board: Path) -> None:
    bad = make_valid(tmp_path / "bad", demo)
    (bad / "images" / SUBSET / "street_000.png").write_text("not an image")
    good = make_valid(tmp_path / "good", demo)
    before = tree_digest(board)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["submit", "score", str(bad), "--data", str(demo), "--leaderboard", str(board)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: submission {bad}: composited/normal/street_000.png: is not a PNG or TIFF image (wrong signature bytes)"
    )
    assert tree_digest(board) == before
    ok = runner.invoke(cli, ["submit", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    missing = runner.invoke(cli, ["submit", "validate", str(good), str(bad)])
    assert missing.exit_code == 1


def test_repository_submissions_are_valid() -> None:
    """Every folder in submissions/ must validate (the CI runs the same through the CLI)."""
    root = Path(__file__).resolve().parents[1] / "submissions"
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        pytest.skip("no submissions/ folders in this checkout")
    for folder in folders:
        assert validate_submission(folder)["images"] > 0
