"""Inference engines (hmtir.engines): each installed engine against torch, refusals, cache keys, auto probe.

Tiny Restormer-PPFN configs only; nothing here asserts which engine is fastest (that depends on the CPU and
lives in benchmarks/bench_engines.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hmtir import engines
from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate
from hmtir.methods import load_method
from hmtir.models import create_model
from hmtir.models.checkpoint import save_checkpoint
from hmtir.models.prompts import PromptBank
from tests.test_evaluate import make_layout

TINY = {
    "dim": 8,
    "num_blocks": [1, 1, 1, 1],
    "num_refinement_blocks": 1,
    "heads": [1, 1, 2, 2],
    "prompt": {"dim": 16},
}
INSTALLED = [name for name in engines.ENGINES if engines.unsupported_reason(name) is None]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = create_model("ppfn_restormer", **TINY).eval()
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "tiny.pt", "ppfn_restormer", model, PromptBank.seeded(map_size=32)
    )


@pytest.mark.parametrize("name", INSTALLED)
def test_each_installed_engine_matches_torch_fp32(tiny_ckpt: Path, name: str) -> None:
    """SPT composite (3 passes) and a single-degradation pass, on an odd size that needs padding."""
    x = torch.rand(2, 1, 29, 35, generator=torch.Generator().manual_seed(2))
    reference = load_method("ppfn", weights=str(tiny_ckpt))
    method = load_method("ppfn", weights=str(tiny_ckpt), engine=name)
    for degradation, scenario in (("composite", "composite"), ("blur", "single")):
        expected = reference.restore(x, degradation, scenario)
        got = method.restore(x, degradation, scenario)
        assert got.shape == expected.shape and got.dtype == torch.float32
        assert (got - expected).abs().max().item() <= 1e-5
    info = method.describe()["engine"]
    assert info["name"] == name and info["version"] == engines.engine_version(name)
    assert info["precision"] == "fp32"
    assert method.engine_options() == (
        {} if name == "torch" else {"engine": name, "engine_version": info["version"]}
    )


def test_unknown_and_missing_engines_are_one_line(
    tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(
        HmtirError, match=r"^unknown engine 'tensorrt' \(use auto, torch, onnxruntime, openvino\)$"
    ):
        load_method("ppfn", weights=str(tiny_ckpt), engine="tensorrt")
    with pytest.raises(HmtirError, match="compile is a torch lever: use it with engine torch, not openvino"):
        load_method("ppfn", weights=str(tiny_ckpt), engine="openvino", compile=True)
    with pytest.raises(HmtirError, match="engine onnxruntime runs fp32, not bf16"):
        load_method("ppfn", weights=str(tiny_ckpt), engine="onnxruntime", precision="bf16")
    monkeypatch.setattr(engines, "engine_version", lambda name: None if name == "openvino" else "1")
    with pytest.raises(HmtirError, match=r"^engine openvino is not installed \(pip install openvino\)$"):
        load_method("ppfn", weights=str(tiny_ckpt), engine="openvino")
    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), np.full((24, 32), 128, np.uint8))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["enhance", str(frame), "--out", str(out), "--method", "ppfn", "--weights", str(tiny_ckpt)]
        + ["--engine", "openvino"],
    )
    assert result.exit_code == 1 and not out.exists()
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "engine openvino is not installed" in result.output and "Traceback" not in result.output


def test_a_model_the_exporter_cannot_translate_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    if "onnxruntime" not in INSTALLED:
        pytest.skip("onnxruntime is not installed")

    class DataDependent(torch.nn.Module):
        """A forward whose control flow depends on values: no static graph exists."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2 if float(x.mean()) > 0.5 else x

    with pytest.raises(HmtirError, match=r"^model 'DataDependent' cannot be exported to ONNX: "):
        engines.build_runner("onnxruntime", DataDependent(), None)


def test_auto_notes_fallbacks_and_is_cached(tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    method = load_method("ppfn", weights=str(tiny_ckpt), engine="auto")
    note = capsys.readouterr().err.strip()
    chosen = method.describe()["engine"]
    assert note.startswith(f"engine auto (fp32): {chosen['name']}") and chosen["note"] == note
    record = json.loads((Path(engines._probe_file())).read_text())
    (key, verdict), *_ = record.items()
    assert verdict["chosen"] == chosen["name"] and "torch" in {row["engine"] for row in verdict["rows"]}
    assert all(row["passed"] == (row["max_abs"] <= engines.FP32_TOLERANCE) for row in verdict["rows"])

    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached verdict was not reused")

    probe = engines.probe
    monkeypatch.setattr(engines, "probe", no_probe)
    again = load_method("ppfn", weights=str(tiny_ckpt), engine="auto")
    assert again.describe()["engine"]["name"] == chosen["name"]
    monkeypatch.setattr(engines, "probe", probe)

    # another set of engine versions is another key: a fresh probe, and an engine missing there is noted
    monkeypatch.setattr(engines, "engine_version", lambda name: None if name == "openvino" else f"{name}-x")
    monkeypatch.setattr(engines, "unsupported_reason", _without_openvino(engines.unsupported_reason))
    capsys.readouterr()
    load_method("ppfn", weights=str(tiny_ckpt), engine="auto")
    note = capsys.readouterr().err
    assert "fell back past: engine openvino is not installed" in note
    assert len(json.loads(Path(engines._probe_file()).read_text())) == 2


def _without_openvino(original):  # type: ignore[no-untyped-def]
    def reason(name: str, precision: str = "fp32", device: str = "cpu") -> str | None:
        return (
            "engine openvino is not installed (pip install openvino)"
            if name == "openvino"
            else original(name, precision, device)
        )

    return reason


def test_results_are_keyed_by_engine(tiny_ckpt: Path, tmp_path: Path) -> None:
    """Two engines on the same data: two results folders, each recording its engine; a rerun loads."""
    other = next((name for name in INSTALLED if name != "torch"), None)
    if other is None:
        pytest.skip("no engine besides torch is installed")
    layout = make_layout(tmp_path / "bench")
    args = {"data": layout, "subsets": "single/noise", "metrics": "psnr", "weights": str(tiny_ckpt)}
    first = evaluate("ppfn", **args)
    second = evaluate("ppfn", **args, method_options={"engine": other})
    assert first.out != second.out
    assert first.summary["method"]["engine"]["name"] == "torch"
    assert second.summary["method"]["engine"]["name"] == other
    psnr_a = first.summary["subsets"]["single/noise"]["metrics"]["psnr"]["mean"]
    psnr_b = second.summary["subsets"]["single/noise"]["metrics"]["psnr"]["mean"]
    assert abs(psnr_a - psnr_b) < 1e-3
    assert evaluate("ppfn", **args, method_options={"engine": other}).loaded
