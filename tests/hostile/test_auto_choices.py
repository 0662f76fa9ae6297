"""Automatic choices must not hurt: the confidence gate of ``--prompts auto`` and the per-data-set weights.

* The gate (:data:`hmtir.estimate.GATE`): a step the estimator is unsure of is dropped before acting — an unsure
  composite becomes one pass of its sure step, an unsure single step leaves the frame alone — and the records
  say what the estimator saw and what the gate dropped. A different gate is a different cache key.
* The weights (:func:`hmtir.methods.networks.choose_variant`): ``ppfn`` / ``nafnet`` with default weights load
  the pair the degraded frames of the data set call for, record the choice and the number behind it, and a
  tag (``ppfn.agc``) or a PATH always wins. The choice reads degraded frames only: clean targets may be absent.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import hmtir
from hmtir.errors import HmtirError
from hmtir.estimate import GATE, Estimate, decide_gated, load_estimator, restore_auto
from hmtir.evaluation.cache import config_digest
from hmtir.io.image import write_image
from hmtir.methods import load_method
from hmtir.methods.networks import SET_RULE, SHIPPED_VARIANTS, choose_variant, set_statistics
from hmtir.weights import sha256_file

THRESHOLDS = {"contrast": 0.5, "blur": 0.675, "noise": 0.75}  # the shipped estimator's (ESTIMATOR_CARD.md)
EXAMPLES = Path(os.environ.get("HMTIR_EXAMPLES", "/work/runs/hmtir-examples"))  # the official example/ folder


@pytest.mark.parametrize(
    ("scores", "action", "verdict"),
    [
        # sure of both: acts; unsure contrast: one blur pass; unsure of both, or of a single step: left alone
        ({"contrast": 0.99, "blur": 0.99, "noise": 0.02}, "composite", "composite"),
        ({"contrast": 0.6, "blur": 0.99, "noise": 0.02}, "blur", "composite"),
        ({"contrast": 0.6, "blur": 0.7, "noise": 0.02}, "clean", "composite"),
        ({"contrast": 0.1, "blur": 0.7, "noise": 0.02}, "clean", "blur"),
        ({"contrast": 0.1, "blur": 0.2, "noise": 0.3}, "clean", "clean"),
    ],
)
def test_the_gate_drops_unsure_steps_before_acting(scores: dict, action: str, verdict: str) -> None:
    sure = {step: 0.9 for step in THRESHOLDS}
    got, seen, _, why = decide_gated(scores, THRESHOLDS, {"sure": sure})
    assert (got, seen) == (action, verdict)
    assert (why is None) == (action == verdict)
    assert decide_gated(scores, THRESHOLDS, None)[:2] == (verdict, verdict)  # no gate: the bare verdict


def test_the_shipped_gate_is_never_looser_than_the_thresholds() -> None:
    assert set(GATE["sure"]) == set(THRESHOLDS)
    assert all(GATE["sure"][step] >= THRESHOLDS[step] for step in THRESHOLDS)
    assert load_estimator().describe()["gate"]["sure"] == GATE["sure"]


def test_a_gated_frame_is_left_unchanged_and_its_verdict_kept() -> None:
    batch = torch.rand(2, 1, 48, 48)
    gated = Estimate("clean", {"contrast": 0.6}, ("contrast",), verdict="contrast", gated="unsure: contrast")
    assert gated.as_dict()["verdict"] == "contrast" and gated.prompts is None
    out, _ = restore_auto(load_method("identity"), batch, estimates=[gated, gated])
    assert torch.equal(out, batch)


def test_a_different_gate_is_a_different_cache_key() -> None:
    loose, strict = load_estimator(gate=None), load_estimator()
    assert loose.weights_sha256 == strict.weights_sha256 and loose.sha256 != strict.sha256
    keys = {config_digest("ppfn", "w", {}, "float", 0, {"auto": e.sha256}) for e in (loose, strict)}
    assert len(keys) == 2


def _layout(root: Path, exposure: float, subsets: tuple[str, ...] = ("composited/normal",)) -> Path:
    """A small HM-TIR layout whose degraded frames sit around grey ``exposure`` (procedural texture)."""
    rng = np.random.default_rng(0)
    for index in range(3):
        clean = np.clip(exposure + 0.15 * rng.standard_normal((64, 80)), 0, 1).astype(np.float32)
        write_image(root / "imgs" / f"f{index}.png", clean, 8)
        for subset in subsets:
            write_image(root / subset / f"f{index}.png", np.clip(clean * 0.8 + 0.1, 0, 1), 8)
    return root


@pytest.mark.parametrize(("exposure", "variant"), [(0.15, "dim"), (0.85, "agc")])
def test_the_pair_is_chosen_from_the_degraded_frames_and_recorded(
    tmp_path: Path, exposure: float, variant: str
) -> None:
    data = _layout(tmp_path / "data", exposure)
    choice = choose_variant(data)
    assert choice["variant"] == variant and choice["frames"] == 3
    assert (choice["value"] >= SET_RULE["threshold"]) == (variant == SET_RULE["above"])
    shutil.rmtree(data / "imgs")  # the rule never reads a clean target
    assert choose_variant(data) == choice
    result = hmtir.evaluate("ppfn", data=_layout(tmp_path / "data", exposure), device="cpu", progress=False,
                            out=tmp_path / "out", metrics="psnr")  # fmt: skip
    method = result.summary["method"]
    assert method["name"] == "ppfn" and method["weights_choice"]["variant"] == variant
    assert method["weights_sha256"] == sha256_file(SHIPPED_VARIANTS[variant]["ppfn"])
    assert result.summary["run"]["weights_sha256"] == method["weights_sha256"]  # so the cache key follows it
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["method"]["weights_choice"] == method["weights_choice"]


def test_a_named_pair_or_path_is_never_overridden(tmp_path: Path) -> None:
    data = _layout(tmp_path / "data", 0.15)  # a set the rule sends to dim
    for name, variant in (("ppfn.agc", "agc"), ("nafnet.agc", "agc")):
        result = hmtir.evaluate(name, data=data, device="cpu", progress=False, out=tmp_path / name,
                                metrics="psnr")  # fmt: skip
        base = name.split(".")[0]
        assert "weights_choice" not in result.summary["method"]
        assert result.summary["method"]["weights_sha256"] == sha256_file(SHIPPED_VARIANTS[variant][base])
    explicit = load_method("ppfn", weights=str(SHIPPED_VARIANTS["agc"]["ppfn"]))
    assert explicit.fit_to_data(data) is None


def test_the_choice_reads_single_subsets_when_no_composite_exists(tmp_path: Path) -> None:
    data = _layout(tmp_path / "data", 0.15, subsets=("single/blur",))
    assert set_statistics(data) and choose_variant(data)["frames"] == 3
    empty = tmp_path / "empty"
    (empty / "imgs").mkdir(parents=True)
    with pytest.raises(HmtirError, match="no degraded frames"):
        choose_variant(empty)


def test_official_examples_get_the_dark_pair(tmp_path: Path) -> None:
    """The five official HM-TIR examples (github.com/Zihang-Chen/HM-TIR, example/): where the dark pair scores
    17.62 dB on hard against the camera pair's 15.01 (MODEL_CARD.md). Skipped where the folder is absent."""
    if not (EXAMPLES / "hard").is_dir():
        pytest.skip(f"the official HM-TIR examples are absent ({EXAMPLES}; set HMTIR_EXAMPLES)")
    for subset, folder in (("composited/normal", "normal"), ("composited/hard", "hard")):
        shutil.copytree(EXAMPLES / folder, tmp_path / subset)
    assert choose_variant(tmp_path)["variant"] == "dim"


def test_auto_prompt_records_keep_the_verdict_and_what_the_gate_dropped(tmp_path: Path) -> None:
    data = _layout(tmp_path / "data", 0.5, subsets=("composited/normal", "single/blur"))
    result = hmtir.evaluate("identity", data=data, prompts="auto", device="cpu", progress=False,
                            out=tmp_path / "out", metrics="psnr")  # fmt: skip
    records = result.records
    assert {"estimate_verdict", "estimate_gated", "degradation"} <= set(records.columns)
    for row in records.itertuples():
        if row.estimate_gated is None:
            assert row.degradation == row.estimate_verdict
        else:  # a dropped step may leave the action as it was (a three-step composite stays composite)
            assert row.estimate_gated.startswith("unsure: ")
    assert result.summary["estimator"]["gate"]["sure"] == GATE["sure"]


def test_the_gate_and_the_weights_rule_are_the_ones_the_cards_measured() -> None:
    weights = Path(__file__).resolve().parents[2] / "hmtir" / "models" / "weights"
    estimator_card = " ".join((weights / "ESTIMATOR_CARD.md").read_text(encoding="utf-8").split())
    for step, level in GATE["sure"].items():
        assert f"**{step} {level}**" in estimator_card, (
            "refit the gate (benchmarks/auto_gate.py --fit), update the card"
        )
    model_card = " ".join((weights / "MODEL_CARD.md").read_text(encoding="utf-8").split())
    rule = f"each frame's grey {SET_RULE['statistic']} ≥ {SET_RULE['threshold']} → `{SET_RULE['above']}`"
    assert rule in model_card and SET_RULE["below"] == "dim", (
        "refit benchmarks/weights_rule.py, update the card"
    )
