"""Hostile ranges and re-runs: every range source is checked as one rule, and enhance never eats its outputs.

* A range (``--range`` of enhance/estimate, ``raw_range`` of evaluate's real frames, ``auto``'s own
  percentile band, the library's :class:`RangeMapping`) must be finite, LOW < HIGH, within the input's
  sample type, and leave the frame's body at least 8 distinct 8-bit display levels (or all its own AGC
  shows). Otherwise: exit 1, one ``Error:`` line naming the frame and the range, nothing written.
* Input discovery never takes a file an earlier ``hmtir enhance`` wrote (its ``.json`` record beside it)
  nor anything inside the run's own ``--out``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate
from hmtir.io.image import read_pixels, write_image, write_pixels
from hmtir.io.safety import OUTPUT_MARKER
from tests.metric_objects import ObjectMeta, ObjectMetric

IDENTITY = ["--method", "identity", "--degradation", "composite", "--device", "cpu"]


def _counts(folder: Path, dtype: type = np.uint16) -> Path:
    """One frame of 16-bit counts 7000–7399 (0.6 % of the type): the frame of the issue."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("f.png" if dtype == np.uint16 else "f.tiff")
    write_pixels(path, (7000 + np.random.default_rng(0).integers(0, 400, (48, 64))).astype(dtype))
    return path


def _one_error_line(output: str, *fragments: str) -> None:
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], output


#: (--range, sample type, fragment of the one error line); each leaves 7000–7399 on < 8 display levels
RANGES = {
    "issue": (
        "-1e308,1e308",
        np.uint16,
        "range -1e+308,1e+308: outside what uint16 samples can hold (0…65535)",
    ),
    "below-type": ("-5,9000", np.uint16, "range -5,9000: outside what uint16 samples can hold"),
    "above-type": ("7000,70000", np.uint16, "range 7000,70000: outside what uint16 samples can hold"),
    "full": ("full", np.uint16, "--range full (0…65535) maps the frame's values 7001…7398 (uint16, "),
    "type-wide-window": ("0,65535", np.uint16, "--range 0,65535 maps the frame's values 7001…7398"),
    "all-black": ("20000,30000", np.uint16, "onto 1 of 256 display levels, fewer than 8"),
    "all-white": ("100,200", np.uint16, "onto 1 of 256 display levels, fewer than 8"),
    "sub-count-window": ("7000.2,7000.7", np.uint16, "onto 1 of 256 display levels"),
    "float-overflowing-width": ("-1e308,1e308", np.float64, "range -1e+308,1e+308: HIGH − LOW is too wide"),
    "float-huge-window": ("-1e38,1e38", np.float32, "--range -1e+38,1e+38 maps the frame's values"),
    "beyond-float32": ("0,1e39", np.float32, "outside what float32 samples can hold"),
}


@pytest.mark.parametrize("case", sorted(RANGES))
def test_enhance_refuses_a_collapsing_range_in_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    spec, dtype, fragment = RANGES[case]
    path = _counts(tmp_path / "in", dtype)
    before = path.read_bytes()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["enhance", str(path), "--out", str(out), f"--range={spec}", *IDENTITY])
    assert result.exit_code == 1
    _one_error_line(result.output, f"{path}: ", fragment)
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    assert path.read_bytes() == before


@pytest.mark.parametrize("case", ["issue", "full", "all-black", "float-huge-window"])
def test_estimate_refuses_the_same_ranges(tmp_path: Path, case: str) -> None:
    spec, dtype, fragment = RANGES[case]
    path = _counts(tmp_path, dtype)
    result = CliRunner().invoke(cli, ["estimate", str(path), f"--range={spec}"])
    assert result.exit_code == 1
    _one_error_line(result.output, f"{path}: ", fragment)


class _Mean(ObjectMetric):
    meta = ObjectMeta("mean", mode="NR", lower_better=False)
    formula = "mean(pred)"

    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return pred.double().mean(dim=(1, 2, 3))


@pytest.mark.parametrize("case", ["issue", "full", "all-white"])
def test_evaluate_real_frames_refuse_the_same_ranges(tmp_path: Path, case: str) -> None:
    spec, dtype, fragment = RANGES[case]
    path = _counts(tmp_path / "real", dtype)
    with pytest.raises(HmtirError) as info:
        evaluate(
            "identity", real=tmp_path / "real", metrics=[_Mean()], device="cpu", progress=False,
            out=tmp_path / "o", raw_range=spec,
        )  # fmt: skip
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)


def test_a_window_that_keeps_the_frame_legible_is_taken(tmp_path: Path) -> None:
    path = _counts(tmp_path / "in")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["enhance", str(path), "--out", str(out), "--range=6000,8000", *IDENTITY]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "f.png.json").read_text())["mapping"]["mode"] == "manual"
    assert np.array_equal(read_pixels(out / "f.png"), read_pixels(path))  # identity, 1 count = 0.13 levels


def test_auto_never_refuses_a_flat_or_dim_frame_it_can_show(tmp_path: Path) -> None:
    """A degenerate percentile band (flat frame) and a dim float display frame both pass under auto."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_pixels(folder / "flat.png", np.full((32, 32), 65535, np.uint16))
    dim = (0.001 + 0.002 * np.random.default_rng(1).random((32, 32))).astype(np.float32)
    write_pixels(folder / "dim.tiff", dim)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["enhance", str(folder), "--out", str(out), *IDENTITY])
    assert result.exit_code == 0, result.output
    assert np.array_equal(read_pixels(out / "in" / "flat.png"), np.full((32, 32), 65535, np.uint16))
    written = read_pixels(out / "in" / "dim.tiff")
    assert written.dtype == np.float32 and np.abs(written - dim).max() < 1e-7
    assert json.loads((out / "in" / "dim.tiff.json").read_text())["mapping"]["mode"] == "percentile"


# ------------------------------------------------------------------ enhance never eats its own outputs


def _frames(folder: Path) -> list[str]:
    rng = np.random.default_rng(5)
    for name in ("a.png", "sub/b.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(folder / name, rng.random((12, 14)).astype(np.float32))
    return ["a.png", "sub/b.png"]


def _enhance(*args: str) -> str:
    result = CliRunner().invoke(cli, ["enhance", *args, *IDENTITY])
    assert result.exit_code == 0, result.output
    return result.output


def _outputs(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))


def test_a_second_run_into_another_subfolder_skips_the_first_runs_outputs(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    names = _frames(frames)
    _enhance(str(frames), "--out", str(frames / "first"))
    assert _outputs(frames / "first") == [f"frames/{n}" for n in names]
    _enhance(str(frames), "--out", str(frames / "second"))
    assert _outputs(frames / "second") == [f"frames/{n}" for n in names]  # no frames/first/frames/...


def test_a_rerun_into_the_same_subfolder_is_the_same_run(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    _frames(frames)
    _enhance(str(frames), "--out", str(frames / "sub" / "enhanced"))
    first = _outputs(frames / "sub" / "enhanced")
    _enhance(str(frames), "--out", str(frames / "sub" / "enhanced"), "--overwrite")
    assert _outputs(frames / "sub" / "enhanced") == first


def test_outputs_of_single_file_runs_are_skipped_when_the_folder_is_enhanced(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    _frames(frames)
    _enhance(str(frames / "a.png"), "--out", str(frames / "sub" / "done"))  # writes frames/sub/done/a.png
    _enhance(str(frames), "--out", str(tmp_path / "out"))
    assert _outputs(tmp_path / "out") == ["frames/a.png", "frames/sub/b.png"]


def test_a_folder_holding_only_earlier_outputs_says_so(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    _frames(frames)
    _enhance(str(frames), "--out", str(tmp_path / "first"))
    result = CliRunner().invoke(
        cli, ["enhance", str(tmp_path / "first"), "--out", str(tmp_path / "x"), *IDENTITY]
    )
    assert result.exit_code == 1
    _one_error_line(result.output, "no images", "skipped 2 output(s) of earlier hmtir runs")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "record",
    [
        '{"note": "my own notes"}',
        '{"output": "a.png"}',
        "not json",
        "[" * 100_000,
        '{"output": "b.png", "hmtir_version": "0"}',
    ],
)
def test_a_users_own_json_beside_a_frame_does_not_hide_it(tmp_path: Path, record: str) -> None:
    """Only a record that names the image as an hmtir output marks it; any other .json leaves it an input."""
    frames = tmp_path / "frames"
    _frames(frames)
    (frames / "a.png.json").write_text(record)
    _enhance(str(frames), "--out", str(tmp_path / "out"))
    assert _outputs(tmp_path / "out") == ["frames/a.png", "frames/sub/b.png"]


def test_folders_hmtir_marked_as_output_are_never_searched(tmp_path: Path) -> None:
    """evaluate's saved images (no enhance record beside them) inside the input folder stay out."""
    frames = tmp_path / "frames"
    _frames(frames)
    evaluate(
        "identity", real=frames / "sub", metrics=[_Mean()], device="cpu", progress=False,
        out=frames / "results", save_images=True,
    )  # fmt: skip
    assert (frames / "results" / OUTPUT_MARKER).is_file() and list((frames / "results").rglob("*.png"))
    _enhance(str(frames), "--out", str(tmp_path / "out"))
    assert _outputs(tmp_path / "out") == ["frames/a.png", "frames/sub/b.png"]


def test_the_named_folder_may_be_marked_its_own_frames_are_still_inputs(tmp_path: Path) -> None:
    """An --out that held the user's frames (written into with --overwrite) keeps them as inputs."""
    frames = tmp_path / "frames"
    _frames(frames)
    other = tmp_path / "other"
    _frames(other)
    _enhance(str(other), "--out", str(frames), "--overwrite")  # frames/other/... beside the user's frames
    assert (frames / OUTPUT_MARKER).is_file()
    _enhance(str(frames), "--out", str(tmp_path / "out"))
    assert _outputs(tmp_path / "out") == ["frames/a.png", "frames/sub/b.png"]
