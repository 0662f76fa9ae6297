"""Inference levers for the networks: reduced precision, channels-last, ``torch.compile`` and CUDA graphs.

Each lever is a small, separately testable piece so that ``benchmarks/gpu_suite.py`` can measure them one
at a time against the fp32 eager path (which reproduces the official numerics), and the method runners
can offer them as options (``load_method("ppfn", precision="bf16", compile=True)``).

Where a lever cannot apply (CUDA graphs on a CPU, ``torch.compile`` without a compiler backend) it raises
a one-line :class:`HmtirError` saying why, or, when the caller asked for a fallback, returns the eager
object together with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hmtir.errors import HmtirError

PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILE_CACHE_DIRNAME = "torch-compile"
# Measured with torch 2.13.0 and 2.14.1 on some x86 CPUs (not on others, e.g. AMD EPYC with AVX512-BF16):
# inductor's vectorised C++ kernels return NaN for a bf16 Restormer block (LayerNorm → MDTA; conv → chunk →
# F.normalize), so every compiled bf16 Restormer-PPFN output was NaN there. Whether *this* machine has the
# bug is decided by running that block once (:func:`low_precision_compile_problem`), not by a blanket rule.
PROBE_TOLERANCE = 2e-2  # |compiled − eager| of the probe block under bf16/fp16 rounding (measured ≤ 1.5e-3)


@dataclass(frozen=True)
class InferenceOptions:
    """How a network is run; recorded in results so a bf16 or compiled score is never mistaken for fp32."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    engine: str = "torch"  # hmtir.engines: torch | onnxruntime | openvino | auto

    def __post_init__(self) -> None:
        from hmtir.engines import check_engine_name

        parse_precision(self.precision)
        check_engine_name(self.engine, allow_auto=True)
        if self.engine != "torch" and (self.channels_last or self.compile):
            lever = "compile" if self.compile else "channels_last"
            raise HmtirError(f"{lever} is a torch lever: use it with engine torch, not {self.engine}")

    @property
    def is_default(self) -> bool:
        return self == InferenceOptions()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_precision(name: str) -> torch.dtype:
    """``fp32``/``bf16``/``fp16`` → dtype; anything else is a one-line error listing the choices."""
    try:
        return PRECISIONS[name]
    except KeyError:
        raise HmtirError(f"unknown precision '{name}' (use {', '.join(PRECISIONS)})") from None


def _device_type(device: torch.device | str) -> str:
    return torch.device(device).type


@contextlib.contextmanager
def autocast(
    device: torch.device | str, precision: str = "fp32", cache_enabled: bool = True
) -> Iterator[None]:
    """Mixed-precision region: matmuls/convs in ``precision``, reductions and norms stay fp32 (torch's policy).

    ``fp32`` is a no-op. ``cache_enabled=False`` is required inside CUDA-graph capture (the autocast weight
    cache would otherwise hold tensors created outside the graph's memory pool).
    """
    dtype = parse_precision(precision)
    if dtype == torch.float32:
        yield
        return
    device_type = _device_type(device)
    if device_type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise HmtirError(f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16")
    with torch.autocast(device_type=device_type, dtype=dtype, cache_enabled=cache_enabled):
        yield


def to_channels_last(module: nn.Module) -> nn.Module:
    """Store 4-D weights NHWC so convolutions pick NHWC kernels; the per-pixel LayerNorms then need no copy."""
    return module.to(memory_format=torch.channels_last)


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """NHWC strides for a 4-D batch (values unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


# --- torch.compile ---------------------------------------------------------------------------------------


def compile_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Where inductor keeps compiled graphs and kernels: ``cache_dir``, else ``$TORCHINDUCTOR_CACHE_DIR``,
    else ``<hmtir data home>/torch-compile`` — persistent, so a second process skips most of the compile."""
    from hmtir.paths import data_home

    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    return Path(env) if env and not _is_inductor_default(env) else data_home() / COMPILE_CACHE_DIRNAME


def _is_inductor_default(path: str) -> bool:
    """Importing ``torch._dynamo`` writes inductor's own default (``/tmp/torchinductor_<user>``) into
    ``$TORCHINDUCTOR_CACHE_DIR``; that value is not a user's choice and would make the cache non-persistent."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        return False
    return os.path.abspath(path) == os.path.abspath(default_cache_dir())


def configure_compile_cache(cache_dir: str | Path | None = None) -> Path:
    """Point inductor (and Triton, via inductor) at a persistent cache and turn the on-disk caches on."""
    path = compile_cache_dir(cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    os.environ.setdefault("TRITON_CACHE_DIR", str(path / "triton"))
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if hasattr(inductor_config, "autotune_local_cache"):
        inductor_config.autotune_local_cache = True
    return path


def _cpp_compiler() -> str | None:
    candidates = [os.environ.get("CXX")] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    for name in candidates:
        found = shutil.which(name) if name else None
        if found:
            return found
    return None


def compile_unavailable_reason(device: torch.device | str, precision: str = "fp32") -> str | None:
    """Why ``torch.compile`` cannot build correct kernels for ``device`` (and ``precision``), or None."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (needs torch >= 2.0)"
    from torch._dynamo import is_dynamo_supported

    if not is_dynamo_supported():
        return f"torch.compile does not support this Python ({sys.version.split()[0]}) with torch {torch.__version__}"
    device_type = _device_type(device)
    if device_type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "torch.compile on CUDA needs Triton (pip install triton) and a GPU of compute capability >= 7.0"
        return None
    if device_type == "cpu":
        if _cpp_compiler() is None:
            where = (
                f"$CXX={os.environ['CXX']} is not on PATH"
                if os.environ.get("CXX")
                else "no g++/c++/clang++ on PATH"
            )
            return f"torch.compile on CPU needs a C++ compiler ({where})"
        if parse_precision(precision) != torch.float32:
            return low_precision_compile_problem(precision)
        return None
    return f"torch.compile is not set up for device type '{device_type}' in hmtir"


_PROBE_VERDICTS: dict[str, str | None] = {}


def low_precision_compile_problem(precision: str) -> str | None:
    """Why compiled ``precision`` (bf16/fp16) kernels are wrong on this CPU, or None when they are right.

    Compiles one small Restormer block (the case that gave NaN) under autocast and compares it with eager.
    The verdict is cached per process and on disk beside the compile cache, keyed by torch version, CPU and
    precision, so the probe's compile (seconds) is paid once per machine.
    """
    key = f"{torch.__version__}|{_cpu_signature()}|{precision}"
    if key in _PROBE_VERDICTS:
        return _PROBE_VERDICTS[key]
    record = compile_cache_dir() / "hmtir-cpu-probe.json"
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and key in known:
        verdict = known[key]
    else:
        verdict = _run_probe(precision)
        known = known if isinstance(known, dict) else {}
        with contextlib.suppress(OSError):
            from hmtir.io.atomic import atomic_write_text

            atomic_write_text(record, json.dumps({**known, key: verdict}, indent=1))
    _PROBE_VERDICTS[key] = verdict
    return verdict


def _cpu_signature() -> str:
    """CPU model and instruction-set flags: what decides which C++ kernels inductor generates."""
    import hashlib
    import platform

    text = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith(("model name", "flags")):
                text += line
            if line.startswith("flags"):
                break
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def probe_case() -> tuple[nn.Module, torch.Tensor]:
    """The probe: a Restormer block (LayerNorm → MDTA, where the NaN appeared) and a fixed input."""
    from hmtir.models.restormer import TransformerBlock

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        block = TransformerBlock(32, 2, 2.66, False, "WithBias", "mdta").eval()
        x = torch.randn(1, 32, 16, 20) * 0.1
    return block, x


def _run_probe(precision: str) -> str | None:
    configure_compile_cache()
    block, x = probe_case()
    try:
        with torch.inference_mode(), autocast("cpu", precision):
            eager = block(x).float()
            compiled = torch.compile(block, dynamic=False)(x).float()
    except Exception as err:  # noqa: BLE001 - any compiler failure means "not usable here"
        return f"torch.compile with {precision} failed on this CPU ({type(err).__name__})"
    if not bool(torch.isfinite(compiled).all()):
        return (
            f"torch.compile on this CPU returns NaN under {precision} autocast (inductor's vectorised C++ "
            f"kernels, probed with a Restormer block); only fp32 compiles correctly here"
        )
    error = float((compiled - eager).abs().max())
    if error > PROBE_TOLERANCE:
        return (
            f"torch.compile on this CPU is off by {error:.3g} under {precision} autocast on a probe block "
            f"(tolerance {PROBE_TOLERANCE}); only fp32 compiles correctly here"
        )
    return None


def compile_module(
    module: nn.Module,
    device: torch.device | str,
    mode: str = "default",
    cache_dir: str | Path | None = None,
    fallback: bool = False,
    precision: str = "fp32",
) -> tuple[nn.Module, str | None]:
    """``torch.compile`` with a persistent cache; returns ``(module_to_call, reason_not_compiled)``.

    Compilation itself is lazy (first call, per input shape). When compiling is impossible here, raises a
    one-line error, or with ``fallback=True`` returns the eager module and the reason.
    ``mode="reduce-overhead"`` also captures CUDA graphs (inductor's cudagraph trees) on CUDA.
    ``precision`` is the autocast the module will run under (see :func:`low_precision_compile_problem`).
    """
    if mode not in COMPILE_MODES:
        raise HmtirError(f"unknown compile mode '{mode}' (use {', '.join(COMPILE_MODES)})")
    reason = compile_unavailable_reason(device, precision)
    if reason is not None:
        if fallback:
            return module, reason
        raise HmtirError(f"cannot compile: {reason}; run without --compile")
    configure_compile_cache(cache_dir)
    return torch.compile(module, mode=mode, dynamic=False), None


# --- CUDA graphs -----------------------------------------------------------------------------------------


class CudaGraphRunner:
    """Replays one captured call of ``fn`` on a fixed input shape: one launch instead of thousands.

    ``fn`` must be free of host synchronisation and host→device copies (keep prompts and weights on the
    GPU beforehand) and, under autocast, use ``cache_enabled=False``. The returned tensor is the graph's
    static output buffer: it is overwritten by the next call, so clone it if you keep it.
    """

    def __init__(
        self, fn: Callable[[torch.Tensor], torch.Tensor], example: torch.Tensor, warmup: int = 2
    ) -> None:
        if example.device.type != "cuda":
            raise HmtirError(
                f"CUDA graph capture needs a CUDA tensor, got one on '{example.device}'; run on --device cuda"
            )
        self.fn = fn
        self.static_input = example.clone()
        side = torch.cuda.Stream(device=example.device)
        side.wait_stream(torch.cuda.current_stream(example.device))
        with torch.cuda.stream(side):  # warm-up off the default stream, as capture requires
            for _ in range(warmup):
                fn(self.static_input)
        torch.cuda.current_stream(example.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_output = fn(self.static_input)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape != self.static_input.shape or x.dtype != self.static_input.dtype:
            raise HmtirError(
                f"this CUDA graph was captured for {tuple(self.static_input.shape)} {self.static_input.dtype}, "
                f"got {tuple(x.shape)} {x.dtype}; capture another graph for that shape"
            )
        self.static_input.copy_(x)
        self.graph.replay()
        return self.static_output


def bank_on_device(bank: Any, device: torch.device | str) -> Any:
    """A copy of a :class:`~hmtir.models.prompts.PromptBank` whose tensors already live on ``device``.

    ``PromptBank.prompts`` then moves nothing, so a forward pass has no host→device copy (needed for CUDA
    graph capture, and saves a copy per pass otherwise).
    """
    if bank is None:
        return None
    from hmtir.models.prompts import PromptBank

    return PromptBank(
        {k: v.to(device) for k, v in bank.degradation.items()},
        {k: v.to(device) for k, v in bank.scenario.items()},
        bank.origin,
    )


__all__ = [
    "COMPILE_MODES",
    "PRECISIONS",
    "CudaGraphRunner",
    "InferenceOptions",
    "autocast",
    "bank_on_device",
    "channels_last_input",
    "compile_cache_dir",
    "compile_module",
    "compile_unavailable_reason",
    "low_precision_compile_problem",
    "configure_compile_cache",
    "parse_precision",
    "to_channels_last",
]
