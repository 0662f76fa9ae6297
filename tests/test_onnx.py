"""ONNX both ways: ``hmtir export-model`` (PPFN with prompt inputs, dynamic H×W) and ``--method onnx``.

The exported shipped PPFN and a tiny Restormer are compared with torch (max abs ≤ 1e-4, odd sizes included);
the round trip export → ``evaluate --method onnx`` scores what ``--method ppfn`` scores; models hmtir cannot
feed are built here with ``onnx.helper`` and refused in one line with nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, helper

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.methods import load_method
from hmtir.models import create_model
from hmtir.models.onnx_export import OPSET, compare_with_torch, export_onnx
from hmtir.weights import sha256_file
from tests.test_evaluate import make_layout

pytestmark = pytest.mark.slow  # the dynamo exporter traces for tens of seconds on a loaded 2-core CPU

TINY_RESTORMER = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 1, 1]}


@pytest.fixture(scope="module")
def ppfn_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shipped compact PPFN (agc weights) exported through the CLI, and the CLI's output."""
    path = tmp_path_factory.mktemp("export") / "ppfn.onnx"
    args = ["export-model", "ppfn", "--weights", "agc", "--format", "onnx", "--out", str(path)]
    result = CliRunner().invoke(cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return path, result.output


def _model(path: Path, inputs: list, outputs: list, nodes: list) -> Path:
    graph = helper.make_graph(nodes, "test", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return path


def _grey(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _invert(path: Path, shape: list) -> Path:
    """``1 - x`` on an input of ``shape``: a foreign single-input model."""
    one = helper.make_node(
        "Constant", [], ["one"], value=helper.make_tensor("v", TensorProto.FLOAT, [], [1.0])
    )
    sub = helper.make_node("Sub", ["one", "x"], ["y"])
    return _model(path, [_grey("x", shape)], [_grey("y", shape)], [one, sub])


def test_exported_ppfn_states_what_it_is_and_equals_torch(ppfn_onnx: tuple[Path, str]) -> None:
    path, output = ppfn_onnx
    assert "opset" in output and str(OPSET) in output and "degradation, scenario" in output
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    method = load_method("ppfn", weights="agc")
    assert meta["hmtir.method"] == "ppfn.agc" and meta["hmtir.model"] == "ppfn_nafnet"
    assert meta["hmtir.weights_sha256"] == method.weights_sha256
    assert meta["hmtir.prompt_inputs"] == "degradation,scenario" and meta["hmtir.spt_unrolled"] == "false"
    assert meta["hmtir.opset"] == str(OPSET) and proto.opset_import[0].version == OPSET
    assert [i.name for i in proto.graph.input] == ["image", "degradation", "scenario", "frame_stats"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 1 and all(
        d.dim_param and not d.dim_value for d in (dims[0], dims[2], dims[3])
    )
    # every prompt pair (composite = three SPT passes), even and odd sizes, each compared with the torch method
    rows = compare_with_torch(path, method, sizes=((32, 40), (33, 47)), tolerance=None, seed=3)
    assert len(rows) == 8 and max(r["max_abs_diff"] for r in rows) <= 1e-4
    # the prompts matter: composite (three passes) and blur (one) give different frames
    onnx_method = load_method("onnx", weights=str(path))
    frame = torch.rand(1, 1, 32, 40, generator=torch.Generator().manual_seed(1))
    assert float((onnx_method(frame, "composite") - onnx_method(frame, "blur")).abs().max()) > 1e-3
    assert onnx_method.weights_sha256 == sha256_file(path) and onnx_method.meta.uses_prompts


def test_tiny_restormer_export_equals_torch_at_odd_sizes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = create_model("restormer", **TINY_RESTORMER).eval()
    report = export_onnx(net, tmp_path / "restormer.onnx", check_sizes=((32, 40), (37, 45)))
    assert report.inputs == ["image"] and report.metadata["hmtir.size_multiple"] == "8"
    assert max(r["max_abs_diff"] for r in report.checks) <= 1e-4
    method = load_method("onnx", weights=str(tmp_path / "restormer.onnx"))
    frame = torch.rand(3, 1, 29, 51, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        padded = torch.nn.functional.pad(frame, (0, 5, 0, 3), mode="reflect")
        expected = net(padded)[..., :29, :51].clamp(0, 1)
    assert float((method(frame, "noise") - expected).abs().max()) <= 1e-4
    assert not method.meta.uses_prompts


def test_round_trip_scores_equal_the_torch_method(ppfn_onnx: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = ppfn_onnx
    layout = make_layout(tmp_path / "bench")
    common = ["--data", str(layout), "--metrics", "psnr", "--device", "cpu", "--batch-size", "2"]
    runs = {}
    for name, method in (
        ("torch", ["--method", "ppfn", "--weights", "agc"]),
        ("onnx", ["--method", "onnx", "--weights", str(path)]),
    ):
        out = tmp_path / name
        result = CliRunner().invoke(
            cli, ["evaluate", *method, *common, "--out", str(out)], terminal_width=160
        )
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((out / "summary.json").read_text())
        records = pd.read_csv(out / "records.csv").sort_values(["subset", "name"])
        runs[name]["psnr"] = records["psnr"].to_numpy()
    assert len(runs["onnx"]["psnr"]) == 10
    np.testing.assert_allclose(runs["onnx"]["psnr"], runs["torch"]["psnr"], rtol=0, atol=1e-4)
    assert runs["onnx"]["method"]["weights_sha256"] == sha256_file(path)
    assert runs["onnx"]["run"]["weights_sha256"] == sha256_file(path)
    assert (
        runs["onnx"]["method"]["onnx_metadata"]["hmtir.weights_sha256"]
        == runs["torch"]["method"]["weights_sha256"]
    )
    # resume: the finished run is loaded, not recomputed
    again = CliRunner().invoke(
        cli,
        ["evaluate", "--method", "onnx", "--weights", str(path), *common, "--out", str(tmp_path / "onnx")],
    )
    assert again.exit_code == 0 and "already exist" in again.output


def test_foreign_single_input_model_runs_and_fixed_batch_one_is_looped(tmp_path: Path) -> None:
    frames = torch.rand(3, 1, 32, 40, generator=torch.Generator().manual_seed(4))
    dynamic = load_method("onnx", weights=str(_invert(tmp_path / "inv.onnx", ["n", 1, "h", "w"])))
    assert torch.allclose(dynamic(frames, "composite"), 1 - frames, atol=1e-6)
    fixed = load_method("onnx", weights=str(_invert(tmp_path / "fixed.onnx", [1, 1, 32, 40])))
    assert torch.allclose(fixed(frames, "blur"), 1 - frames, atol=1e-6)
    with pytest.raises(HmtirError, match=r"exactly 32×40 \(fixed shape\), not 33×40"):
        fixed(torch.rand(1, 1, 33, 40), "blur")


def _refusals(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    add = helper.make_node("Add", ["a", "b"], ["y"])
    return {
        "three channels": (_invert(tmp_path / "rgb.onnx", ["n", 3, "h", "w"]), "takes 3 channels"),
        "rank 3": (_invert(tmp_path / "rank3.onnx", ["n", "h", "w"]), "has rank 3"),
        "two inputs": (
            _model(
                tmp_path / "two.onnx",
                [_grey("a", ["n", 1, "h", "w"]), _grey("b", ["n", 1, "h", "w"])],
                [_grey("y", ["n", 1, "h", "w"])],
                [add],
            ),
            "has 2 inputs (a, b)",
        ),
        "fixed shape": (
            _invert(tmp_path / "fixed.onnx", [1, 1, 16, 16]),
            "exactly 16×16 (fixed shape), not 32×40",
        ),
    }


@pytest.mark.parametrize("case", ["three channels", "rank 3", "two inputs", "fixed shape"])
def test_models_hmtir_cannot_feed_are_one_line_and_nothing_is_written(tmp_path: Path, case: str) -> None:
    layout = make_layout(tmp_path / "bench")
    path, reason = _refusals(tmp_path)[case]
    out = tmp_path / "results"
    args = [
        "evaluate",
        "--method",
        "onnx",
        "--weights",
        str(path),
        "--data",
        str(layout),
        "--subset",
        "normal",
    ]
    result = CliRunner().invoke(cli, [*args, "--metrics", "psnr", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 1
    assert (
        result.output.count("\n") == 1 and result.output.startswith("Error: ") and str(path) in result.output
    )
    assert reason in result.output
    assert not out.exists()


class _DataDependent(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.mean()) > 0.5:  # a Python branch on a value: no static graph can hold it
            return x
        return 1 - x


def test_models_that_cannot_be_exported_are_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export-model", "wfaf", "--out", str(tmp_path / "w.onnx")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("Error: method 'wfaf' cannot be exported to ONNX")
    with pytest.raises(HmtirError, match=r"^model '_DataDependent' cannot be exported to ONNX: \w+"):
        export_onnx(_DataDependent(), tmp_path / "d.onnx")
    missing = CliRunner().invoke(cli, ["export-model", "ppfn", "--out", str(tmp_path / "no" / "p.onnx")])
    assert missing.exit_code == 1 and missing.output.count("\n") == 1 and "does not exist" in missing.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.distributed.is_available(), reason="machine: torch without distributed")
def test_sharded_run_equals_one_process_and_an_edited_file_is_another_method(tmp_path: Path) -> None:
    from hmtir.evaluation import evaluate

    layout = make_layout(tmp_path / "bench")
    model = _invert(tmp_path / "inv.onnx", ["n", 1, "h", "w"])
    single = evaluate(
        "onnx", data=layout, weights=model, out=tmp_path / "single", device="cpu", progress=False
    )
    out = tmp_path / "sharded"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    args = ["-m", "hmtir", "evaluate", "--method", "onnx", "--weights", str(model), "--data", str(layout)]
    done = subprocess.run(
        [*command, *args, "--device", "cpu", "--out", str(out)],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["run"] == single.summary["run"]
    assert summary["run"]["weights_sha256"] == sha256_file(model)
    sharded = pd.read_parquet(out / "records.parquet")
    pd.testing.assert_frame_equal(sharded.drop(columns="seconds"), single.records.drop(columns="seconds"))
    # the same graph with one more metadata entry is another file: its scores are not the cached ones
    proto = onnx.load(str(model))
    proto.metadata_props.add(key="note", value="edited")
    onnx.save(proto, str(model))
    with pytest.raises(HmtirError, match="different weights_sha256"):
        evaluate("onnx", data=layout, weights=model, out=tmp_path / "single", device="cpu", progress=False)
