"""Checkpoints of any configuration: the architecture is read from the tensors, rebuilt and loaded strictly.

Tiny random networks of several sizes per family, saved in the official format (``{"state_dict":
{"module." + k: v}}``), bare and in hmtir's format, must come back as the same config and the same output
through ``load_method(..., weights=path)`` and ``hmtir enhance``; a checkpoint that fits no registered
network exactly is one line naming the nearest, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io.image import write_image
from hmtir.methods import load_method
from hmtir.methods.base import MethodMeta
from hmtir.methods.networks import NetworkMethod
from hmtir.models import create_model
from hmtir.models.checkpoint import LoadedModel, save_checkpoint
from hmtir.models.infer import compare, ffn_factor, infer_config
from hmtir.models.prompts import PromptBank

PROMPT = {"dim": 8}  # scenario vectors stay 64 long: the official bank's
#: (model, config overrides): the issue's size first, then other widths, depths, flags and prompt layouts.
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    (
        "ppfn_restormer",
        {"dim": 16, "num_blocks": [1, 2, 2, 1], "num_refinement_blocks": 2, "ffn_expansion_factor": 2.66},
    ),
    (
        "ppfn_restormer",
        {
            "dim": 8,
            "num_blocks": [1, 1, 1, 1],
            "num_refinement_blocks": 1,
            "heads": [1, 1, 2, 2],
            "ffn_expansion_factor": 2.0,
            "bias": True,
        },
    ),
    (
        "restormer",
        {
            "dim": 8,
            "num_blocks": [1, 0, 1, 2],
            "num_refinement_blocks": 0,
            "ffn_expansion_factor": 1.5,
            "LayerNorm_type": "BiasFree",
        },
    ),
    ("nafnet", {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}),
    (
        "nafnet",
        {
            "width": 6,
            "enc_blocks": [2, 0, 1],
            "middle_blocks": 0,
            "dec_blocks": [1, 1, 2],
            "stem_downsample": 1,
        },
    ),
    ("ppfn_nafnet", {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}),
    (
        "ppfn_nafnet",
        {"width": 8, "enc_blocks": [1], "middle_blocks": 2, "dec_blocks": [1], "range_head": True},
    ),
]
METHOD = {"ppfn_restormer": "ppfn", "ppfn_nafnet": "ppfn", "restormer": "restormer", "nafnet": "nafnet"}


def bank() -> PromptBank:
    return PromptBank.seeded(map_size=32)


@pytest.fixture(autouse=True)
def stand_in_official_bank(monkeypatch: pytest.MonkeyPatch) -> None:
    """Official-format PPFN weights take the release's prompt arrays (not shipped): a seeded stand-in."""
    monkeypatch.setattr(PromptBank, "official", classmethod(lambda cls: bank()))


def random_model(name: str, config: dict[str, Any], seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name.startswith("ppfn_"):
        prompt = {**PROMPT, "fusion": "degradation"} if config.get("range_head") else PROMPT
        config = {**config, "prompt": prompt}
    model = create_model(name, **config)
    with torch.no_grad():  # every tensor matters: zero-initialised NAFNet scales would hide the blocks
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def save(model: torch.nn.Module, name: str, form: str, path: Path) -> Path:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if form == "official":
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    elif form == "bare":
        torch.save(state, path)
    else:
        save_checkpoint(path, name, model, bank() if model.uses_prompts else None)
    return path


def reference(model: torch.nn.Module, name: str) -> NetworkMethod:
    loaded = LoadedModel(name, model, bank() if model.uses_prompts else None, model.config)
    return NetworkMethod(MethodMeta(name="reference"), loaded, weights_sha256=None)


@pytest.mark.parametrize("form", ["official", "bare", "hmtir"])
@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_load_method_infers_the_exact_config_and_output(
    name: str, config: dict[str, Any], form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = random_model(name, config)
    path = save(model, name, form, tmp_path / "ckpt.pth")
    method = load_method(METHOD[name], weights=str(path))
    assert isinstance(method, NetworkMethod)
    assert method.loaded.name == name and method.loaded.config == model.config
    info = method.describe()  # provenance of results and their cache entries
    assert info["model_config"] == model.config and info["architecture_inferred"] is (form != "hmtir")
    assert info["architecture"] == method.loaded.architecture
    stderr = capsys.readouterr().err.strip().splitlines()
    if form == "hmtir":
        assert stderr == [] and "(recorded in the checkpoint," in info["architecture"]
    else:
        assert stderr == [method.loaded.architecture]
        assert (
            stderr[0].startswith("weights ckpt.pth: ")
            and f"(inferred, {len(model.state_dict())} tensors)" in stderr[0]
        )
    x = torch.rand(2, 1, 21, 30, generator=torch.Generator().manual_seed(3))
    for degradation, scenario in (("composite", "composite"), ("blur", "single")):
        expected = reference(model, name).restore(x, degradation, scenario)
        assert (method.restore(x, degradation, scenario) - expected).abs().max() <= 1e-6


def test_issue_size_is_described_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, config = CONFIGS[0]
    model = random_model(name, config)
    load_method("ppfn", weights=str(save(model, name, "official", tmp_path / "ckpt.pth")))
    assert capsys.readouterr().err == (
        "weights ckpt.pth: Restormer-PPFN, dim 16, blocks [1,2,2,1], heads [1,2,4,8], refinement 2, "
        f"ffn 2.66, prompts 8/64 (inferred, {len(model.state_dict())} tensors)\n"
    )


@pytest.mark.parametrize("factor", [1.0, 1.5, 2.0, 2.5, 2.66, 2.7, 3.0, 4.0, 1.33])
@pytest.mark.parametrize("dim", [8, 16, 24, 48])
def test_ffn_factor_round_trips(factor: float, dim: int) -> None:
    config = {
        "dim": dim,
        "num_blocks": [1, 1, 1, 1],
        "num_refinement_blocks": 1,
        "ffn_expansion_factor": factor,
    }
    with torch.device("meta"):
        state = create_model("restormer", **config).state_dict()
    name, inferred = infer_config(state)
    assert name == "restormer" and inferred["ffn_expansion_factor"] == factor
    assert compare(name, inferred, state).exact


def test_ffn_factor_reads_the_interval_every_width_allows() -> None:
    assert ffn_factor([(16, 42), (32, 85), (64, 170), (128, 340)], preferred=2.66) == 2.66
    assert ffn_factor([(16, 42), (32, 85), (64, 170), (128, 340)], preferred=3.0) == 2.66  # fewest decimals
    assert ffn_factor([(16, 40), (32, 80)], preferred=2.66) == 2.5
    assert ffn_factor([(16, 40), (32, 90)], preferred=2.66) is None  # no single factor gives both widths
    assert ffn_factor([], preferred=2.66) == 2.66


@pytest.fixture()
def frame(tmp_path: Path) -> Path:
    path = tmp_path / "frame.png"
    write_image(path, np.random.default_rng(0).random((24, 40)).astype(np.float32), bit_depth=8)
    return path


def enhance(frame: Path, weights: Path, out: Path, method: str = "ppfn") -> Any:
    args = ["enhance", str(frame), "--method", method, "--weights", str(weights)]
    return CliRunner().invoke(
        cli, [*args, "--degradation", "composite", "--out", str(out), "--device", "cpu"]
    )


def test_cli_enhances_with_an_official_format_checkpoint_of_another_size(tmp_path: Path, frame: Path) -> None:
    name, config = CONFIGS[0]
    weights = save(random_model(name, config), name, "official", tmp_path / "ckpt.pth")
    result = enhance(frame, weights, tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "weights ckpt.pth: Restormer-PPFN, dim 16, blocks [1,2,2,1]" in result.stderr
    assert (tmp_path / "d" / "frame.png").is_file()


def _official(model: torch.nn.Module, edit: Callable[[dict[str, torch.Tensor]], None], path: Path) -> Path:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    edit(state)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


NEAREST = (
    "fits no registered architecture: nearest is ppfn_restormer (Restormer-PPFN, dim 16, blocks [1,2,2,1]"
)
EDITS: dict[str, tuple[Callable[[dict[str, torch.Tensor]], None], str]] = {
    "extra key": (
        lambda sd: sd.update({"extra.weight": torch.zeros(3)}),
        "0 missing, 1 unexpected, 0 mis-shaped key(s); first: unexpected extra.weight",
    ),
    "missing key": (
        lambda sd: sd.pop("decoder_level2.1.ffn.project_out.weight"),
        "1 missing, 0 unexpected, 0 mis-shaped key(s); first: missing decoder_level2.1.ffn.project_out.weight",
    ),
    "shape edit": (
        lambda sd: sd.update({"reduce_chan_level3.weight": torch.zeros(64, 127, 1, 1)}),
        "0 missing, 0 unexpected, 1 mis-shaped key(s); first: mis-shaped reduce_chan_level3.weight "
        "(64, 127, 1, 1)≠(64, 128, 1, 1)",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_edited_checkpoint_is_one_line_naming_the_nearest_and_writes_nothing(
    case: str, tmp_path: Path, frame: Path
) -> None:
    edit, differs = EDITS[case]
    name, config = CONFIGS[0]
    weights = _official(random_model(name, config), edit, tmp_path / "ckpt.pth")
    result = enhance(frame, weights, tmp_path / "d")
    assert result.exit_code == 1 and not (tmp_path / "d").exists()
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: checkpoint {weights} {NEAREST}")
    assert result.output.rstrip().endswith(differs)


@pytest.mark.parametrize(
    ("name", "method", "says"),
    [
        ("nafnet", "ppfn", "holds model 'nafnet', but method 'ppfn' needs a PPFN (prompted) model"),
        (
            "ppfn_nafnet",
            "restormer",
            "holds model 'ppfn_nafnet', but method 'restormer' needs the prompt-free",
        ),
        (
            "restormer",
            "nafnet",
            "holds model 'restormer', but method 'nafnet' needs the prompt-free 'nafnet'",
        ),
    ],
)
def test_checkpoint_of_another_family_is_one_line(
    name: str, method: str, says: str, tmp_path: Path, frame: Path
) -> None:
    config = next(c for n, c in CONFIGS if n == name)
    weights = save(random_model(name, config), name, "official", tmp_path / "ckpt.pth")
    result = enhance(frame, weights, tmp_path / "d", method=method)
    assert result.exit_code == 1 and not (tmp_path / "d").exists()
    assert result.output.count("\n") == 1 and says in result.output


def test_recorded_config_is_checked_against_the_tensors(tmp_path: Path) -> None:
    name, config = CONFIGS[0]
    path = save(random_model(name, config), name, "hmtir", tmp_path / "ckpt.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["num_refinement_blocks"] = 3
    torch.save(payload, path)
    with pytest.raises(HmtirError) as err:
        load_method("ppfn", weights=str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"checkpoint {path} records ppfn_restormer (")
    assert (
        "refinement 3" in message and "but its tensors are ppfn_restormer (Restormer-PPFN, dim 16" in message
    )
    assert "refinement 2" in message and "missing refinement.2.norm1.body.weight" in message


def test_official_bank_must_fit_the_inferred_prompt_units(tmp_path: Path) -> None:
    model = create_model("ppfn_nafnet", **CONFIGS[3][1], prompt={"dim": 8, "scenario_dim": 32})
    path = save(model, "ppfn_nafnet", "official", tmp_path / "ckpt.pth")
    with pytest.raises(
        HmtirError, match=r"prompt bank 'seeded:\d+' does not fit checkpoint .*32-long scenario"
    ):
        load_method("ppfn", weights=str(path))


def test_tiny_golden_config_is_inferred_from_its_state_dict(shared_reference: Callable[[str], Path]) -> None:
    golden = torch.load(
        shared_reference("ppfn-official") / "tiny_golden.pt", map_location="cpu", weights_only=False
    )
    name, config = infer_config(golden["state_dict"])
    assert name == "ppfn_restormer"
    assert {k: config[k] for k in golden["config"]} == golden["config"]
    released = create_model("ppfn_restormer", **golden["config"]).config  # all else: the release's defaults
    assert create_model(name, **config).config == released
    assert compare(name, config, golden["state_dict"]).exact


def test_released_manifest_is_inferred_as_the_release(shared_reference: Callable[[str], Path]) -> None:
    import json

    manifest = json.loads((shared_reference("ppfn-official") / "state_dict_manifest.json").read_text())
    with torch.device("meta"):
        state = {k: torch.empty(shape) for k, shape in manifest["state_dict_shapes"].items()}
    name, config = infer_config(state)
    assert name == "ppfn_restormer" and {k: config[k] for k in manifest["config"]} == manifest["config"]
    assert compare(name, config, state).exact


def test_tensors_of_a_family_in_impossible_sizes_say_why(tmp_path: Path) -> None:
    """Three heads cannot split 16 channels: the reading is refused by the schema, not run into a crash."""
    name, config = CONFIGS[0]
    edit = lambda sd: sd.update({"encoder_level1.0.attn.temperature": torch.ones(3, 1, 1)})  # noqa: E731
    path = _official(random_model(name, config), edit, tmp_path / "ckpt.pth")
    with pytest.raises(HmtirError) as err:
        load_method("ppfn", weights=str(path))
    assert str(err.value) == (
        f"checkpoint {path} reads as ppfn_restormer, but inferred config: 'heads' must be divisors of each "
        "level's channels (dim·2^level: 16 at level 0) (got [3, 2, 4, 8])"
    )
