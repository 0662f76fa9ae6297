"""Parameters read from a manifest obey each op's schema, the rule the presets obey (issue "Trust, round 3", 5).

A ``--from-manifest`` file may come from anyone. Every recorded parameter must have its op's type, be
finite and lie where some preset samples it (or, for the fields a preset does not set, where it is
physically valid); otherwise the run stops in one line naming the manifest, the line, the frame, the op
and the parameter, before anything is written. NaN and Infinity are never written back as "JSON".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.degrade.presets import parse_presets
from hmtir.degrade.synthesize import synthesize
from hmtir.errors import HmtirError
from tests.trees import tree_digest

PRESETS_YAML = Path(__file__).resolve().parents[2] / "hmtir" / "degrade" / "presets.yaml"


def strict_json(line: str) -> object:
    """``json.loads`` without the NaN/Infinity extension Python's json accepts by default."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def edit_params(manifest: Path, edit) -> None:  # noqa: ANN001 - a function of the first record
    lines = manifest.read_text().splitlines()
    record = json.loads(lines[0])
    edit(record)
    lines[0] = json.dumps(record)  # Python's json writes NaN/Infinity, as a hostile file may hold them
    manifest.write_text("\n".join(lines) + "\n")


def set_param(op: str, key: str, value: object):  # noqa: ANN201
    def edit(record: dict) -> None:
        record["params"]["ops"][op][key] = value

    return edit


def drop_param(op: str, key: str):  # noqa: ANN201
    return lambda record: record["params"]["ops"][op].pop(key)


PARAM_CASES = [
    ("blur", "sigma", math.nan, "blur.sigma must be finite, got NaN"),
    ("blur", "sigma", -1.0, "blur.sigma must be from 0.9 to 3, got -1.0"),
    ("blur", "sigma", 0.0, "blur.sigma must be from 0.9 to 3, got 0.0"),
    ("contrast", "beta", "0.5", 'contrast.beta must be a number, got "0.5"'),
    ("contrast", "c", None, "contrast.c must be a number, got null"),
    ("contrast", "alpha", 5.0, "contrast.alpha must be from 0 to 1, got 5.0"),
    ("contrast", "alpha", 0.95, "contrast.alpha must be 1 + c = "),
    ("gaussian", "applied", "no", 'gaussian.applied must be true or false, got "no"'),
    ("gaussian", "applied", 0, "gaussian.applied must be true or false, got 0"),
    ("blur", "ksize", True, "blur.ksize must be a whole number, got true"),
    ("blur", "ksize", 9.0, "blur.ksize must be a whole number, got 9.0"),
    ("blur", "ksize", 8, "blur.ksize must be odd, got 8"),
    ("blur", "ksize", 101, "blur.ksize must be from 7 to 23, got 101"),
    ("gaussian", "variance", math.inf, "gaussian.variance must be finite, got Infinity"),
    ("gaussian", "variance", -math.inf, "gaussian.variance must be finite, got -Infinity"),
    ("gaussian", "variance", 1e9, "gaussian.variance must be from 22.5 to 400, got 1000000000.0"),
    ("stripe", "axis", "diag", 'stripe.axis must be one of "column", "row", got "diag"'),
    ("stripe", "axis", ["column"], 'stripe.axis must be one of "column", "row", got ["column"]'),
    ("stripe", "noise_seed", -1, "stripe.noise_seed must be from 0 to 2147483647, got -1"),
    ("gaussian", "noise_seed", 2**70, f"gaussian.noise_seed must be from 0 to 2147483647, got {2**70}"),
    ("gaussian", "noise_seed", 2**31, f"gaussian.noise_seed must be from 0 to 2147483647, got {2**31}"),
    ("nonuniformity", "centre_x", 1.5, "nonuniformity.centre_x must be from 0 to 1, got 1.5"),
    ("nonuniformity", "delta", 14.5, "nonuniformity.delta must be a whole number, got 14.5"),
    ("nonuniformity", "delta", 300, "nonuniformity.delta must be from 14 to 75, got 300"),
    ("nonuniformity", "inverted", "yes", 'nonuniformity.inverted must be true or false, got "yes"'),
    ("stripe", "gain_std", {"x": 1}, 'stripe.gain_std must be a number, got {"x": 1}'),
    ("stripe", "extra", 1, "stripe has unknown parameter 'extra'"),
]
BLOCK_CASES = [
    (drop_param("blur", "sigma"), "blur lacks parameter 'sigma'"),
    (drop_param("gaussian", "applied"), "gaussian lacks parameter 'applied'"),
    (lambda r: r["params"]["ops"].pop("gaussian"), "'ops' must be those of preset \"hard\""),
    (
        lambda r: r["params"].update(preset="normal"),
        '\'preset\' must be "hard" (the record\'s), got "normal"',
    ),
    (lambda r: r["params"].update(preset_version="1"), "'preset_version' must be a whole number from 1"),
    (lambda r: r["params"].update(gate=math.nan), "'gate' must be a number from 0 to 1"),
]


def refused(source: Path, manifest: Path, tmp_path: Path, message: str) -> str:
    """The library and the CLI both stop in one line holding ``message``; nothing is written."""
    out = tmp_path / "out"
    before = tree_digest(tmp_path)
    with pytest.raises(HmtirError) as info:
        synthesize(source, out, from_manifest=manifest, progress=False)
    text = str(info.value)
    assert message in text and "\n" not in text, text
    assert tree_digest(tmp_path) == before and not out.exists()
    result = CliRunner().invoke(
        cli, ["synthesize", "--source", str(source), "--out", str(out), "--from-manifest", str(manifest)]
    )
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
    assert result.output.strip().splitlines() == [f"Error: {text}"], result.output
    assert tree_digest(tmp_path) == before
    return text


@pytest.mark.parametrize(("op", "key", "value", "message"), PARAM_CASES, ids=[c[3][:45] for c in PARAM_CASES])
def test_a_hostile_parameter_names_manifest_line_frame_op_and_parameter(
    source: Path, manifest: Path, tmp_path: Path, op: str, key: str, value: object, message: str
) -> None:
    edit_params(manifest, set_param(op, key, value))
    text = refused(source, manifest, tmp_path, message)
    assert text.startswith(f"{manifest} line 1: params of 'a.png' (composited/hard) are malformed: {op}"), (
        text
    )


@pytest.mark.parametrize(("edit", "message"), BLOCK_CASES, ids=[c[1][:40] for c in BLOCK_CASES])
def test_a_parameter_block_missing_or_adding_parts_is_refused(
    source: Path,
    manifest: Path,
    tmp_path: Path,
    edit,
    message: str,  # noqa: ANN001
) -> None:
    edit_params(manifest, edit)
    text = refused(source, manifest, tmp_path, message)
    assert text.startswith(f"{manifest} line 1: params of 'a.png' (composited/hard) are malformed: "), text


@pytest.mark.parametrize("material", [[math.nan, 1, 2], [1, 2], [-1, 2, 3], "0", [2**64, 1, 2]])
def test_seed_material_copied_into_the_new_manifest_is_checked(
    source: Path, manifest: Path, tmp_path: Path, material: object
) -> None:
    edit_params(manifest, lambda r: r.update(seed_material=material))
    text = refused(source, manifest, tmp_path, "seed_material must be three whole numbers from 0 to 2**64-1")
    assert text.startswith(f"{manifest} line 1: "), text


def test_a_genuine_manifest_still_replays_to_the_same_images(
    source: Path, manifest: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    synthesize(source, out, from_manifest=manifest, progress=False)
    for name in ("a.png", "b.png"):
        assert (out / "composited" / "hard" / name).read_bytes() == (
            tmp_path / "ref" / "composited" / "hard" / name
        ).read_bytes()


def test_a_nan_in_the_output_folders_own_manifest_is_redone_never_written_back(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    synthesize(source, out, presets=["hard"], progress=False)
    own = out / "meta" / "manifest.jsonl"
    reference = own.read_text()
    lines = reference.splitlines()
    for i, edit in enumerate(
        (set_param("blur", "sigma", math.nan), lambda r: r["stats"].update(psnr=math.inf))
    ):
        record = json.loads(lines[i])
        edit(record)
        lines[i] = json.dumps(record)
    own.write_text("\n".join(lines) + "\n")
    report = synthesize(source, out, presets=["hard"], progress=False)
    assert report.written == 2 and report.skipped == 0  # neither hand-edited record is trusted as done
    assert own.read_text() == reference
    for line in own.read_text().splitlines():
        strict_json(line)
    strict_json((out / "meta" / "dataset.json").read_text())


PRESET_CASES = [
    ("blur: {ksize: [7, 23], sigma: [.nan, 3.0]}", "hard' blur.sigma range end must be finite, got NaN"),
    ("blur: {ksize: [8, 23], sigma: [1.0, 3.0]}", "hard' blur.ksize range end must be odd, got 8"),
    ("blur: {ksize: [7.0, 23], sigma: [1.0, 3.0]}", "blur.ksize range end must be a whole number, got 7.0"),
    ("blur: {ksize: [7, 23], sigma: ['1.0', 3.0]}", 'blur.sigma range end must be a number, got "1.0"'),
    ("blur: {ksize: [7, 23], sigma: [-1.0, 3.0]}", "blur.sigma range end must be from 0.1 to 20, got -1.0"),
    ("blur: {ksize: [7, 23], sigma: [3.0, 1.0]}", "blur.sigma has low > high (3.0 > 1.0)"),
    ("gaussian: {variance: [25.0, .inf]}", "gaussian.variance range end must be finite, got Infinity"),
    ("gaussian: {variance: [25.0, 1.0e+9]}", "gaussian.variance range end must be from 0 to 65025, got"),
    ("contrast: {c: [-0.8, 0.5], beta: [0.2, 0.4]}", "contrast.c range end must be from -1 to 0, got 0.5"),
]


@pytest.mark.parametrize(("line", "message"), PRESET_CASES, ids=[c[1][:40] for c in PRESET_CASES])
def test_the_preset_loader_holds_ranges_to_the_same_schema(line: str, message: str) -> None:
    text = PRESETS_YAML.read_text()
    op = line.split(":")[0]
    original = next(row for row in text.splitlines() if row.strip().startswith(f"{op}:"))  # hard's
    assert original in text
    hostile = text.replace(original, original[: len(original) - len(original.lstrip())] + line, 1)
    with pytest.raises(HmtirError) as info:
        parse_presets(hostile)
    assert str(info.value).startswith("presets.yaml: preset 'hard' ") and message in str(info.value)
    assert set(parse_presets(text)) == {"hard", "normal", "single-contrast", "single-blur", "single-noise"}


@pytest.mark.parametrize(
    "line", ['{"name": "a.png", "subset": "composited/hard"}', "[1, 2]", "NaN", "{not json"]
)
def test_a_line_that_is_not_a_record_is_refused_unless_it_is_a_torn_last_line(
    source: Path, manifest: Path, tmp_path: Path, line: str
) -> None:
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([lines[0], line, *lines[1:]]) + "\n")
    text = refused(source, manifest, tmp_path, "line 2: not a synthesis record")
    assert text == f"{manifest} line 2: not a synthesis record (a JSON object with name, subset and params)"
    manifest.write_text("\n".join([*lines, line[:7]]) + "\n")  # an interrupted run's torn last line
    report = synthesize(source, tmp_path / "out", from_manifest=manifest, progress=False)
    assert report.written == 2


STRUCTURE_CASES = [
    ("version: 1\npresets: [hard]\n", "presets.yaml: needs a whole-number 'version' and a 'presets' mapping"),
    ("version: '1'\npresets: {}\n", "presets.yaml: needs a whole-number 'version' and a 'presets' mapping"),
    ("version: 1\npresets: {x: 3}\n", "presets.yaml: preset 'x' needs 'ops' (op: ranges, or a list of ops)"),
    ("version: 1\npresets: {x: {ops: [[blur]]}}\n", "presets.yaml: preset 'x' needs 'ops'"),
    (
        "version: 1\npresets: {x: {ops: [blur], ranges_from: y}}\n",
        "preset 'x' ranges_from unknown preset 'y'",
    ),
    ("version: 1\npresets: {x: {ops: [blur]}}\n", "preset 'x' lists ops without ranges_from a preset giving"),
    (
        "version: 1\npresets: {y: {ops: {contrast: {c: [-0.5, -0.2], beta: [0, 0.1]}}},"
        " x: {ops: [blur], ranges_from: y}}\n",
        "preset 'x' takes 'blur' from 'y', which lacks it",
    ),
    ("version: 1\npresets: {x: {ops: {warp: {}}}}\n", "preset 'x' names unknown op 'warp'"),
    (
        "version: 1\npresets: {x: {gate: '0.5', ops: {}}}\n",
        "preset 'x' gate must be between 0 and 1, got '0.5'",
    ),
    ("version: 1\npresets: &a {x: *a}\n", "presets.yaml: YAML aliases (*name) are not allowed"),
]


@pytest.mark.parametrize(("text", "message"), STRUCTURE_CASES, ids=[c[1][:40] for c in STRUCTURE_CASES])
def test_a_malformed_presets_file_is_one_line(text: str, message: str) -> None:
    with pytest.raises(HmtirError) as info:
        parse_presets(text)
    assert message in str(info.value) and str(info.value).startswith("presets.yaml: "), str(info.value)
