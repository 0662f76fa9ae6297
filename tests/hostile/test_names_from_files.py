"""Names read from files hmtir did not write stay inside their folder (issue 12, items 3 and 7).

A synthesis manifest, a split list (``meta/test.txt``/``train.txt``), ``meta/scenes.csv`` and a source
folder's ``scenes.csv`` may come from anyone. Every name in them must be a plain file name; anything else
is refused in one line naming the file and the entry, before anything is written — by the library and by
the CLI (exit 1, no traceback). The checks are the shared ones of ``hmtir.io.safety``; these cases only
prove each reader goes through them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.datasets import TestSubset, TrainFrames
from hmtir.data.layout import read_scenes, split_names
from hmtir.data.verify import verify
from hmtir.degrade.synthesize import synthesize
from hmtir.errors import HmtirError
from hmtir.io.image import write_image


def files_outside(root: Path, inside: Path) -> dict[str, bytes]:
    """Every file under ``root`` that is not under ``inside`` (to prove nothing was written there)."""
    return {
        str(p): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and inside not in p.parents and p != inside
    }


def edit_first(manifest: Path, **changes: object) -> None:
    lines = manifest.read_text().splitlines()
    record = json.loads(lines[0])
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    lines[0] = json.dumps(record)
    manifest.write_text("\n".join(lines) + "\n")


def one_line(result) -> str:  # noqa: ANN001 - click's Result
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


MANIFEST_CASES = [
    ({"name": "../escape.png"}, "refusing entry '../escape.png': escapes its folder"),
    ({"name": "{tmp}/escape.png"}, "refusing entry '{tmp}/escape.png': is an absolute path"),
    ({"name": "sub/a.png"}, "refusing entry 'sub/a.png': contains a folder separator"),
    ({"name": "a\nb.png"}, "refusing entry 'a\\nb.png': contains control or invisible characters"),
    ({"name": ".hidden.png"}, "names a hidden file"),
    ({"name": 7}, "a int, not a text name"),
    ({"name": "a.jpg"}, "'a.jpg': degraded frames are written losslessly (.png, .tif, .tiff)"),
    ({"source": "../src/a.png"}, "refusing entry '../src/a.png': escapes its folder"),
    ({"source": "/etc/passwd"}, "refusing entry '/etc/passwd': is an absolute path"),
    ({"subset": "composited/evil", "preset": None}, "unknown subset 'composited/evil'"),
    ({"preset": "medium"}, "unknown degradation preset 'medium'"),
    ({"preset": "hard", "subset": "single/blur"}, "subset 'single/blur' is not the subset of preset 'hard'"),
    ({"params": "x"}, "params must be a JSON object"),
    ({"params": {"ops": {"nope": {}}}}, "params of 'a.png' (composited/hard) are malformed"),
]


@pytest.mark.parametrize(("changes", "message"), MANIFEST_CASES, ids=[m[:40] for _, m in MANIFEST_CASES])
def test_hostile_manifest_records_are_refused_before_anything_is_written(
    source: Path, manifest: Path, tmp_path: Path, changes: dict, message: str
) -> None:
    changes = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in changes.items()}
    message = message.format(tmp=tmp_path)
    edit_first(manifest, **changes)
    out = tmp_path / "out"
    before = files_outside(tmp_path, out)
    with pytest.raises(HmtirError) as info:
        synthesize(source, out, from_manifest=manifest, progress=False)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert text.startswith(f"{manifest}"), text  # names the file (and the line)
    assert files_outside(tmp_path, out) == before
    assert not (out / "composited").exists()  # refused before any image was made

    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(out), "--from-manifest", str(manifest)]
    )
    assert message in one_line(result)


def test_a_manifest_naming_one_output_twice_or_from_two_sources_is_refused(
    source: Path, manifest: Path, tmp_path: Path
) -> None:
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(HmtirError, match=r"manifest.jsonl: 'a.png' \(composited/hard\) is recorded twice"):
        synthesize(source, tmp_path / "out", from_manifest=manifest, progress=False)
    other = json.loads(lines[0]) | {"subset": "single/blur", "preset": "single-blur", "source": "b.png"}
    manifest.write_text("\n".join([*lines, json.dumps(other)]) + "\n")
    with pytest.raises(HmtirError, match=r"'a.png' is made from both 'a.png' and 'b.png'"):
        synthesize(source, tmp_path / "out", from_manifest=manifest, progress=False)


def test_a_manifest_that_is_not_utf8_text_is_one_line(source: Path, tmp_path: Path) -> None:
    bad = tmp_path / "manifest.jsonl"
    bad.write_bytes(b'{"name": "\xff\xfe"}\n')
    with pytest.raises(HmtirError, match=r"manifest.jsonl: not UTF-8 text"):
        synthesize(source, tmp_path / "out", from_manifest=bad, progress=False)


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("../../etc/passwd", "refusing entry '../../etc/passwd': escapes its folder"),
        ("/etc/passwd", "is an absolute path"),
        ("sub/a.png", "contains a folder separator"),
        ("a\x1b[2Jb.png", "contains control or invisible characters"),
    ],
)
def test_hostile_split_lists_are_refused_at_the_shared_reader(
    tmp_path: Path, listed: str, message: str
) -> None:
    root = tmp_path / "tree"
    write_image(root / "imgs" / "a.png", np.zeros((16, 16), np.float32))
    for split in ("test", "train"):
        listing = root / "meta" / f"{split}.txt"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(f"a.png\n{listed}\n")
        with pytest.raises(HmtirError) as info:
            split_names(root, split)
        assert str(info.value).startswith(f"{listing}: refusing entry ") and message in str(info.value)
    with pytest.raises(HmtirError, match=re.escape(message)):
        TrainFrames(root, crop=8)
    (root / "composited" / "normal").mkdir(parents=True)
    with pytest.raises(HmtirError, match=re.escape(message)):
        TestSubset(root, "composited/normal")
    report = verify(root, size=None)  # verify reports it as a problem instead of stopping
    assert any(p.path == "meta/test.txt" and message in p.problem for p in report.problems)
    result = CliRunner().invoke(cli, ["verify", str(root), "--size", "any", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "refusing entry" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("name,scene\n../x.png,street\n", "refusing entry '../x.png': escapes its folder"),
        ('name,scene\na.png,"street\nrm -rf"\n', "scene label 'street\\nrm -rf' contains control characters"),
        ("name,label\na.png,street\n", "expected a CSV with columns name,scene"),
        ("name,scene\na.png\n", "row 2 has no scene"),
    ],
)
def test_hostile_scene_lists_are_refused(source: Path, tmp_path: Path, csv_text: str, message: str) -> None:
    root = tmp_path / "tree"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "scenes.csv").write_text(csv_text)
    with pytest.raises(HmtirError) as info:
        read_scenes(root)
    assert str(info.value).startswith(f"{root / 'meta' / 'scenes.csv'}: ") and message in str(info.value)

    (source / "scenes.csv").write_text(csv_text)
    with pytest.raises(HmtirError) as info:
        synthesize(source, tmp_path / "out", progress=False)
    assert str(info.value).startswith(f"{source / 'scenes.csv'}: ") and message in str(info.value)
    assert not (tmp_path / "out" / "composited").exists()


def test_a_source_image_with_a_newline_in_its_name_is_refused_at_synthesis(
    source: Path, tmp_path: Path
) -> None:
    write_image(source / "evil\n.png", np.zeros((24, 32), np.float32), 8)
    out = tmp_path / "out"
    with pytest.raises(HmtirError) as info:
        synthesize(source, out, progress=False)
    assert str(info.value) == (
        f"{source}: refusing entry 'evil\\n.png': contains control or invisible characters"
    )
    assert not out.exists()
    result = CliRunner().invoke(cli, ["synthesize", "--source", str(source), "--out", str(out)])
    assert "refusing entry 'evil\\n.png'" in one_line(result)


@pytest.mark.parametrize("seed", ["-1", str(2**63), "-9223372036854775809"])
def test_a_seed_outside_what_the_generator_takes_is_one_line(source: Path, tmp_path: Path, seed: str) -> None:
    message = f"--seed must be a whole number from 0 to 2**63-1, got {seed}"
    with pytest.raises(HmtirError) as info:
        synthesize(source, tmp_path / "out", seed=int(seed), progress=False)
    assert str(info.value) == message
    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(tmp_path / "out"), "--seed", seed]
    )
    assert one_line(result) == f"Error: {message}"
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_one_line_and_left_alone(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    with pytest.raises(HmtirError, match=r"--out .*out.txt: .*out.txt is a file, not a folder"):
        synthesize(source, target, progress=False)
    result = CliRunner().invoke(cli, ["synthesize", "--source", str(source), "--out", str(target)])
    assert "is a file, not a folder" in one_line(result)
    assert target.read_text() == "keep me"

    out = tmp_path / "out"
    (out / "meta").parent.mkdir()
    (out / "meta").write_text("not a folder")
    result = CliRunner().invoke(cli, ["synthesize", "--source", str(source), "--out", str(out)])
    assert one_line(result) == f"Error: --out {out / 'meta'}: {out / 'meta'} is a file, not a folder"
    assert (out / "meta").read_text() == "not a folder"
