"""``hmtir synthesize``: layout, bit depth, determinism across workers, manifest replay, resume, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.layout import read_scenes, split_names
from hmtir.degrade.synthesize import synthesize
from hmtir.errors import HmtirError
from hmtir.io.image import read_image, write_image
from hmtir.vocabulary import SUBSETS
from tests.trees import tree_bytes


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48] / 48.0
    for i in range(3):
        frame = np.clip(0.2 + 0.3 * xx * (i + 1) / 3 + 0.05 * rng.random((40, 48)), 0, 1).astype(np.float32)
        write_image(folder / f"frame{i}.png", frame, 8)
    write_image(folder / "deep.tif", np.clip(0.3 + 0.4 * yy, 0, 1).astype(np.float32), 16)
    write_image(folder / "photo.jpg", np.full((40, 48), 0.4, np.float32), 8)
    (folder / "scenes.csv").write_text("name,scene\nframe0.png,street\nphoto.jpg,field\n")
    return folder


def test_writes_the_hm_tir_layout(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = synthesize(source, out, progress=False)
    names = ["deep.tif", "frame0.png", "frame1.png", "frame2.png", "photo.png"]
    assert split_names(out) == names
    for folder in ["imgs", *SUBSETS]:
        assert sorted(p.name for p in (out / folder).iterdir()) == names
    assert read_image(out / "imgs" / "deep.tif").bit_depth == 16
    assert read_image(out / "composited" / "hard" / "deep.tif").bit_depth == 16
    assert read_image(out / "single" / "noise" / "photo.png").bit_depth == 8
    assert np.array_equal(
        read_image(out / "imgs" / "frame1.png").data, read_image(source / "frame1.png").data
    )
    assert read_scenes(out) == {"frame0.png": "street", "photo.png": "field"}
    records = [json.loads(line) for line in (out / "meta" / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 25 and {r["subset"] for r in records} == set(SUBSETS)
    first = records[0]
    assert first["params"]["ops"]["contrast"].keys() >= {"applied", "alpha", "beta", "c"}
    assert first["seed"] == 0 and len(first["seed_material"]) == 3
    provenance = json.loads((out / "meta" / "dataset.json").read_text())
    assert provenance["seed"] == 0 and provenance["gate"] == 0.8 and len(provenance["presets"]) == 5
    assert report.written == 25 and report.skipped == 0 and report.images == 5
    assert report.subsets["composited/hard"].mean_psnr < report.subsets["single/blur"].mean_psnr


def test_same_seed_is_byte_identical_across_worker_counts(source: Path, tmp_path: Path) -> None:
    synthesize(source, tmp_path / "one", presets=["hard", "single-noise"], workers=1, progress=False)
    synthesize(source, tmp_path / "two", presets=["hard", "single-noise"], workers=2, progress=False)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    synthesize(source, tmp_path / "other", presets=["hard"], seed=1, progress=False)
    a, b = (read_image(tmp_path / d / "composited/hard/frame0.png").data for d in ("one", "other"))
    assert not np.array_equal(a, b)


def test_manifest_replay_recreates_identical_images(source: Path, tmp_path: Path) -> None:
    synthesize(source, tmp_path / "a", presets=["normal", "single-blur"], seed=4, gate=0.5, progress=False)
    manifest = tmp_path / "a" / "meta" / "manifest.jsonl"
    synthesize(source, tmp_path / "b", from_manifest=manifest, progress=False)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    provenance = json.loads((tmp_path / "b" / "meta" / "dataset.json").read_text())
    assert (provenance["seed"], provenance["gate"]) == (4, 0.5)  # what was replayed, not the defaults


def test_resume_redoes_only_missing_work_and_cleans_partials(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    synthesize(source, out, presets=["hard", "normal"], progress=False)
    before = tree_bytes(out)
    (out / "composited" / "hard" / "frame1.png").unlink()
    (out / "imgs" / "deep.tif").unlink()
    (out / "composited" / "normal" / ".frame2.png.abc123.part.png").write_bytes(b"half a file")
    manifest = out / "meta" / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    dropped = [
        r
        for r in lines
        if json.loads(r)["name"] == "photo.png" and json.loads(r)["subset"].endswith("normal")
    ]
    manifest.write_text("\n".join(line for line in lines if line not in dropped) + '\n{"name": "torn')
    report = synthesize(source, out, presets=["hard", "normal"], progress=False)
    assert report.written == 2 and report.skipped == 8  # frame1/hard and photo/normal
    assert tree_bytes(out) == before
    assert not list(out.rglob("*.part*"))


def test_bad_inputs_are_one_line_errors(source: Path, tmp_path: Path) -> None:
    with pytest.raises(HmtirError, match=r"source folder .*nowhere does not exist"):
        synthesize(tmp_path / "nowhere", tmp_path / "out", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HmtirError, match=r"no images .* in source folder .*empty"):
        synthesize(tmp_path / "empty", tmp_path / "out", progress=False)
    (source / "broken.png").write_bytes(b"not a png")
    with pytest.raises(HmtirError, match=r"cannot read image .*broken.png: not a valid image file"):
        synthesize(source, tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").rglob("*.part*"))
    with pytest.raises(HmtirError, match="--gate must be between 0 and 1, got 1.5"):
        synthesize(source, tmp_path / "out", gate=1.5, progress=False)


def test_cli_runs_and_prints_a_summary_table(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "synthesize",
        "--source",
        str(source),
        "--out",
        str(out),
        "--preset",
        "hard,single-blur",
        "--seed",
        "2",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (
        "composited/hard" in result.output and "single/blur" in result.output and "mean PSNR" in result.output
    )
    assert "5 frames: 10 outputs written, 0 already complete." in result.output
    again = CliRunner().invoke(cli, args)
    assert "10 already complete" in again.output


def test_cli_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        cli, ["synthesize", "--source", str(tmp_path / "none"), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [
        f"Error: source folder {tmp_path / 'none'} does not exist (pass --source DIR with clean frames)"
    ]
    bad = CliRunner().invoke(
        cli, ["synthesize", "--source", str(tmp_path), "--out", "o", "--preset", "medium"]
    )
    assert bad.exit_code == 2 and "'medium' is not one of all, normal, hard" in bad.output


def test_synthesize_command_does_not_import_torch(source: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from click.testing import CliRunner; from hmtir.cli import cli; "
        f"r = CliRunner().invoke(cli, ['synthesize', '--source', {str(source)!r}, '--out', {str(tmp_path / 'o')!r},"
        " '--preset', 'hard']); assert r.exit_code == 0, r.output; print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
