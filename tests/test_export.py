"""``hmtir export --format hf``: a Hugging Face dataset folder (Parquet configs, typed parameters, card) and
``--push`` to a Hub stand-in on 127.0.0.1 (tests/hub_server.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.export import attribution, export_hf, manifest_record, push_hf, split_name
from hmtir.data.scenes import make_scenes
from hmtir.degrade.synthesize import synthesize
from hmtir.errors import HmtirError
from hmtir.io.image import read_image, write_image
from hmtir.vocabulary import SUBSETS
from tests.hub_server import HubStandIn

TRAIN = ["spare_a.png", "spare_b.png"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    """A real synthesised tree: 8 procedural scenes + one 16-bit TIFF, all five subsets, and two training
    frames listed in meta/train.txt."""
    base = tmp_path_factory.mktemp("bench")
    make_scenes(base / "src", per_category=1, size=(32, 40))
    yy = np.mgrid[0:32, 0:40][0] / 32.0
    write_image(base / "src" / "deep.tif", np.clip(0.2 + 0.5 * yy, 0, 1).astype(np.float32), 16)
    synthesize(base / "src", base / "tree", presets="all", gate=0.8, seed=3, progress=False)
    rng = np.random.default_rng(1)
    for name in TRAIN:
        write_image(base / "tree" / "imgs" / name, rng.random((32, 40)).astype(np.float32), 8)
    (base / "tree" / "meta" / "train.txt").write_text("".join(f"{n}\n" for n in TRAIN))
    return base / "tree"


def copy_tree(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest)
    return dest


def manifest(tree: Path) -> dict[tuple[str, str], dict]:
    records = [json.loads(line) for line in (tree / "meta/manifest.jsonl").read_text().splitlines()]
    return {(r["name"], r["subset"]): r for r in records}


def front_matter(out: Path) -> tuple[dict, str]:
    text = (out / "README.md").read_text()
    _, head, body = text.split("---\n", 2)
    return yaml.safe_load(head), body


def pixels(path: Path) -> np.ndarray:
    """The file's integer pixels, via hmtir's reader (not the decoder datasets uses)."""
    image = read_image(path)
    return np.rint(image.data * (2**image.bit_depth - 1))


def test_round_trip_through_load_dataset(bench, tmp_path, monkeypatch):
    import datasets

    # a file named like a frame in the working directory must not turn embedded bytes into a path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.tif").write_bytes(b"not the frame")
    out = tmp_path / "hf"
    report = export_hf(bench, out, max_shard_bytes=4000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.tif", "hf"]  # no staging left behind
    head, body = front_matter(out)  # deep.tif is no procedural scene: the source licence is not known
    assert head["license"] == "unknown" and "**Not recorded.**" in body and "--source NAME" in body
    test = (bench / "meta/test.txt").read_text().split()
    records = manifest(bench)

    degraded = datasets.load_dataset(str(out), "degraded", cache_dir=str(tmp_path / "cache"))
    assert list(degraded) == [split_name(s) for s in SUBSETS]
    features = degraded["composited_normal"].features
    ops = features["params"]["ops"]
    assert (ops["blur"]["sigma"].dtype, ops["blur"]["ksize"].dtype, ops["blur"]["applied"].dtype) == (
        "float64",
        "int64",
        "bool",
    )
    assert (ops["stripe"]["axis"].dtype, ops["nonuniformity"]["inverted"].dtype) == ("string", "bool")
    assert "clean" not in features  # clean targets are not repeated in degraded rows
    for subset in SUBSETS:
        split = degraded[split_name(subset)]
        assert split["name"] == test
        raw = split.cast_column("image", datasets.Image(decode=False))
        for row, stored in zip(split, raw):
            record = records[(row["name"], subset)]
            assert manifest_record(row) == record  # every manifest field, equal values
            info = SUBSETS[subset]
            assert (row["degradation"], row["scenario"]) == (info.degradation, info.scenario)
            frame = bench / subset / row["name"]
            assert stored["image"]["bytes"] == frame.read_bytes()
            assert np.array_equal(np.asarray(row["image"]), pixels(frame))
    assert degraded["single_blur"][0]["params"]["ops"]["contrast"] is None  # not an op of that preset
    assert {r["bit_depth"] for r in degraded["single_noise"]} == {8, 16}

    clean = datasets.load_dataset(str(out), "clean", cache_dir=str(tmp_path / "cache"))
    assert clean["test"]["name"] == test and clean["train"]["name"] == TRAIN
    for split in clean.values():
        for row in split:
            assert np.array_equal(np.asarray(row["image"]), pixels(bench / "imgs" / row["name"]))

    # each clean frame once: the Parquet shards hold exactly the tree's image bytes, nothing twice
    stored = 0
    for shard in out.rglob("*.parquet"):
        stored += sum(
            len(cell["bytes"]) for cell in pq.read_table(shard, columns=["image"])["image"].to_pylist()
        )
    files = [bench / s / n for s in SUBSETS for n in test] + [bench / "imgs" / n for n in test + TRAIN]
    assert stored == sum(f.stat().st_size for f in files)
    shards = {s.split: s.shards for s in report.splits}
    assert (
        shards["composited_hard"] > 1
        and len(list(out.glob("degraded/composited_hard-*"))) == shards["composited_hard"]
    )


def test_card_front_matter_and_body(bench, tmp_path):
    tree = copy_tree(bench, tmp_path / "tree")
    prov = json.loads((tree / "meta/dataset.json").read_text())
    prov["source"] = "/data/HIT-UAV/HIT-UAV-Infrared-Thermal-Dataset-main/normal_json/train"
    prov["generator"] = "evil | <b>x</b>\n## heading"  # text from the tree stays inert in the card
    (tree / "meta/dataset.json").write_text(json.dumps(prov))
    report = export_hf(tree, tmp_path / "hf", ["normal", "blur"], repo="someone/tir")
    head, body = front_matter(report.out)
    assert head["license"] == "cc-by-4.0" and head["task_categories"] == ["image-to-image"]
    assert head["size_categories"] == ["n<1K"] and "synthetic" in head["tags"]
    configs = {c["config_name"]: c for c in head["configs"]}
    assert configs["degraded"]["default"] is True
    assert [f["split"] for f in configs["degraded"]["data_files"]] == ["composited_normal", "single_blur"]
    assert [f["split"] for f in configs["clean"]["data_files"]] == ["test", "train"]
    infos = {i["config_name"]: i for i in head["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in infos["clean"]["splits"]} == {"test": 9, "train": 2}
    params = next(f for f in infos["degraded"]["features"] if f["name"] == "params")
    assert "struct" in params  # typed fields, not a string
    # body: licence and attribution taken from the registry entry the recorded folder matched
    assert (
        "CC BY 4.0" in body
        and "Suo et al., HIT-UAV" in body
        and "folder named HIT-UAV, as hmtir download" in body
    )
    assert "@inproceedings{liu2025enhancing" in body and "Jinyuan Liu and Zihang Chen" in body
    digest = __import__("hashlib").sha256((tree / "meta/manifest.jsonl").read_bytes()).hexdigest()
    assert f"| seed | {prov['seed']} |" in body and "| gate (probability each op fires) | 0.8 |" in body
    assert f"| hmtir version | {prov['hmtir_version']} |" in body and digest in body
    assert 'load_dataset("someone/tir", "degraded"' in body and "$" not in body.replace("$HMTIR", "")
    assert "/data/HIT-UAV" not in body  # the local path is not published, only the folder's name
    assert r"| generator | evil \| &lt;b&gt;x&lt;/b&gt; ## heading |" in body and "<b>" not in body


def test_attribution_comes_from_the_tree(bench, tmp_path):
    tree = copy_tree(bench, tmp_path / "tree")
    prov = json.loads((tree / "meta/dataset.json").read_text())
    unknown = attribution(tree, prov)  # deep.tif is no procedural scene and the folder matches nothing
    assert (unknown.source, unknown.hf_license) == (None, "unknown")
    # the same tree without deep.tif: every frame is a procedural scene
    test = [n for n in (tree / "meta/test.txt").read_text().split() if n != "deep.tif"]
    (tree / "meta/test.txt").write_text("".join(f"{n}\n" for n in test))
    (tree / "meta/train.txt").unlink()
    scenes = attribution(tree, prov)
    assert (scenes.source, scenes.hf_license) == ("hmtir-scenes", "mit")
    official = attribution(tree, None)  # no dataset.json: the official release's layout
    assert (official.source, official.official, official.hf_license) == ("hm-tir", True, "other")
    assert official.license_link == "https://github.com/Zihang-Chen/HM-TIR"
    stated = attribution(tree, prov, "hit-uav")
    assert (stated.hf_license, stated.how) == ("cc-by-4.0", "stated by the exporter (--source)")
    with pytest.raises(HmtirError, match=r"unknown source 'nope' \(datasets: .*hit-uav.*hmtir-scenes\)"):
        attribution(tree, prov, "nope")


def test_official_release_layout_exports_with_null_parameters(bench, tmp_path):
    import datasets

    tree = copy_tree(bench, tmp_path / "tree")
    (tree / "meta/dataset.json").unlink()
    (tree / "meta/manifest.jsonl").unlink()
    out = export_hf(tree, tmp_path / "hf", ["hard"]).out
    head, body = front_matter(out)
    assert (head["license"], head["license_link"]) == ("other", "https://github.com/Zihang-Chen/HM-TIR")
    assert "synthetic" not in head["tags"] and "no `meta/manifest.jsonl`" in body
    rows = datasets.load_dataset(str(out), "degraded", split="composited_hard", cache_dir=str(tmp_path / "c"))
    assert rows[0]["params"] is None and rows[0]["preset"] == "hard" and rows[0]["seed"] is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["params"]["ops"]["blur"].update(sigmaa=1.0),
            r"params\.ops\.blur has unknown field 'sigmaa'",
        ),
        (
            lambda r: r["params"]["ops"]["blur"].update(ksize="7"),
            r"params\.ops\.blur\.ksize is '7', expected int64",
        ),
        (lambda r: r["params"]["ops"].update(fog={}), r"params\.ops has unknown field 'fog'"),
        (lambda r: r["params"]["ops"]["blur"].update(applied=1), r"applied is 1, expected bool"),
        (lambda r: r.update(params="{}"), r"params is str, expected a mapping"),
        (lambda r: r.update(extra=1), r"has unknown field 'extra'"),
    ],
)
def test_manifest_values_outside_the_schema_are_refused(bench, tmp_path, edit, message):
    tree = copy_tree(bench, tmp_path / "tree")
    lines = (tree / "meta/manifest.jsonl").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"single/blur"' in line)
    record = json.loads(lines[at])
    edit(record)
    lines[at] = json.dumps(record)
    (tree / "meta/manifest.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(HmtirError, match=rf"manifest\.jsonl line {at + 1}: .*{message}"):
        export_hf(tree, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_out_is_atomic_and_never_clobbered_by_accident(bench, tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(HmtirError, match=r"already exists; choose another --out or pass --overwrite"):
        export_hf(bench, out)
    for inside in (bench / "hf", bench, bench.parent):  # an --out that is, holds or lies in the tree
        with pytest.raises(HmtirError, match=r"overlaps the tree"):
            export_hf(bench, inside, overwrite=True)

    # a failure halfway through writing (the last clean frame cannot be read) leaves the old --out alone
    tree = copy_tree(bench, tmp_path / "tree")
    (tree / "imgs" / TRAIN[-1]).unlink()
    (tree / "imgs" / TRAIN[-1]).mkdir()
    with pytest.raises(HmtirError, match=rf"cannot read .*{TRAIN[-1]}"):
        export_hf(tree, out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "tree"]  # the staging folder is gone

    export_hf(bench, out, ["noise"], overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "clean", "degraded"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "tree"]


def test_cli_prints_a_summary_and_errors_in_one_line(bench, tmp_path):
    runner = CliRunner()
    out = tmp_path / "o"
    result = runner.invoke(cli, ["export", str(bench), "--out", str(out), "--subsets", "normal,noise"])
    assert result.exit_code == 0, result.output
    assert "composited_normal" in result.output and "single_noise" in result.output
    assert "licence: not recorded" in result.output and "name it with --source" in result.output
    front, _ = front_matter(out)
    assert [c["config_name"] for c in front["configs"]] == ["clean", "degraded"]
    for args, message in (
        (["--out", str(out)], "already exists"),
        (["--out", str(tmp_path / "p"), "--source", "nope"], "unknown source 'nope'"),
        (["--out", str(tmp_path / "p"), "--push", "not a repo"], "cannot push to 'not a repo'"),
        (["--out", str(tmp_path / "p"), "--push", "lonely"], "name the owner too"),
    ):
        result = runner.invoke(cli, ["export", str(bench), *args])
        assert result.exit_code == 1 and "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "p").exists()


def test_push_uploads_the_export_byte_for_byte(bench, tmp_path, monkeypatch):
    with HubStandIn() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.delenv("HMTIR_HF_ENDPOINT", raising=False)
        monkeypatch.setenv("HF_TOKEN", hub.token)
        out = tmp_path / "hf"
        result = CliRunner().invoke(
            cli,
            [
                "export",
                str(bench),
                "--out",
                str(out),
                "--source",
                "hmtir-scenes",
                "--push",
                "lab/hm-tir-demo",
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"pushed to {hub.url}/datasets/lab/hm-tir-demo" in result.output
        exported = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert hub.repos["lab/hm-tir-demo"] == exported and hub.repo_types["lab/hm-tir-demo"] == "dataset"
        assert set(exported) >= {"README.md", "clean/test-00000-of-00001.parquet"}
        assert hub.calls == ["create", "validate-yaml", "preupload", "commit"] and hub.unexpected == []
        assert 'load_dataset("lab/hm-tir-demo"' in exported["README.md"].decode()

        # the repo exists now (409, exist_ok): a second push of the same folder goes through too
        push_hf(out, "lab/hm-tir-demo")
        assert hub.calls[4:] == ["create", "validate-yaml", "preupload", "commit"] and len(hub.commits) == 2


def test_push_failures_are_one_line_naming_the_repo(bench, tmp_path, monkeypatch):
    out = export_hf(bench, tmp_path / "hf", ["blur"]).out
    monkeypatch.delenv("HMTIR_HF_ENDPOINT", raising=False)
    with HubStandIn() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_wrong")
        with pytest.raises(HmtirError) as refused:
            push_hf(out, "lab/tir")
        text = str(refused.value)
        assert "lab/tir failed: HTTP 401 (the token was refused)" in text and "\n" not in text
        assert f"retry with `hf upload lab/tir {out} --repo-type dataset`" in text
        monkeypatch.setenv("HF_TOKEN", hub.token)
        hub.fail["commit"] = 403
        with pytest.raises(
            HmtirError, match=r"dataset lab/tir failed: HTTP 403 \(no write access\): commit refused"
        ):
            push_hf(out, "lab/tir")
        assert hub.repos["lab/tir"] == {}
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HmtirError, match=r"^push to Hugging Face dataset lab/tir failed: Connect\w*Error"):
        push_hf(out, "lab/tir")


def test_export_does_not_import_torch(bench, tmp_path):
    code = (
        "import sys; from hmtir.data.export import export_hf; "
        f"export_hf({str(bench)!r}, {str(tmp_path / 'o')!r}); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_push_without_a_token_fails_before_exporting(bench, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT="http://127.0.0.1:9")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmtir",
            "export",
            str(bench),
            "--out",
            str(tmp_path / "o"),
            "--push",
            "lab/tir",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "Error: cannot push to Hugging Face dataset lab/tir: no token (set HF_TOKEN or run `hf auth login`)"
    )
    assert not (tmp_path / "o").exists()
