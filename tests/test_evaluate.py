"""The evaluation engine and ``hmtir evaluate`` on tiny HM-TIR layouts built here (no synthesize, no network).

Expected scores are computed independently from the image files (numpy PSNR, skimage SSIM with the
paper's definition), never read back from the engine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from skimage.metrics import structural_similarity

import hmtir
from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import EvaluationResult, evaluate
from hmtir.methods import Method, MethodMeta
from tests.metric_objects import ObjectMeta, ObjectMetric

SCENES = {"a.png": "urban", "b.png": "urban", "c.png": "field", "d.png": "field", "e.png": "sea"}
SHAPES = {"a.png": (32, 40), "b.png": (32, 40), "c.png": (24, 40), "d.png": (32, 40), "e.png": (32, 40)}
SUBSET_NOISE = {"composited/normal": 12.0, "single/noise": 5.0}


def _smooth_frame(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A plausible TIR-like frame: blurred noise plus a gradient, 8-bit."""
    base = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 3)
    ramp = np.linspace(0, 1, shape[1], dtype=np.float32)[None, :]
    frame = 0.6 * (base - base.min()) / (np.ptp(base) + 1e-6) + 0.3 * ramp
    return np.clip(np.round(frame * 255), 0, 255).astype(np.uint8)


def make_layout(root: Path, scenes: bool = True, manifest: bool = True) -> Path:
    rng = np.random.default_rng(0)
    (root / "imgs").mkdir(parents=True)
    (root / "meta").mkdir()
    lines = []
    for name, shape in SHAPES.items():
        clean = _smooth_frame(rng, shape)
        cv2.imwrite(str(root / "imgs" / name), clean)
        for subset, sigma in SUBSET_NOISE.items():
            noisy = np.clip(clean + rng.normal(0, sigma, shape), 0, 255).round().astype(np.uint8)
            (root / subset).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / subset / name), noisy)
            lines.append(json.dumps({"name": name, "subset": subset, "sigma": sigma}))
    # A training image that must not be evaluated.
    cv2.imwrite(str(root / "imgs" / "train.png"), _smooth_frame(rng, (32, 40)))
    (root / "meta" / "test.txt").write_text("\n".join(SHAPES) + "\n")
    if scenes:
        with (root / "meta" / "scenes.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["name", "scene"])
            writer.writerows(SCENES.items())
    if manifest:
        (root / "meta" / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return make_layout(tmp_path / "bench")


def _load(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float64) / 255.0


def reference_psnr(pred: np.ndarray, target: np.ndarray) -> float:
    mse = np.mean((np.clip(pred, 0, 1) - np.clip(target, 0, 1)) ** 2)
    return float(10 * np.log10(1.0 / mse))


def reference_ssim(pred: np.ndarray, target: np.ndarray) -> float:
    return float(
        structural_similarity(
            np.clip(pred, 0, 1).astype(np.float32),
            target.astype(np.float32),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
        )
    )


# --- small methods with known behaviour ---------------------------------------------------------------


class Counting(Method):
    """Identity that counts calls and raises on call number ``fail_at`` (an interruption)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.meta = MethodMeta(name="counting", kind="reference")
        self.calls = 0
        self.fail_at = fail_at
        self.seen: list[tuple[tuple[int, ...], str, str]] = []

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated interruption")
        self.seen.append((tuple(batch.shape), degradation, scenario))
        return batch.clone()


class Affine(Method):
    """``0.5·x + 0.25 + 0.3/255``: values off the 8-bit grid, so the uint8 convention changes them."""

    def __init__(self) -> None:
        self.meta = MethodMeta(name="affine", kind="classical")

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        return batch * 0.5 + 0.25 + 0.3 / 255


class PoisonsSecond(Method):
    def __init__(self) -> None:
        self.meta = MethodMeta(name="poison", kind="learned")

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        out = batch.clone()
        if out.shape[0] > 1:
            out[1, 0, 3, 3] = float("nan")
        return out


class Brightness(ObjectMetric):
    """A no-reference score (mean intensity) with the metric protocol, for the weight-free --real path."""

    meta = ObjectMeta("brightness", mode="NR", lower_better=False)
    formula = "mean(clamp(pred, 0, 1))"

    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        assert target is None
        return pred.clamp(0, 1).double().mean(dim=(1, 2, 3))


def run(layout: Path, out: Path, **kw) -> EvaluationResult:
    kw.setdefault("metrics", ("psnr", "ssim"))
    kw.setdefault("device", "cpu")
    kw.setdefault("progress", False)
    return evaluate(kw.pop("method", "identity"), data=layout, out=out, **kw)


# --- tests ---------------------------------------------------------------------------------------------


def test_identity_scores_are_the_degraded_images_own_psnr_and_ssim(layout: Path, tmp_path: Path) -> None:
    result = run(layout, tmp_path / "out")
    records = result.records
    assert list(records["subset"].unique()) == list(SUBSET_NOISE)
    assert len(records) == 2 * len(SHAPES)  # train.png is not in meta/test.txt
    for row in records.itertuples():
        degraded, clean = _load(layout / row.subset / row.name), _load(layout / "imgs" / row.name)
        assert row.psnr == pytest.approx(reference_psnr(degraded, clean), abs=1e-5)
        assert row.ssim == pytest.approx(reference_ssim(degraded, clean), abs=1e-5)
    for subset in SUBSET_NOISE:
        rows = records[records["subset"] == subset]
        stats = result.summary["subsets"][subset]["metrics"]["psnr"]
        assert stats["mean"] == pytest.approx(rows["psnr"].mean(), abs=1e-12)
        assert stats["std"] == pytest.approx(rows["psnr"].std(ddof=0), abs=1e-12)
        assert result.summary["subsets"][subset]["images"] == len(SHAPES)
    # heavier noise on composited/normal → lower PSNR than single/noise
    assert result.mean("psnr", "composited/normal") < result.mean("psnr", "single/noise")


def test_outputs_on_disk_match_the_returned_result(layout: Path, tmp_path: Path) -> None:
    result = run(layout, tmp_path / "out", subsets="single/noise")
    on_disk = pd.read_parquet(result.out / "records.parquet")
    pd.testing.assert_frame_equal(on_disk, result.records)
    csv_rows = pd.read_csv(result.out / "records.csv")
    assert list(csv_rows.columns) == [
        "method", "subset", "name", "scene", "psnr", "ssim",
        "seconds", "degradation", "scenario", "input_sha256", "target_sha256",
    ]  # fmt: skip
    assert set(csv_rows["method"]) == {"identity"} and set(csv_rows["scenario"]) == {"single"}
    assert json.loads(result.summary_path.read_text()) == result.summary
    assert not [p for p in result.out.iterdir() if ".part" in p.name]


def test_provenance_fields(layout: Path, tmp_path: Path) -> None:
    summary = run(layout, tmp_path / "out", subsets="normal", seed=7).summary
    assert summary["schema"] == "hmtir.evaluation/3"
    assert summary["world_size"] == 1 and summary["run"]["seed"] == 7 and summary["prompts"] == "oracle"
    assert summary["hmtir_version"] == hmtir.__version__
    assert summary["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", summary["git_commit"])
    manifest = (layout / "meta" / "manifest.jsonl").read_bytes()
    assert summary["data"]["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert summary["data"]["kind"] == "paired"
    assert summary["method"]["name"] == "identity" and summary["method"]["kind"] == "reference"
    assert "weights_sha256" in summary["method"]
    assert set(summary["metrics"]) == {"psnr", "ssim"}
    assert summary["metrics"]["psnr"]["lower_better"] is False and summary["metrics"]["psnr"]["mode"] == "FR"
    assert summary["metrics"]["ssim"]["definition"]
    assert (summary["device"], summary["torch_version"], summary["seed"]) == ("cpu", torch.__version__, 7)
    assert summary["convention"] == "float"
    subset = summary["subsets"]["composited/normal"]
    assert (subset["degradation"], subset["scenario"]) == ("composite", "composite")
    assert subset["seconds_per_image"] >= 0


def test_per_scene_breakdown(layout: Path, tmp_path: Path) -> None:
    result = run(layout, tmp_path / "out", subsets="single/noise")
    scenes = result.summary["subsets"]["single/noise"]["scenes"]
    assert list(scenes) == ["field", "sea", "urban"]
    records = result.records
    for scene, entry in scenes.items():
        rows = records[records["scene"] == scene]
        assert entry["images"] == sum(1 for s in SCENES.values() if s == scene)
        assert entry["metrics"]["ssim"]["mean"] == pytest.approx(rows["ssim"].mean(), abs=1e-12)


def test_no_scene_labels_means_no_breakdown(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "bench", scenes=False, manifest=False)
    result = run(layout, tmp_path / "out", subsets="single/noise")
    assert "scenes" not in result.summary["subsets"]["single/noise"]
    assert result.records["scene"].isna().all()
    assert result.summary["data"]["manifest_sha256"] is None


def test_batches_group_equal_sizes_and_prompts_reach_the_method(layout: Path, tmp_path: Path) -> None:
    method = Counting()
    batched = run(layout, tmp_path / "b3", method=method, batch_size=3)
    # test order a,b,c,d,e with c smaller: [a,b] [c] [d,e] per subset
    shapes = [s for s, _, _ in method.seen]
    assert shapes[:3] == [(2, 1, 32, 40), (1, 1, 24, 40), (2, 1, 32, 40)]
    assert {(d, s) for _, d, s in method.seen} == {("composite", "composite"), ("noise", "single")}
    single = run(layout, tmp_path / "b1", method=Counting(), batch_size=1)
    pd.testing.assert_frame_equal(
        batched.records.drop(columns="seconds"),
        single.records.drop(columns="seconds"),
        check_exact=False,
        atol=1e-9,
    )


def test_resume_skips_finished_images_and_gives_the_same_summary(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    interrupted = Counting(fail_at=4)  # 3 images finish, the 4th call is interrupted
    with pytest.raises(KeyboardInterrupt):
        run(layout, out, method=interrupted)
    assert not (out / "summary.json").exists()
    assert len((out / "cache.jsonl").read_text().splitlines()) == 3
    first_rows = [json.loads(line)["row"] for line in (out / "cache.jsonl").read_text().splitlines()]
    with (out / "cache.jsonl").open("a") as fh:  # a line torn by a crash mid-write is ignored
        fh.write('{"key": "abc", "row": {"na')

    resumed_method = Counting()
    resumed = run(layout, out, method=resumed_method)
    assert resumed_method.calls == 2 * len(SHAPES) - 3  # only unfinished images are recomputed
    for row in first_rows:  # cached rows come back verbatim, timings included
        got = resumed.records[resumed.records["input_sha256"] == row["input_sha256"]]
        assert got["seconds"].item() == row["seconds"] and got["psnr"].item() == row["psnr"]

    fresh = run(layout, tmp_path / "fresh", method=Counting())
    assert json.dumps(_without_timings(resumed.summary)) == json.dumps(_without_timings(fresh.summary))


def _without_timings(summary: dict) -> dict:
    summary = json.loads(json.dumps(summary))
    del summary["records_sha256"], summary["digest"]  # the records hold the timings
    for entry in summary["subsets"].values():
        entry.pop("seconds_per_image")
        for scene in entry.get("scenes", {}).values():
            scene.pop("seconds_per_image")
    return summary


def test_a_changed_input_image_is_recomputed(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(layout, out, method=Counting(fail_at=len(SHAPES) + 1), subsets="single/noise,normal")
    cv2.imwrite(str(layout / "single/noise/a.png"), np.full((32, 40), 128, np.uint8))
    method = Counting()
    run(layout, out, method=method, subsets="single/noise,normal")
    assert method.calls == len(SHAPES) + 1  # composited/normal + the changed single/noise image


def test_a_finished_identical_run_is_loaded_and_a_different_one_protected(
    layout: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run(layout, out, subsets="normal")
    before = (out / "summary.json").read_bytes()
    again = run(layout, out, subsets="normal")
    assert again.loaded and not first.loaded
    assert again.summary == first.summary
    pd.testing.assert_frame_equal(again.records, first.records)
    with pytest.raises(HmtirError) as err:
        run(layout, out, subsets="normal", metrics=("psnr",))
    assert str(err.value) == (
        f"{out} holds a finished evaluation with a different metrics; "
        "pass overwrite (--overwrite) to replace it or choose another output folder"
    )
    with pytest.raises(HmtirError, match=r"with a different seed;"):
        run(layout, out, subsets="normal", seed=3)
    assert (out / "summary.json").read_bytes() == before
    replaced = run(layout, out, subsets="normal", metrics=("psnr",), overwrite=True)
    assert list(replaced.summary["metrics"]) == ["psnr"] and not replaced.loaded


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_holds_it(
    layout: Path, tmp_path: Path
) -> None:
    from hmtir.evaluation.results import LOCK_FILE
    from hmtir.io.lock import exclusive

    out = tmp_path / "out"
    with exclusive(out / LOCK_FILE, "a test"):
        with pytest.raises(
            HmtirError, match=rf"^another hmtir process \(pid {os.getpid()}\) is writing results into"
        ):
            run(layout, out, subsets="normal")
    assert not (out / "summary.json").exists()
    assert run(layout, out, subsets="normal").summary["subsets"]  # released: the next run works


def test_uint8_convention_scores_the_rounded_output(layout: Path, tmp_path: Path) -> None:
    as_float = run(layout, tmp_path / "f", method=Affine(), subsets="normal")
    as_uint8 = run(layout, tmp_path / "u", method=Affine(), subsets="normal", convention="uint8")
    assert as_uint8.summary["convention"] == "uint8"
    for f_row, u_row in zip(as_float.records.itertuples(), as_uint8.records.itertuples()):
        degraded = _load(layout / "composited/normal" / f_row.name)
        clean = _load(layout / "imgs" / f_row.name)
        output = degraded.astype(np.float32) * 0.5 + 0.25 + 0.3 / 255
        rounded = np.round(output * 255) / 255
        assert f_row.psnr == pytest.approx(reference_psnr(output, clean), abs=1e-4)
        assert u_row.psnr == pytest.approx(reference_psnr(rounded, clean), abs=1e-4)
        assert u_row.psnr != pytest.approx(f_row.psnr, abs=1e-4)


def test_identity_is_unchanged_by_the_uint8_convention_on_8bit_data(layout: Path, tmp_path: Path) -> None:
    as_float = run(layout, tmp_path / "f", subsets="normal")
    as_uint8 = run(layout, tmp_path / "u", subsets="normal", convention="uint8")
    np.testing.assert_allclose(as_float.records["psnr"], as_uint8.records["psnr"], atol=1e-6)


def test_nan_output_names_method_and_image(layout: Path, tmp_path: Path) -> None:
    with pytest.raises(
        HmtirError, match=r"^method 'poison' produced NaN/Inf for single/noise/b\.png \(.*b\.png\)"
    ):
        run(layout, tmp_path / "out", method=PoisonsSecond(), subsets="single/noise", batch_size=2)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_save_images_writes_restored_frames_at_source_depth(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "bench")
    deep = np.random.default_rng(1).integers(0, 65536, (32, 40), dtype=np.uint16)
    cv2.imwrite(str(layout / "single/noise/a.png"), deep)
    cv2.imwrite(str(layout / "imgs/a.png"), deep)
    result = run(layout, tmp_path / "out", subsets="single/noise", save_images=True)
    saved = cv2.imread(str(result.out / "images/single/noise/a.png"), cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint16 and np.array_equal(saved, deep)
    saved_b = cv2.imread(str(result.out / "images/single/noise/b.png"), cv2.IMREAD_UNCHANGED)
    assert saved_b.dtype == np.uint8
    assert np.array_equal(saved_b, cv2.imread(str(layout / "single/noise/b.png"), cv2.IMREAD_UNCHANGED))


def test_resume_recomputes_cached_images_whose_saved_output_is_missing(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(layout, out, method=Counting(fail_at=4), subsets="single/noise", save_images=True)
    (out / "images/single/noise/b.png").unlink()
    method = Counting()
    run(layout, out, method=method, subsets="single/noise", save_images=True)
    assert method.calls == 3  # b (its image was lost), d and e
    assert sorted(p.name for p in (out / "images/single/noise").iterdir()) == sorted(SHAPES)


def test_real_frames_reject_full_reference_metrics(tmp_path: Path) -> None:
    frames = tmp_path / "real"
    frames.mkdir()
    cv2.imwrite(str(frames / "f1.png"), np.full((16, 20), 100, np.uint8))
    with pytest.raises(
        HmtirError, match=r"full-reference metric\(s\) psnr cannot be computed; use no-reference"
    ):
        evaluate("identity", real=frames, metrics=("psnr",), device="cpu", progress=False, out=tmp_path / "o")


def test_real_frames_scored_with_no_reference_metric_and_composite_prompts(tmp_path: Path) -> None:
    frames = tmp_path / "real"
    frames.mkdir()
    cv2.imwrite(str(frames / "f1.png"), np.full((16, 20), 51, np.uint8))
    cv2.imwrite(str(frames / "f2.png"), np.full((16, 20), 204, np.uint8))
    method = Counting()
    result = evaluate(
        method, real=frames, metrics=[Brightness()], device="cpu", progress=False, out=tmp_path / "o"
    )
    assert {(d, s) for _, d, s in method.seen} == {("composite", "composite")}
    assert result.records["brightness"].tolist() == pytest.approx([0.2, 0.8], abs=1e-7)
    assert result.summary["data"]["kind"] == "real"
    assert result.summary["subsets"]["real"]["metrics"]["brightness"]["mean"] == pytest.approx(0.5, abs=1e-7)


def test_missing_dataset_says_how_to_get_it() -> None:
    from hmtir.paths import dataset_dir

    where = re.escape(str(dataset_dir("hm-tir") / "HM-TIR"))
    with pytest.raises(
        HmtirError, match=rf"no HM-TIR dataset at {where}: run `hmtir download hm-tir`.*`hmtir demo`"
    ):
        evaluate("identity", metrics=("psnr",), device="cpu", progress=False)


def test_default_data_is_where_download_unpacks_hm_tir(layout: Path, tmp_path: Path) -> None:
    """`hmtir download hm-tir` unpacks HM-TIR.zip into <data home>/datasets/hm-tir/HM-TIR: evaluate looks there."""
    from hmtir.data.sources import load_sources

    root = load_sources().meta("hm-tir").dataset_root()
    shutil.copytree(layout, root)
    result = evaluate("identity", metrics=("psnr",), device="cpu", progress=False, out=tmp_path / "r")
    assert result.summary["data"]["root"] == str(root.resolve())


def test_bad_inputs_are_one_line_errors(layout: Path, tmp_path: Path) -> None:
    cases = [
        (dict(data=tmp_path / "nowhere"), f"data folder {tmp_path / 'nowhere'} does not exist"),
        (dict(data=layout, subsets="blurry"), "unknown subset 'blurry'"),
        (dict(data=layout, convention="uint16"), "unknown convention 'uint16' (use float or uint8)"),
        (dict(data=layout, batch_size=0), "batch size must be at least 1 (got 0)"),
        (dict(data=layout, seed=-1), "seed must be a whole number from 0 to 2**63-1, got -1"),
        (dict(data=layout, device="tpu"), "unknown device 'tpu' (use auto, cpu, cuda or cuda:N)"),
        (dict(data=layout, weights="w.pt"), "method 'identity' does not take weights"),
    ]
    if not torch.cuda.is_available():
        cases.append((dict(data=layout, device="cuda"), "device cuda requested but CUDA is not available"))
    for kwargs, message in cases:
        kwargs.setdefault("device", "cpu")
        with pytest.raises(HmtirError) as err:
            evaluate("identity", metrics=("psnr",), progress=False, out=tmp_path / "o", **kwargs)
        assert message in str(err.value)
    (layout / "single/noise/c.png").unlink()
    with pytest.raises(
        HmtirError, match=r"^missing degraded image .*single/noise/c\.png \(listed in .*meta/test\.txt\)$"
    ):
        run(layout, tmp_path / "o2", subsets="single/noise")


def test_default_out_dir_is_deterministic(
    layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = evaluate(
        "identity", data=layout, subsets="normal", metrics=("psnr",), device="cpu", progress=False
    )
    assert first.out.parent == Path("results/identity")
    assert re.fullmatch(r"bench__psnr__normal-[0-9a-f]{8}", first.out.name), first.out.name
    again = evaluate(
        "identity", data=layout, subsets="normal", metrics=("psnr",), device="cpu", progress=False
    )
    assert again.out == first.out and again.loaded


def test_top_level_api_is_callable_before_and_after_the_package_import(layout: Path, tmp_path: Path) -> None:
    result = hmtir.evaluate(
        "identity",
        data=layout,
        subsets="normal",
        metrics=("psnr",),
        device="cpu",
        progress=False,
        out=tmp_path / "a",
    )
    assert isinstance(result, EvaluationResult)


def test_cli_evaluate_prints_tables_and_refuses_to_overwrite(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["evaluate", "--method", "identity", "--data", str(layout), "--subset", "normal,single/noise"]
    args += ["--metrics", "psnr,ssim", "--device", "cpu", "--batch-size", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, args, terminal_width=160)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    mean = summary["subsets"]["single/noise"]["metrics"]["psnr"]["mean"]
    assert f"{mean:.4f} ±" in result.output
    assert "composited/normal" in result.output and "by scene" in result.output and "urban" in result.output
    again = CliRunner().invoke(cli, args, terminal_width=160)
    assert again.exit_code == 0 and "already exist" in again.output and f"{mean:.4f} ±" in again.output
    other = CliRunner().invoke(cli, [*args, "--seed", "2"])
    assert other.exit_code == 1
    assert other.output.startswith(f"Error: {out} holds a finished evaluation with a different seed")
    negative = CliRunner().invoke(cli, [*args, "--seed", "-1"])
    assert negative.exit_code == 2 and "Traceback" not in negative.output


class MeanAbsoluteError(ObjectMetric):
    """A full-reference metric object whose definition is the same under every convention."""

    meta = ObjectMeta("mae", mode="FR", lower_better=True)
    formula = "mean(|clamp(pred, 0, 1) - target|)"

    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return (pred.clamp(0, 1) - target).abs().double().mean(dim=(1, 2, 3))


class WeightedCounting(Counting):
    """Counting identity that claims to have loaded a weights file with the given hash."""

    def __init__(self, weights_sha256: str | None, fail_at: int | None = None) -> None:
        super().__init__(fail_at)
        self.weights_sha256 = weights_sha256


def _interrupted(layout: Path, out: Path, **kw) -> None:
    """A run that finished every frame but the last of composited/normal and single/noise (cache only)."""
    with pytest.raises(KeyboardInterrupt):
        run(layout, out, method=kw.pop("method", Counting(fail_at=2 * len(SHAPES))), **kw)
    assert len((out / "cache.jsonl").read_text().splitlines()) == 2 * len(SHAPES) - 1


def test_cache_reuses_every_unchanged_frame(layout: Path, tmp_path: Path) -> None:
    _interrupted(layout, tmp_path / "out")
    method = Counting()
    run(layout, tmp_path / "out", method=method)
    assert method.calls == 1


def test_changed_weights_invalidate_every_record(layout: Path, tmp_path: Path) -> None:
    _interrupted(layout, tmp_path / "out", method=WeightedCounting("a" * 64, fail_at=2 * len(SHAPES)))
    same = WeightedCounting("a" * 64)
    run(layout, tmp_path / "out", method=same)
    assert same.calls == 1
    _interrupted(layout, tmp_path / "out2", method=WeightedCounting("a" * 64, fail_at=2 * len(SHAPES)))
    other = WeightedCounting("b" * 64)
    run(layout, tmp_path / "out2", method=other)
    assert other.calls == 2 * len(SHAPES)


def test_a_changed_target_invalidates_exactly_its_records(layout: Path, tmp_path: Path) -> None:
    _interrupted(layout, tmp_path / "out")
    cv2.imwrite(str(layout / "imgs" / "a.png"), np.full((32, 40), 77, np.uint8))  # a's clean target
    method = Counting()
    result = run(layout, tmp_path / "out", method=method)
    # a.png in both subsets (its target changed) and the frame that never finished (e.png of single/noise)
    assert method.calls == 3
    row = result.records[(result.records["name"] == "a.png") & (result.records["subset"] == "single/noise")]
    degraded = _load(layout / "single/noise/a.png")
    assert row["psnr"].item() == pytest.approx(
        reference_psnr(degraded, np.full((32, 40), 77 / 255)), abs=1e-5
    )


@pytest.mark.parametrize("change", ["metric definition", "convention", "seed"])
def test_changed_scoring_invalidates_every_record(
    layout: Path, tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupted(layout, tmp_path / "out")
    method = Counting()
    if change == "metric definition":  # e.g. a new version of SSIM's definition
        from hmtir.metrics import METRICS

        entry = METRICS.entry("ssim")
        bumped = type(entry)(METRICS.with_meta("ssim", version="99"), entry.factory)
        monkeypatch.setitem(METRICS._entries, "ssim", bumped)
        run(layout, tmp_path / "out", method=method)
    elif change == "convention":  # with a metric whose definition does not record the convention
        _interrupted(layout, tmp_path / "plain", metrics=[MeanAbsoluteError()])
        run(layout, tmp_path / "plain", method=method, metrics=[MeanAbsoluteError()], convention="uint8")
    else:
        run(layout, tmp_path / "out", method=method, seed=1)
    assert method.calls == 2 * len(SHAPES)


class PromptRecorder(Method):
    """Identity that remembers the prompts each frame was restored with."""

    def __init__(self) -> None:
        self.meta = MethodMeta(name="recorder", kind="reference", uses_prompts=True)
        self.seen: list[tuple[str, str]] = []

    def restore(self, batch, degradation="composite", scenario="composite"):
        self.seen.extend([(degradation, scenario)] * batch.shape[0])
        return batch


def test_auto_prompts_let_the_estimator_choose_and_record_it(tmp_path: Path) -> None:
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize

    make_scenes(tmp_path / "clean", per_category=1, size=(64, 80))
    layout = tmp_path / "bench"
    synthesize(tmp_path / "clean", layout, presets=["single-noise", "normal"], progress=False)
    method = PromptRecorder()
    result = run(layout, tmp_path / "auto", method=method, prompts="auto", subsets="single/noise")
    records = result.records
    chosen = list(records["degradation"])
    restored = [d for d in chosen if d != "clean"]  # clean frames are left unchanged, never restored
    assert [d for d, _ in method.seen] == restored
    assert all(s == ("composite" if d == "composite" else "single") for d, s in method.seen)
    assert {"estimate_contrast", "estimate_blur", "estimate_noise"} <= set(records.columns)
    assert (
        records[["estimate_contrast", "estimate_blur", "estimate_noise"]]
        .map(lambda v: 0 <= v <= 1)
        .all()
        .all()
    )
    summary = result.summary
    assert summary["prompts"] == "auto" and summary["estimator"]["weights_sha256"]
    assert sum(summary["subsets"]["single/noise"]["prompts_chosen"].values()) == 8
    assert summary["run"]["estimator_sha256"] == summary["estimator"]["weights_sha256"]
    with pytest.raises(HmtirError, match=r"with a different estimator_sha256, prompts;"):
        run(layout, tmp_path / "auto", method=PromptRecorder(), subsets="single/noise")


def test_real_raw_frames_are_mapped_to_display_and_written_back_in_their_units(tmp_path: Path) -> None:
    frames = tmp_path / "raw"
    frames.mkdir()
    rng = np.random.default_rng(3)
    originals = {}
    for k in range(2):  # 16-bit counts in a narrow band, as a radiometric camera gives them
        counts = (7564 + 2364 * cv2.GaussianBlur(rng.random((48, 64)), (0, 0), 4)).astype(np.uint16)
        cv2.imwrite(str(frames / f"r{k}.png"), counts)
        originals[f"r{k}.png"] = counts
    result = evaluate(
        "identity", real=frames, metrics=[Brightness()], device="cpu", progress=False,
        out=tmp_path / "o", save_images=True,
    )  # fmt: skip
    assert result.summary["raw_range"] == "auto"
    # the AGC puts the 0.5/99.5 percentiles at 0.175/0.847: a mid-grey mean, not counts/65535 ≈ 0.13
    assert result.records["brightness"].between(0.3, 0.7).all()
    assert result.records["range_mapping"].str.startswith("AGC ").all()
    for name, counts in originals.items():
        saved = cv2.imread(str(result.out / "images" / "real" / name), cv2.IMREAD_UNCHANGED)
        assert saved.dtype == np.uint16 and np.abs(saved.astype(int) - counts).max() <= 1
    # counts / 65535 puts these frames on 1-2 grey levels (what auto avoids): refused, nothing scored
    with pytest.raises(HmtirError, match=r"r0\.png: --range full \(0…65535\) maps .* onto [12] of 256"):
        evaluate(
            "identity", real=frames, metrics=[Brightness()], device="cpu", progress=False,
            out=tmp_path / "full", raw_range="full",
        )  # fmt: skip
    assert not [p for p in (tmp_path / "full").rglob("*") if not p.name.startswith(".")]  # the lock only
