"""``hmtir verify`` on a small HM-TIR tree and on broken copies of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.verify import parse_size, verify
from hmtir.errors import HmtirError
from hmtir.io.image import write_image
from hmtir.vocabulary import SUBSETS

TRAIN = ["a.png", "b.png"]
TEST = ["c.png", "d.png", "e.png"]
SCENES = {"a.png": "road", "b.png": "road", "c.png": "park", "d.png": "road", "e.png": "building"}


def make_tree(root: Path, width: int = 20, height: int = 16, declared: dict | None = None) -> Path:
    """A miniature HM-TIR layout: 5 clean frames, 3 of them in the test split of every subset."""
    rng = np.random.default_rng(0)
    for name in TRAIN + TEST:
        write_image(root / "imgs" / name, rng.random((height, width)).astype(np.float32))
    records = []
    for subset, info in SUBSETS.items():
        for name in TEST:
            write_image(root / subset / name, rng.random((height, width)).astype(np.float32))
            records.append(
                {
                    "name": name,
                    "subset": subset,
                    "preset": info.preset,
                    "params": {"sigma": round(float(rng.random()), 4)},
                }
            )
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "train.txt").write_text("".join(f"{n}\n" for n in TRAIN))
    (meta / "test.txt").write_text("".join(f"{n}\n" for n in TEST))
    (meta / "scenes.csv").write_text("name,scene\n" + "".join(f"{n},{s}\n" for n, s in SCENES.items()))
    (meta / "manifest.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    if declared is not False:
        (meta / "dataset.json").write_text(json.dumps(declared or {"generator": "test", "images": len(TEST)}))
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree")


def problems(report) -> list[tuple[str, str]]:
    return [(p.path, p.problem) for p in report.problems]


def test_good_tree_passes(tree):
    report = verify(tree)
    assert report.ok, report.problems
    assert (report.mode, report.frames, report.test_names, report.checked) == ("declared", 5, 3, 5 + 5 * 3)
    assert report.subsets == list(SUBSETS) and dict(report.sizes) == {(20, 16): 20}
    assert verify(tree, size=(20, 16)).ok


def test_forced_size_reports_every_clean_frame(tree):
    report = verify(tree, size=(640, 512))
    assert problems(report) == [(f"imgs/{n}", "size 20x16, expected 640x512") for n in sorted(TRAIN + TEST)]


def test_broken_copies(tree, tmp_path):
    (tree / "single/blur/d.png").unlink()  # missing file
    (tree / "composited/hard/c.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")  # corrupt file
    write_image(tree / "single/noise/e.png", np.zeros((10, 12), np.float32))  # wrong size
    shutil.rmtree(tree / "single/contrast")  # missing subset
    report = verify(tree)
    assert sorted(problems(report)) == sorted(
        [
            ("single/blur/d.png", "test image missing from subset"),
            ("composited/hard/c.png", "not a valid image file"),
            ("single/noise/e.png", "size 12x10 differs from its clean frame (20x16)"),
            ("single/contrast", "missing subset folder"),
        ]
    )
    assert report.checked == 5 + 3 + 2 + 2 + 3  # the corrupt file is not counted as read


def test_missing_clean_frame_and_list_count(tree):
    (tree / "imgs" / "a.png").unlink()
    (tree / "meta" / "dataset.json").write_text(json.dumps({"generator": "test", "images": 4}))
    report = verify(tree, read=False)
    assert problems(report) == [
        ("meta/test.txt", "3 names, but dataset.json declares 4"),
        ("imgs/a.png", "listed in meta/train.txt but missing"),
    ]
    assert report.checked == 0


def test_tree_without_dataset_json_is_held_to_the_official_release(tmp_path):
    root = make_tree(tmp_path / "official", declared=False)
    report = verify(root)
    assert report.mode == "official" and report.expected_size == (640, 512)
    assert problems(report)[0] == ("imgs", "5 clean frames, expected 1503")
    assert ("imgs/a.png", "size 20x16, expected 640x512") in problems(report)
    assert verify(root, size=None).problems == [report.problems[0]]


def test_parse_size_and_bad_root(tmp_path):
    assert parse_size("640x512") == (640, 512) and parse_size("ANY") is None and parse_size(None) == "auto"
    with pytest.raises(HmtirError, match=r"--size must look like 640x512 or 'any', not '640'"):
        parse_size("640")
    with pytest.raises(HmtirError, match=r"is not a directory"):
        verify(tmp_path / "nope")


def test_cli_verify(tree):
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(tree), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert "5 clean frames, 3 test names, 5/5 subsets, 20 images read" in ok.output and "OK" in ok.output

    (tree / "single/blur/d.png").unlink()
    bad = runner.invoke(cli, ["verify", str(tree), "--no-progress"])
    assert bad.exit_code == 1
    assert (
        "1 problem(s)" in bad.output
        and "single/blur/d.png" in bad.output
        and "test image missing" in bad.output
    )
