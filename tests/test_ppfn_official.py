"""Compatibility with the released Restormer-PPFN: key/shape manifest and the tiny golden outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.methods import load_method
from hmtir.methods.base import MethodMeta
from hmtir.methods.networks import NetworkMethod
from hmtir.models import MODELS, create_model
from hmtir.models.checkpoint import load_checkpoint
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import spt_restore
from hmtir.runtime import count_parameters


@pytest.fixture(scope="module")
def official_dir(shared_reference: Callable[[str], Path]) -> Path:
    return shared_reference("ppfn-official")


@pytest.fixture(scope="module")
def golden(official_dir: Path) -> dict:
    return torch.load(official_dir / "tiny_golden.pt", map_location="cpu", weights_only=False)


def golden_bank(golden: dict) -> PromptBank:
    return PromptBank.from_arrays(
        golden["type_prompts_contrast_blur_noise"].numpy(),
        golden["scenario_prompts_single_composite"].numpy(),
        "golden",
    )


def test_full_size_keys_and_shapes_equal_the_manifest(official_dir: Path) -> None:
    manifest = json.loads((official_dir / "state_dict_manifest.json").read_text())
    config = {**manifest["config"]}
    released = MODELS.meta("restormer").params  # the catalog's Restormer config is the release's
    assert {k: config[k] for k in released} == released
    with torch.device("meta"):
        model = create_model("ppfn_restormer", **config)
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == manifest["state_dict_shapes"]
    assert count_parameters(model) == manifest["num_params"] == 26_627_926
    with torch.device("meta"):  # strict loading of a state_dict with the release's keys and shapes
        fake = {k: torch.empty(v) for k, v in manifest["state_dict_shapes"].items()}
        model.load_state_dict(fake, strict=True, assign=True)


def test_tiny_golden_outputs_are_reproduced(golden: dict) -> None:
    model = create_model("ppfn_restormer", **golden["config"]).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    bank = golden_bank(golden)
    x = golden["input"]
    with torch.no_grad():
        single = spt_restore(model, bank, x, "blur", "single", clamp=False)
        composite = spt_restore(model, bank, x, "composite")
    assert (single - golden["single_pass_blur_prompt_single_scenario"]).abs().max() <= 1e-5
    assert (composite - golden["spt_composite_output_noise_blur_contrast"]).abs().max() <= 1e-5


def test_official_format_file_runs_through_the_method_runner(golden: dict, tmp_path: Path) -> None:
    """A {"state_dict": {"module.*": ...}} file (release format) → strict load → SPT → golden output."""
    path = tmp_path / "Restormer_PPFN.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in golden["state_dict"].items()}}, path)
    loaded = load_checkpoint(path, bank=golden_bank(golden))  # architecture inferred from the tensors
    assert loaded.inferred and {k: loaded.config[k] for k in golden["config"]} == golden["config"]
    method = NetworkMethod(MethodMeta(name="ppfn"), loaded, weights_sha256=None)
    out = method.restore(golden["input"], "composite", "composite")
    assert (out - golden["spt_composite_output_noise_blur_contrast"]).abs().max() <= 1e-5
    # odd size: padded to a multiple of 8 and cropped back
    assert method.restore(golden["input"][..., :61, :93], "blur", "single").shape == (2, 1, 61, 93)


def test_official_weights_missing_name_the_download_command() -> None:
    with pytest.raises(
        HmtirError, match=r"missing weights Restormer_PPFN\.pth: run `hmtir download ppfn-official`"
    ):
        load_method("ppfn", weights="official")


def test_official_bank_loads_from_weights_dir_and_checks_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setenv("HMTIR_WEIGHTS", str(tmp_path))
    with pytest.raises(HmtirError, match=r"missing weights type7\.npy: run `hmtir download ppfn-official`"):
        PromptBank.official()
    np.save(tmp_path / "type7.npy", np.zeros((7, 128, 128)))
    with pytest.raises(HmtirError, match="type7.npy has the wrong sha256"):
        PromptBank.official()
