"""The degradation estimator, ``hmtir estimate``, auto prompts (library and ``hmtir enhance``) and raw frames."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.scenes import SCENE_CATEGORIES, render_scene
from hmtir.degrade.torch_ops import degrade
from hmtir.errors import HmtirError
from hmtir.estimate import (
    LABELS,
    SHIPPED_ESTIMATOR,
    Estimate,
    decide,
    load_estimator,
    restore_auto,
    unjudgeable,
)
from hmtir.io.image import read_image, read_pixels, write_image, write_pixels
from hmtir.methods import load_method
from hmtir.models import MODELS, create_model
from hmtir.models.checkpoint import save_checkpoint
from hmtir.models.estimator import frame_features
from hmtir.models.prompts import PromptBank
from hmtir.weights import sha256_file

CARD = SHIPPED_ESTIMATOR.with_name("ESTIMATOR_CARD.md")


@pytest.fixture(scope="module")
def estimator():
    return load_estimator()


@pytest.fixture(scope="module")
def scenes() -> list[np.ndarray]:
    """One unseen procedural frame per category (seed 7; training used seeds 1–2), at 256×320."""
    return [render_scene(c, 7, (256, 320), index=0) for c in SCENE_CATEGORIES]


@pytest.fixture(scope="module")
def tiny_ppfn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    model = create_model(
        "ppfn_nafnet", width=4, enc_blocks=[1, 1], middle_blocks=1, dec_blocks=[1, 1], prompt={"dim": 8}
    )
    for head in ("scale", "shift"):  # random heads so prompts visibly matter
        torch.nn.init.normal_(getattr(model, f"prompt_{head}out").weight, std=0.3)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_ppfn.pt"
    return save_checkpoint(path, "ppfn_nafnet", model, PromptBank.seeded(map_size=32))


def test_decision_rule_covers_every_combination() -> None:
    assert decide([]) == "clean"
    for step in ("contrast", "blur", "noise"):
        assert decide([step]) == step
    for pair in (
        ["blur", "noise"],
        ["contrast", "noise"],
        ["contrast", "blur"],
        ["contrast", "blur", "noise"],
    ):
        assert decide(pair) == "composite"  # the documented choice for pairs the paper has no subset for
    assert LABELS == ("clean", "contrast", "blur", "noise", "composite")


def test_registered_with_metadata_and_the_shipped_weights_are_pinned() -> None:
    meta = MODELS.meta("estimator")
    assert meta.weights is not None and meta.weights.filename == SHIPPED_ESTIMATOR.name
    digest = sha256_file(SHIPPED_ESTIMATOR)
    assert meta.weights.sha256 == digest, "update ESTIMATOR_WEIGHTS.sha256 (and the card) after retraining"
    assert digest in CARD.read_text(encoding="utf-8")
    assert load_estimator().weights_sha256 == digest
    untrained = create_model("estimator")
    assert untrained.config["features"] == frame_features(torch.rand(1, 1, 40, 50)).shape[1]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (np.full((20, 300), 0.5, np.float32), "too small to judge (300×20 px"),
        (np.full((64, 64), 0.5, np.float32), "(nearly) constant"),
        (np.where(np.eye(64) > 0, 0.6, 0.4).astype(np.float32), "(nearly) constant: 2 distinct"),
        (np.pad(np.random.default_rng(0).random((40, 40)), 30).astype(np.float32), "saturated"),
        ((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8), "holds uint8 values"),
        (np.random.default_rng(0).random((64, 64)).astype(np.float32) * 300, "values outside [0, 1]"),
    ],
)
def test_frames_that_cannot_be_judged_get_a_reason_not_a_guess(estimator, frame, reason) -> None:
    assert reason in unjudgeable(frame)
    (estimate,) = estimator([frame])
    assert estimate.degradation is None and reason in estimate.reason and estimate.scores == {}
    with pytest.raises(HmtirError, match="could not be judged"):
        estimate.prompts  # noqa: B018


def test_nan_frames_are_named_not_judged(estimator) -> None:
    frame = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    frame[5, 5] = np.nan
    (estimate,) = estimator([frame])
    assert estimate.reason == "contains NaN/Inf pixels (1 of 4096)"


def _degraded(frame: np.ndarray, preset: str, seed: int) -> np.ndarray:
    x = torch.from_numpy(frame)[None, None]
    out = degrade(x, preset, torch.Generator().manual_seed(seed), gate=1.0)
    return (torch.round(out.degraded * 255) / 255)[0, 0].numpy()


def test_unseen_procedural_scenes_are_judged_mostly_right(estimator, scenes) -> None:
    """8 unseen scenes × (clean + 4 subsets). Measured with the shipped weights: see the card; this asserts
    a floor well under it so a broken feature or a swapped label fails, not a retrain's small drift."""
    truth, frames = [], []
    for k, scene in enumerate(scenes):
        clean = np.round(scene * 255) / 255
        for preset, label in (
            (None, "clean"),
            ("single-contrast", "contrast"),
            ("single-blur", "blur"),
            ("single-noise", "noise"),
            ("hard", "composite"),
        ):
            frames.append(clean.astype(np.float32) if preset is None else _degraded(scene, preset, k))
            truth.append(label)
    predicted = [e.verdict for e in estimator(frames)]  # what the frames show (before the gate)
    correct = np.mean([p == t for p, t in zip(predicted, truth)])
    assert correct >= 0.75, list(zip(truth, predicted))
    for label in LABELS:  # every class is recognised at least once
        assert any(p == t == label for p, t in zip(predicted, truth)), label


def test_verdicts_survive_cropping_and_batching(estimator, scenes) -> None:
    frames = [_degraded(s, "single-noise", k) for k, s in enumerate(scenes[:4])] + scenes[4:]
    whole = [e.verdict for e in estimator(frames)]
    crops = [e.verdict for e in estimator([f[32:224, 40:280] for f in frames])]
    assert np.mean([a == b for a, b in zip(whole, crops)]) >= 0.75, (whole, crops)
    batch = torch.from_numpy(np.stack(frames))[:, None]
    assert [e.verdict for e in estimator(batch)] == whole


def test_held_out_hit_uav_clean_frames_are_left_clean(estimator, hit_uav_dir: Path) -> None:
    names = sorted(p for p in hit_uav_dir.glob("1_60_*.jpg"))[:6]  # a group no shipped model trained on
    verdicts = estimator([read_image(p, luminance=True).data for p in names])
    assert sum(e.degradation == "clean" for e in verdicts) >= 5, [e.degradation for e in verdicts]


def test_restore_auto_runs_each_frame_with_its_own_prompts(tiny_ppfn: Path) -> None:
    method = load_method("ppfn", weights=str(tiny_ppfn))
    batch = torch.rand(4, 1, 40, 48)
    estimates = [
        Estimate("clean", {}, ()),
        Estimate("blur", {}, ("blur",)),
        Estimate("composite", {}, ("blur", "noise")),
        Estimate("blur", {}, ("blur",)),
    ]
    out, back = restore_auto(method, batch, estimates=estimates)
    assert back == estimates and torch.equal(out[0], batch[0])  # clean: untouched
    assert torch.allclose(out[[1, 3]], method(batch[[1, 3]], "blur", "single"), atol=1e-6)
    assert torch.allclose(out[2:3], method(batch[2:3], "composite", "composite"), atol=1e-6)
    with pytest.raises(HmtirError, match=r"^cannot choose prompts for b.png: too small"):
        restore_auto(
            method,
            batch[:2],
            estimates=[estimates[0], Estimate(None, reason="too small")],
            names=["a.png", "b.png"],
        )


def _narrow_twin(frame8: np.ndarray) -> np.ndarray:
    return np.rint(7564 + frame8.astype(np.float64) * (9928 - 7564) / 255).astype(np.uint16)


def test_enhance_auto_leaves_clean_frames_and_records_every_choice(
    tmp_path: Path, tiny_ppfn: Path, scenes
) -> None:
    frames = tmp_path / "frames"
    clean8 = np.rint(scenes[0] * 255).astype(np.uint8)
    noisy8 = np.rint(_degraded(scenes[1], "single-noise", 3) * 255).astype(np.uint8)
    write_pixels(frames / "clean.png", clean8)
    write_pixels(frames / "noisy.png", noisy8)
    write_pixels(frames / "raw16.tiff", _narrow_twin(clean8))
    kelvin = (290 + 20 * scenes[2]).astype(np.float32)
    write_pixels(frames / "kelvin.tiff", kelvin)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["enhance", str(frames), "--out", str(out), "--weights", str(tiny_ppfn), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert "degradation auto, range auto" in result.output and "4 frame(s) written" in result.output
    records = {p.name: json.loads(p.read_text()) for p in (out / "frames").glob("*.json")}
    assert set(records) == {"clean.png.json", "noisy.png.json", "raw16.tiff.json", "kelvin.tiff.json"}
    for record in records.values():
        assert record["requested"] == "auto" and set(record["estimate"]["scores"]) == {
            "contrast",
            "blur",
            "noise",
        }
        assert record["degradation"] == record["estimate"]["degradation"] in LABELS
        assert re.fullmatch(r"[0-9a-f]{64}", record["estimator"]["weights_sha256"])
    assert records["clean.png.json"]["degradation"] == "clean"
    assert np.array_equal(read_pixels(out / "frames" / "clean.png"), clean8)  # untouched, bit for bit
    assert records["noisy.png.json"]["degradation"] != "clean"
    assert not np.array_equal(read_pixels(out / "frames" / "noisy.png"), noisy8)
    raw = records["raw16.tiff.json"]
    assert raw["mapping"]["mode"] == "percentile" and raw["dtype"] == "uint16"
    assert raw["degradation"] == "clean"  # the narrow twin of a clean frame is judged as its 8-bit self
    assert np.array_equal(read_pixels(out / "frames" / "raw16.tiff"), _narrow_twin(clean8))
    back = read_pixels(out / "frames" / "kelvin.tiff")
    assert back.dtype == np.float32 and records["kelvin.tiff.json"]["mapping"]["mode"] == "percentile"
    assert 285 < float(back.min()) and float(back.max()) < 315


def test_enhance_auto_refuses_an_unjudgeable_frame_before_writing_anything(
    tmp_path: Path, tiny_ppfn: Path
) -> None:
    frames = tmp_path / "frames"
    write_image(frames / "a.png", np.random.default_rng(0).random((64, 64)).astype(np.float32))
    write_image(frames / "tiny.png", np.random.default_rng(1).random((12, 12)).astype(np.float32))
    out = tmp_path / "out"
    args = ["enhance", str(frames), "--out", str(out), "--weights", str(tiny_ppfn), "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot choose prompts for") and "tiny.png: too small to judge" in last
    assert not out.exists() or not any(out.rglob("*.*"))
    result = CliRunner().invoke(cli, [*args, "--degradation", "noise"])  # the user decides: it runs
    assert result.exit_code == 0, result.output


def test_estimate_cli_json_and_table(tmp_path: Path, scenes) -> None:
    folder = tmp_path / "in"
    write_image(folder / "scene.png", scenes[3])
    write_pixels(folder / "raw.tiff", _narrow_twin(np.rint(scenes[3] * 255).astype(np.uint8)))
    result = CliRunner().invoke(cli, ["estimate", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [Path(r["file"]).name for r in records] == ["raw.tiff", "scene.png"]
    for record in records:
        assert set(record) == {"file", "degradation", "scores"} and record["degradation"] in LABELS
        assert set(record["scores"]) == {"contrast", "blur", "noise"}
    assert records[0]["degradation"] == records[1]["degradation"]
    result = CliRunner().invoke(cli, ["estimate", str(folder / "raw.tiff")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "AGC 7" in result.stdout and "uint16" in result.stdout


def test_estimate_cli_gives_reasons_and_a_non_zero_status(tmp_path: Path) -> None:
    write_image(tmp_path / "flat.png", np.full((64, 64), 0.5, np.float32))
    write_image(tmp_path / "ok.png", np.random.default_rng(0).random((64, 64)).astype(np.float32))
    result = CliRunner().invoke(
        cli, ["estimate", str(tmp_path / "flat.png"), str(tmp_path / "ok.png"), "--json"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    records = json.loads(result.stdout)
    assert records[0]["degradation"] is None and "constant" in records[0]["reason"]
    assert records[1]["degradation"] in LABELS
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot judge")
    for bad, message in (("nope.png", "input not found"), ("--range=9,1", "LOW must be below HIGH")):
        result = CliRunner().invoke(
            cli,
            ["estimate", str(tmp_path / "ok.png"), bad]
            if bad.startswith("--")
            else ["estimate", str(tmp_path / bad)],
        )
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def _card_thresholds() -> dict[str, float]:
    text = " ".join(CARD.read_text(encoding="utf-8").split())
    match = re.search(r"best 5-way accuracy: contrast (\d\.\d+), blur (\d\.\d+), noise (\d\.\d+)", text)
    assert match, "ESTIMATOR_CARD.md no longer states the calibrated thresholds"
    return dict(zip(("contrast", "blur", "noise"), map(float, match.groups())))


class _Fixed(torch.nn.Module):
    """The shipped estimator's thresholds around fixed probabilities: the decision alone is under test."""

    def __init__(self, thresholds: torch.Tensor, probabilities: list[float]) -> None:
        super().__init__()
        self.register_buffer("thresholds", thresholds.clone())
        self.probabilities = torch.tensor([probabilities])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.probabilities.expand(x.shape[0], -1)


def test_the_calibrated_thresholds_are_the_cards_and_decide(estimator, scenes) -> None:
    assert estimator.thresholds == pytest.approx(_card_thresholds(), abs=1e-4)
    assert estimator.describe()["thresholds"] == pytest.approx(_card_thresholds(), abs=1e-4)
    # probabilities that 0.5 everywhere would call composite; the calibrated blur/noise thresholds do not
    fixed = _Fixed(estimator.model.thresholds, [0.55, 0.6, 0.7])
    bare = type(estimator)(fixed, "x", None, gate=None)
    (verdict,) = bare([scenes[0]])
    assert (verdict.degradation, verdict.present) == ("contrast", ("contrast",))
    fixed = _Fixed(estimator.model.thresholds, [0.45, 0.7, 0.8])
    (verdict,) = type(estimator)(fixed, "x", None, gate=None)([scenes[0]])
    assert verdict.degradation == "composite"  # blur 0.7 ≥ 0.675, noise 0.8 ≥ 0.75; contrast 0.45 < 0.5
    (gated,) = type(estimator)(fixed, "x", None)([scenes[0]])  # shipped gate: acts on sure steps only
    assert gated.verdict == "composite" and gated.degradation in ("clean", "blur", "noise", "composite")
