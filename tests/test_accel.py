"""Inference levers (hmtir.models.accel), their method options, the prefetching reader and the GPU suite.

Everything here runs on CPU: bf16 autocast vs fp32 on a tiny Restormer-PPFN, channels-last equality,
torch.compile's availability check and fallback (without compiling), CUDA-graph refusal on CPU, the
``ppfn`` method's precision/channels_last options, ``prefetch`` ordering and error hand-off, and
``benchmarks/gpu_suite.py --quick`` end to end in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.evaluation.run import prefetch
from hmtir.methods import load_method
from hmtir.models import create_model
from hmtir.models.accel import (
    CudaGraphRunner,
    InferenceOptions,
    autocast,
    bank_on_device,
    channels_last_input,
    compile_cache_dir,
    compile_module,
    compile_unavailable_reason,
    parse_precision,
    to_channels_last,
)
from hmtir.models.checkpoint import save_checkpoint
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import spt_restore

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "dim": 8,
    "num_blocks": [1, 1, 1, 1],
    "num_refinement_blocks": 1,
    "heads": [1, 1, 2, 2],
    "prompt": {"dim": 16},
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, PromptBank, torch.Tensor]:
    torch.manual_seed(0)
    model = create_model("ppfn_restormer", **TINY).eval()
    bank = PromptBank.seeded(map_size=32)
    x = torch.rand(2, 1, 32, 40, generator=torch.Generator().manual_seed(1))
    return model, bank, x


def _spt(model: torch.nn.Module, bank: PromptBank, x: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    with torch.inference_mode(), autocast("cpu", precision):
        return spt_restore(model, bank, x, "composite").float()


def test_bf16_autocast_on_cpu_stays_within_bf16_tolerance_of_fp32(tiny) -> None:
    model, bank, x = tiny
    ref = _spt(model, bank, x)
    out = _spt(model, bank, x, "bf16")
    rel = ((out - ref).norm() / ref.norm()).item()
    # bf16 has an 8-bit mantissa (2^-8 ≈ 3.9e-3 per rounding); measured 3.3e-3 on this net and input.
    assert 1e-5 < rel < 2e-2, rel  # changed something (bf16 really ran) but stays close
    assert (out - ref).abs().max().item() < 5e-2
    with torch.inference_mode(), autocast("cpu", "bf16"):
        assert torch.nn.functional.linear(torch.rand(2, 3), torch.rand(4, 3)).dtype == torch.bfloat16


def test_fp32_autocast_is_a_no_op_and_unknown_precision_is_one_line(tiny) -> None:
    model, bank, x = tiny
    assert torch.equal(_spt(model, bank, x, "fp32"), _spt(model, bank, x))
    with pytest.raises(HmtirError, match=r"^unknown precision 'int8' \(use fp32, bf16, fp16\)$"):
        parse_precision("int8")
    with pytest.raises(HmtirError, match="unknown precision 'half'"):
        InferenceOptions(precision="half")


def test_channels_last_gives_the_same_output(tiny) -> None:
    model, bank, x = tiny
    ref = _spt(model, bank, x)
    import copy

    model_cl = to_channels_last(copy.deepcopy(model))
    assert model_cl.patch_embed.proj.weight.is_contiguous(memory_format=torch.channels_last)
    x_cl = channels_last_input(x)
    assert x_cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(x_cl, x)
    out = _spt(model_cl, bank, x_cl)
    assert (out - ref).abs().max().item() < 1e-5


def test_compile_unavailable_raises_one_line_or_falls_back(tmp_path, monkeypatch) -> None:
    module = torch.nn.Linear(2, 2)
    monkeypatch.setenv(
        "PATH", str(tmp_path)
    )  # no C++ compiler reachable: inductor's CPU backend cannot build
    monkeypatch.delenv("CXX", raising=False)
    reason = compile_unavailable_reason("cpu")
    assert reason == "torch.compile on CPU needs a C++ compiler (no g++/c++/clang++ on PATH)"
    with pytest.raises(
        HmtirError, match=r"^cannot compile: torch.compile on CPU needs a C\+\+ compiler .*without --compile$"
    ):
        compile_module(module, "cpu")
    same, why = compile_module(module, "cpu", fallback=True)
    assert same is module and why == reason
    monkeypatch.setenv("CXX", "no-such-compiler")
    assert "$CXX=no-such-compiler is not on PATH" in compile_unavailable_reason("cpu")
    with pytest.raises(HmtirError, match="unknown compile mode 'fast'"):
        compile_module(module, "cpu", mode="fast")


def test_compile_wraps_lazily_and_uses_a_persistent_cache_under_the_data_home(tmp_path, monkeypatch) -> None:
    if compile_unavailable_reason("cpu") is not None:
        pytest.skip(compile_unavailable_reason("cpu"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    monkeypatch.setenv("HMTIR_HOME", str(tmp_path / "home"))
    assert compile_cache_dir() == tmp_path / "home" / "torch-compile"
    module = torch.nn.Linear(2, 2)
    compiled, why = compile_module(module, "cpu")  # wraps only: compilation happens on the first call
    import os

    assert why is None and compiled is not module and compiled._orig_mod is module
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "home" / "torch-compile")
    assert (tmp_path / "home" / "torch-compile").is_dir()
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache_dir() == tmp_path / "mine"  # an explicit inductor setting wins
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    # ... but not the /tmp default that importing torch._dynamo writes into the variable by itself
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())
    assert compile_cache_dir() == tmp_path / "home" / "torch-compile"


def test_cpu_reduced_precision_refusal_follows_the_probe(tmp_path, monkeypatch) -> None:
    """The refusal is this machine's probe verdict, not a blanket rule: both verdicts, both behaviours."""
    if compile_unavailable_reason("cpu") is not None:
        pytest.skip(compile_unavailable_reason("cpu"))
    from hmtir.models import accel

    module = torch.nn.Linear(2, 2)
    broken = (
        "torch.compile on this CPU returns NaN under bf16 autocast (probe); only fp32 compiles correctly here"
    )
    monkeypatch.setattr(accel, "_run_probe", lambda precision: broken)
    monkeypatch.setattr(accel, "_PROBE_VERDICTS", {})
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    assert compile_unavailable_reason("cpu", "bf16") == broken
    with pytest.raises(
        HmtirError,
        match=r"^cannot compile: torch.compile on this CPU returns NaN under bf16 .*without --compile$",
    ):
        compile_module(module, "cpu", precision="bf16")
    assert compile_module(module, "cpu", precision="bf16", fallback=True) == (module, broken)
    monkeypatch.setattr(accel, "_run_probe", lambda precision: None)
    monkeypatch.setattr(accel, "_PROBE_VERDICTS", {})
    (tmp_path / "hmtir-cpu-probe.json").unlink()  # another machine: no verdict remembered
    assert compile_unavailable_reason("cpu", "bf16") is None
    assert compile_module(module, "cpu", precision="fp32")[1] is None


def test_probe_verdict_is_cached_on_disk_per_machine(tmp_path, monkeypatch) -> None:
    from hmtir.models import accel

    calls = []
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(accel, "_run_probe", lambda precision: calls.append(precision) or None)
    monkeypatch.setattr(accel, "_PROBE_VERDICTS", {})
    assert accel.low_precision_compile_problem("bf16") is None
    monkeypatch.setattr(accel, "_PROBE_VERDICTS", {})  # a new process: only the file remembers
    assert accel.low_precision_compile_problem("bf16") is None
    assert calls == ["bf16"] and (tmp_path / "hmtir-cpu-probe.json").is_file()


@pytest.mark.slow
def test_compiled_bf16_is_refused_or_right_on_this_cpu(tmp_path, monkeypatch) -> None:
    """Whatever this CPU's verdict: either compile+bf16 is refused, or its output matches eager bf16.

    (The inductor bug gives NaN on some x86 CPUs and not on others, so the test asserts the product's
    behaviour for the verdict this machine gets, never the verdict itself.)
    """
    if compile_unavailable_reason("cpu") is not None:
        pytest.skip(compile_unavailable_reason("cpu"))
    from hmtir.models import accel

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(accel, "_PROBE_VERDICTS", {})
    torch._dynamo.reset()
    block, x = accel.probe_case()
    block.load_state_dict({k: v + 0.01 * torch.randn_like(v) for k, v in block.state_dict().items()})
    verdict = compile_unavailable_reason("cpu", "bf16")
    if verdict is not None:
        with pytest.raises(HmtirError, match=r"^cannot compile: torch.compile on this CPU"):
            compile_module(block, "cpu", precision="bf16")
        return
    compiled, _ = compile_module(block, "cpu", precision="bf16")
    with torch.inference_mode(), autocast("cpu", "bf16"):
        eager, out = block(x).float(), compiled(x).float()
    assert torch.isfinite(out).all()
    assert (out - eager).abs().max().item() < accel.PROBE_TOLERANCE


def test_cuda_graph_runner_refuses_cpu_tensors() -> None:
    with pytest.raises(HmtirError, match=r"CUDA graph capture needs a CUDA tensor, got one on 'cpu'"):
        CudaGraphRunner(lambda x: x * 2, torch.rand(1, 1, 4, 4))


def test_bank_on_device_copies_without_changing_values() -> None:
    bank = PromptBank.seeded(map_size=8)
    moved = bank_on_device(bank, "cpu")
    assert moved is not bank and moved.origin == bank.origin and bank_on_device(None, "cpu") is None
    assert all(torch.equal(moved.degradation[k], v) for k, v in bank.degradation.items())


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = create_model("ppfn_restormer", **TINY).eval()
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "tiny.pt", "ppfn_restormer", model, PromptBank.seeded(map_size=32)
    )


def test_ppfn_method_options(tiny_ckpt: Path) -> None:
    x = torch.rand(1, 1, 29, 35, generator=torch.Generator().manual_seed(2))
    plain = load_method("ppfn", weights=str(tiny_ckpt))
    ref = plain.restore(x)
    assert plain.describe()["inference"] == {
        "precision": "fp32",
        "channels_last": False,
        "compile": False,
        "engine": "torch",
    }
    nhwc = load_method("ppfn", weights=str(tiny_ckpt), channels_last=True)
    assert (nhwc.restore(x) - ref).abs().max().item() < 1e-5
    bf16 = load_method("ppfn", weights=str(tiny_ckpt), precision="bf16")
    out = bf16.restore(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert 0 < ((out - ref).norm() / ref.norm()).item() < 2e-2
    assert bf16.describe()["inference"]["precision"] == "bf16"
    with pytest.raises(HmtirError, match="unknown precision 'fp8'"):
        load_method("ppfn", weights=str(tiny_ckpt), precision="fp8")
    with pytest.raises(HmtirError, match=r"method 'identity' does not take precision"):
        load_method("identity", precision="bf16")


def test_every_spt_pass_gets_an_inference_tensor(tiny_ckpt: Path) -> None:
    """Dynamo guards on the inference flag: a plain first input and inference tensors after it = 2 compiles."""
    method = load_method("ppfn", weights=str(tiny_ckpt))
    seen: list[bool] = []
    method.loaded.model.register_forward_pre_hook(lambda _, args: seen.append(args[0].is_inference()))
    method.restore(torch.rand(1, 1, 32, 40))  # a plain tensor of a size that needs no padding
    with torch.inference_mode():
        method.restore(torch.rand(1, 1, 32, 40))  # as hmtir.evaluate calls it
    assert seen == [True] * 6


def test_prefetch_keeps_order_overlaps_and_hands_errors_over() -> None:
    produced: list[int] = []

    def slow_source():
        for i in range(5):
            time.sleep(0.02)
            produced.append(i)
            yield i

    stream = prefetch(slow_source(), depth=2)
    assert next(stream) == 0
    time.sleep(0.1)  # the consumer "computes"; the reader keeps going meanwhile
    assert len(produced) >= 3  # item 0 consumed + up to 2 buffered + 1 waiting to be put
    assert [0, *stream] == [0, 1, 2, 3, 4]
    assert list(prefetch(iter(range(3)), depth=0)) == [0, 1, 2]

    def failing():
        yield 1
        raise HmtirError("corrupt image x.png")

    stream = prefetch(failing())
    assert next(stream) == 1
    with pytest.raises(HmtirError, match="corrupt image x.png"):
        next(stream)


def test_prefetch_stops_its_thread_when_the_consumer_leaves() -> None:
    before = threading.active_count()
    stream = prefetch(iter(range(1000)), depth=1)
    assert next(stream) == 0
    stream.close()
    deadline = time.time() + 3
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_gpu_suite_quick_runs_end_to_end_on_cpu(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "gpu_suite.md").read_text()
    payload = json.loads((tmp_path / "gpu_suite.json").read_text())
    rows = {(r["section"], r["variant"]): r for r in payload["rows"]}
    assert not [r for r in payload["rows"] if r["note"].startswith("ERROR")], table
    assert payload["header"]["mode"] == "quick" and payload["header"]["torch"] == torch.__version__
    fp32, fp64 = rows[("infer", "fp32 eager")], rows[("infer", "fp64 eager")]
    assert fp32["value"] > 0 and fp32["rel"] == 0.0
    assert fp64["rel"] < 1e-5  # float32 error floor
    assert 1e-5 < rows[("infer", "bf16 autocast")]["rel"] < 2e-2
    assert rows[("infer", "bf16 + channels_last")]["max_abs"] < 5e-2
    assert rows[("train", "fp32 per-pass backward")]["rel"] < 1e-5  # exact lever: same gradients
    assert rows[("degrade", "device vs CPU")]["max_abs"] == 0.0
    for batch in (2, 4, 8):
        assert rows[("degrade", f"batch {batch}")]["value"] > 0
    assert rows[("evaluate", "prefetch on")]["extra"]["frames"] == 40  # 8 scenes × 5 subsets
    assert "n/a: CUDA graphs need a CUDA device" in table and "| predicted |" in table
    assert "0.240 s (anchor)" in table and "(TF32 off)" in table
