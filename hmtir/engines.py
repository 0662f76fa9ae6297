"""Inference engines for hmtir's networks on a CPU: torch, ONNX Runtime and OpenVINO, and ``auto``.

Why: the released Restormer-PPFN (26.6 M parameters) runs slowly in torch eager on a laptop or login node,
and the obvious lever, torch's bf16 autocast, is *slower* on some CPUs with native bf16 (AMD EPYC with
AVX512-BF16: a 1×1 conv 26× slower than fp32). So nothing here assumes a winner: ``auto`` times every
engine that is installed and supported on this CPU on a small frame of *this* model, keeps only those whose
output matches torch fp32 (fp32: max abs ≤ :data:`FP32_TOLERANCE`; reduced precision: PSNR ≥
:data:`REDUCED_PSNR_DB`), picks the fastest and caches the verdict in ``$HMTIR_HOME/engine-probe.json``
keyed by CPU model and flags, engine versions, precision, threads and the model's weights.

Each engine runs *one pass* of the network; the SPT loop (:func:`restore`) stays here in torch, exactly as
:func:`hmtir.models.spt.spt_restore` runs it (same schedule, clamping between passes, statistics of the
unpadded frame), so engines differ only by the arithmetic of a pass. ONNX Runtime and OpenVINO read the file
:func:`hmtir.models.onnx_export.export_onnx` writes (one exporter for everything), cached on disk by the
model's weights, torch and hmtir versions.

Nothing heavy is imported here at module level: ``hmtir --help`` lists ``--engine`` without torch,
onnxruntime or openvino.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError

if TYPE_CHECKING:
    import torch

    from hmtir.models.prompts import PromptBank

ENGINES = ("torch", "onnxruntime", "openvino")
ENGINE_CHOICES = ("auto", *ENGINES)
DEFAULT_ENGINE = "torch"
#: What ``pip install`` brings each engine (the distribution whose version is recorded).
DISTRIBUTIONS = {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}
#: Precisions each engine runs (torch's reduced ones are autocast; OpenVINO's is its inference hint).
PRECISIONS = {"torch": ("fp32", "bf16", "fp16"), "onnxruntime": ("fp32",), "openvino": ("fp32", "bf16")}
FP32_TOLERANCE = 1e-5  # max abs difference from torch fp32 for an fp32 engine (one pass, probe frame)
REDUCED_PSNR_DB = 50.0  # PSNR against torch fp32 for a reduced-precision engine
PROBE_SIZE = (64, 80)  # the probe frame (height, width): small, so the probe costs seconds
PROBE_REPEATS = 3
PROBE_FILE = "engine-probe.json"
EXPORT_DIRNAME = "engines"


def engine_version(name: str) -> str | None:
    """Installed version of ``name``'s distribution, or None; reads package metadata, imports nothing."""
    check_engine_name(name)
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return importlib.metadata.version(DISTRIBUTIONS[name])
    except importlib.metadata.PackageNotFoundError:
        return None


def check_engine_name(name: Any, allow_auto: bool = False) -> str:
    """``name`` if it is an engine (or ``auto`` where allowed), else one line listing them."""
    choices = ENGINE_CHOICES if allow_auto else ENGINES
    if not isinstance(name, str) or name not in choices:
        shown = ascii(name) if isinstance(name, str) else type(name).__name__
        raise HmtirError(f"unknown engine {shown} (use {', '.join(choices)})")
    return name


def _cpu_flags() -> set[str]:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def cpu_description() -> str:
    """CPU model name and the ISA extensions that decide kernels (AVX2/AVX-512/bf16/AMX/VNNI)."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_bf16", "amx_tile")
    flags = [flag for flag in wanted if flag in _cpu_flags()]
    return f"{model} [{' '.join(flags) or 'no AVX2'}]"


def native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX); without it bf16 is emulated."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def unsupported_reason(name: str, precision: str = "fp32", device: str = "cpu") -> str | None:
    """Why engine ``name`` cannot run ``precision`` on ``device`` (not installed, not this CPU), or None."""
    check_engine_name(name)
    if precision not in PRECISIONS[name]:
        return f"engine {name} runs {', '.join(PRECISIONS[name])}, not {precision}"
    if name == "torch":
        return None
    if not device.startswith("cpu"):
        return f"engine {name} runs on the CPU in hmtir (device {device}: use engine torch)"
    if engine_version(name) is None:
        return f"engine {name} is not installed (pip install {DISTRIBUTIONS[name]})"
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxscript") is None:
        return f"engine {name} runs hmtir's ONNX export, needing onnx and onnxscript (pip install onnxscript)"
    if name == "openvino":
        if platform.machine().lower() not in ("x86_64", "amd64", "aarch64", "arm64"):
            return f"engine openvino has no CPU plugin for {platform.machine()}"
        if precision == "bf16" and not native_bf16():
            return "engine openvino bf16 needs a CPU with AVX512-BF16 or AMX (this one has neither)"
    return None


# --- models: identity and export ------------------------------------------------------------------------


def model_digest(model: torch.nn.Module, bank: PromptBank | None = None) -> str:
    """sha256 of a network's class, tensors and prompt bank: what an export and a probe verdict depend on."""
    import torch

    digest = hashlib.sha256(type(model).__qualname__.encode())
    tensors = list(model.state_dict().items())
    if bank is not None:
        tensors += sorted((f"bank.d.{k}", v) for k, v in bank.degradation.items())
        tensors += sorted((f"bank.s.{k}", v) for k, v in bank.scenario.items())
    for key, tensor in tensors:
        digest.update(key.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def exported_onnx(model: torch.nn.Module, bank: PromptBank | None, digest: str) -> Path:
    """hmtir's ONNX export of ``model`` (one pass), written once per weights, torch and hmtir version.

    A model the exporter cannot translate is its one-line :class:`HmtirError`."""
    import torch

    from hmtir import __version__
    from hmtir.models.onnx_export import export_onnx
    from hmtir.paths import data_home

    key = hashlib.sha256(f"{digest}|{torch.__version__}|{__version__}".encode()).hexdigest()[:20]
    path = data_home() / EXPORT_DIRNAME / f"{type(model).__name__}-{key}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, path, bank=bank, check=False)  # checked per engine, against torch, by the caller
    return path


# --- one pass per engine --------------------------------------------------------------------------------


@dataclass
class EngineInfo:
    """What ran a network: recorded in provenance, and (name, version) key cached results."""

    name: str
    version: str | None
    precision: str
    note: str | None = None  # auto: what it chose and why (probe timings, fallbacks)

    def as_dict(self) -> dict[str, Any]:
        info = {"name": self.name, "version": self.version, "precision": self.precision}
        return {**info, "note": self.note} if self.note else info


class Runner:
    """One pass of a network on ``1×1×H×W`` padded float32 frames; subclasses run it on an engine."""

    def __init__(self, model: torch.nn.Module, bank: PromptBank | None, precision: str) -> None:
        self.model = model
        self.bank = bank
        self.precision = precision
        self.prompted = bool(getattr(model, "uses_prompts", False))
        self.stats = bool(getattr(model, "uses_frame_stats", False))

    def one_pass(
        self, x: torch.Tensor, degradation: str, scenario: str, stats: torch.Tensor | None
    ) -> torch.Tensor:
        raise NotImplementedError


class TorchRunner(Runner):
    """torch eager (or the module given, e.g. compiled), with autocast for a reduced ``precision``."""

    def __init__(
        self,
        model: torch.nn.Module,
        bank: PromptBank | None,
        precision: str = "fp32",
        device: str = "cpu",
        network: torch.nn.Module | None = None,
    ) -> None:
        super().__init__(model, bank, precision)
        self.device = device
        self.network = network if network is not None else model

    def one_pass(
        self, x: torch.Tensor, degradation: str, scenario: str, stats: torch.Tensor | None
    ) -> torch.Tensor:
        import torch

        from hmtir.models.accel import autocast
        from hmtir.models.spt import run_pass

        with torch.inference_mode(), autocast(self.device, self.precision):
            return run_pass(self.network, self.bank, x, degradation, scenario, stats).float()


class _GraphRunner(Runner):
    """A one-pass ONNX graph (inputs image[, degradation, scenario][, frame_stats]) run on numpy arrays."""

    def _feed(self, x: torch.Tensor, degradation: str, scenario: str, stats: torch.Tensor | None) -> dict:
        import numpy as np

        from hmtir.vocabulary import DEGRADATIONS, SCENARIOS

        feed: dict[str, Any] = {"image": np.ascontiguousarray(x.detach().cpu().float().numpy())}
        if self.prompted:
            feed["degradation"] = np.array([DEGRADATIONS.index(degradation)], dtype=np.int64)
            feed["scenario"] = np.array([SCENARIOS.index(scenario)], dtype=np.int64)
        if self.stats:
            if stats is None:
                raise HmtirError("this network's range head needs the frame statistics")
            feed["frame_stats"] = np.ascontiguousarray(stats.detach().cpu().float().numpy())
        return feed


def _threads() -> int:
    import torch

    return max(1, torch.get_num_threads())


class OnnxRuntimeRunner(_GraphRunner):
    """ONNX Runtime's CPU provider, all graph optimisations, as many intra-op threads as torch uses."""

    def __init__(self, model: torch.nn.Module, bank: PromptBank | None, path: Path) -> None:
        super().__init__(model, bank, "fp32")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own exception types
            raise HmtirError(f"engine onnxruntime cannot load {path.name}: {_first_line(err)}") from None

    def one_pass(
        self, x: torch.Tensor, degradation: str, scenario: str, stats: torch.Tensor | None
    ) -> torch.Tensor:
        import torch

        try:
            out = self.session.run(["restored"], self._feed(x, degradation, scenario, stats))[0]
        except Exception as err:  # a shape the graph cannot take, out of memory
            raise HmtirError(
                f"engine onnxruntime failed on a {tuple(x.shape)} frame: {_first_line(err)}"
            ) from None
        return torch.from_numpy(out)


class OpenVinoRunner(_GraphRunner):
    """OpenVINO's CPU plugin on the same ONNX file; ``bf16`` sets its inference-precision hint."""

    def __init__(self, model: torch.nn.Module, bank: PromptBank | None, path: Path, precision: str) -> None:
        super().__init__(model, bank, precision)
        import openvino as ov

        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": "1",
            "INFERENCE_NUM_THREADS": str(_threads()),
        }
        try:
            core = ov.Core()
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as err:  # openvino's own exception types
            raise HmtirError(f"engine openvino cannot compile {path.name}: {_first_line(err)}") from None
        self.request = self.compiled.create_infer_request()

    def one_pass(
        self, x: torch.Tensor, degradation: str, scenario: str, stats: torch.Tensor | None
    ) -> torch.Tensor:
        import numpy as np
        import torch

        try:
            result = self.request.infer(self._feed(x, degradation, scenario, stats))
        except Exception as err:
            raise HmtirError(
                f"engine openvino failed on a {tuple(x.shape)} frame: {_first_line(err)}"
            ) from None
        out = result[self.compiled.output(0)]
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0][:300] if text else type(err).__name__) or type(err).__name__


def build_runner(
    name: str,
    model: torch.nn.Module,
    bank: PromptBank | None,
    precision: str = "fp32",
    device: str = "cpu",
    digest: str | None = None,
    network: torch.nn.Module | None = None,
) -> Runner:
    """Engine ``name`` running ``model`` at ``precision``; one line when it is not installed, not supported
    on this CPU or device, or cannot export the model. ``network``: the module torch runs (e.g. compiled)."""
    reason = unsupported_reason(name, precision, device)
    if reason is not None:
        raise HmtirError(reason)
    model = model.eval()
    if name == "torch":
        return TorchRunner(model, bank, precision, device, network)
    path = exported_onnx(model, bank, digest or model_digest(model, bank))
    if name == "onnxruntime":
        return OnnxRuntimeRunner(model, bank, path)
    return OpenVinoRunner(model, bank, path, precision)


# --- SPT over any engine --------------------------------------------------------------------------------


def restore(
    runner: Runner,
    x: torch.Tensor,
    degradation: str = "composite",
    scenario: str | None = None,
    frame_stats: torch.Tensor | None = None,
) -> torch.Tensor:
    """SPT on ``x`` (already padded) with ``runner``'s passes, clamped to [0, 1] after each, as
    :func:`hmtir.models.spt.spt_restore` does (a prompt-free network runs once)."""
    from hmtir.models.spt import pass_schedule

    schedule = pass_schedule(degradation, scenario) if runner.prompted else [("none", "none")]
    out = x
    for deg, scen in schedule:
        out = runner.one_pass(out, deg, scen, frame_stats).clamp(0.0, 1.0)
    return out


# --- auto: measure, check, cache ------------------------------------------------------------------------


def psnr(reference: torch.Tensor, test: torch.Tensor) -> float:
    """PSNR (dB, peak 1) of ``test`` against ``reference``; inf when they are equal."""
    import math

    mse = float(((reference.double() - test.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def _probe_key(digest: str, precision: str) -> str:
    from hmtir.models.accel import _cpu_signature

    versions = ",".join(f"{name}={engine_version(name)}" for name in ENGINES)
    return f"{_cpu_signature()}|{versions}|{precision}|threads={_threads()}|{digest}"


def _probe_file() -> Path:
    from hmtir.paths import data_home

    return data_home() / PROBE_FILE


def _read_probes() -> dict[str, Any]:
    try:
        known = json.loads(_probe_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def probe(
    model: torch.nn.Module, bank: PromptBank | None, precision: str = "fp32", digest: str | None = None
) -> dict[str, Any]:
    """Time one pass of every engine at ``precision`` on a :data:`PROBE_SIZE` frame and check it against torch
    fp32; returns ``{"chosen", "rows", "skipped"}`` (rows: engine, seconds, error, passed)."""
    import torch

    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import input_statistics
    from hmtir.vocabulary import COMPOSITE, SPT_ORDER

    digest = digest or model_digest(model, bank)
    generator = torch.Generator().manual_seed(0)
    frame = torch.rand(1, 1, *PROBE_SIZE, generator=generator)
    stats = input_statistics(model, frame)
    frame, _ = pad_to_multiple(frame, int(getattr(model, "size_multiple", 1)))
    degradation, scenario = (
        (SPT_ORDER[0], COMPOSITE) if getattr(model, "uses_prompts", False) else ("none", "none")
    )
    reference = TorchRunner(model.eval(), bank).one_pass(frame, degradation, scenario, stats)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for name in ENGINES:
        reason = unsupported_reason(name, precision)
        if reason is None and name == "torch" and precision != "fp32" and not native_bf16():
            reason = f"torch {precision} on a CPU without native bf16 is emulated"
        if reason is not None:
            skipped.append(reason)
            continue
        try:
            runner = build_runner(name, model, bank, precision, "cpu", digest)
            out = runner.one_pass(frame, degradation, scenario, stats)  # warm-up (kernels, allocator)
            times = []
            for _ in range(PROBE_REPEATS):
                start = time.perf_counter()
                out = runner.one_pass(frame, degradation, scenario, stats)
                times.append(time.perf_counter() - start)
        except HmtirError as err:
            skipped.append(f"{name}: {err}")
            continue
        error = float((out - reference).abs().max())
        quality = psnr(reference, out)
        passed = error <= FP32_TOLERANCE if precision == "fp32" else quality >= REDUCED_PSNR_DB
        rows.append(
            {"engine": name, "seconds": sorted(times)[len(times) // 2], "max_abs": error, "psnr": quality,
             "passed": passed}
        )  # fmt: skip
    good = [row for row in rows if row["passed"]]
    chosen = min(good, key=lambda row: row["seconds"])["engine"] if good else "torch"
    return {"chosen": chosen, "rows": rows, "skipped": skipped, "precision": precision}


def choose_engine(
    model: torch.nn.Module, bank: PromptBank | None, precision: str = "fp32", digest: str | None = None
) -> tuple[str, str]:
    """``(engine, note)`` for ``auto``: the cached probe verdict for this CPU, versions and model, else a
    fresh :func:`probe` (saved). The note is one line: what was chosen, its time against torch, fallbacks."""
    from hmtir.io.atomic import atomic_write_text

    digest = digest or model_digest(model, bank)
    key = _probe_key(digest, precision)
    known = _read_probes()
    verdict = known.get(key)
    if not (isinstance(verdict, dict) and verdict.get("chosen") in ENGINES):
        verdict = probe(model, bank, precision, digest)
        with contextlib.suppress(OSError):
            _probe_file().parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(_probe_file(), json.dumps({**known, key: verdict}, indent=1))
    return str(verdict["chosen"]), probe_note(verdict)


def probe_note(verdict: dict[str, Any]) -> str:
    """One line: the engine chosen, each engine's probe time, and why others were left out."""
    times = ", ".join(
        f"{row['engine']} {row['seconds'] * 1000:.0f} ms{'' if row['passed'] else ' (wrong: not used)'}"
        for row in verdict.get("rows", [])
    )
    skipped = "; ".join(verdict.get("skipped", []))
    line = f"engine auto ({verdict.get('precision', 'fp32')}): {verdict['chosen']}"
    line += f" (probe, one pass {PROBE_SIZE[0]}×{PROBE_SIZE[1]}: {times})" if times else ""
    return line + (f"; fell back past: {skipped}" if skipped else "")


def resolve(
    name: str,
    model: torch.nn.Module,
    bank: PromptBank | None,
    precision: str = "fp32",
    device: str = "cpu",
    digest: str | None = None,
    network: torch.nn.Module | None = None,
) -> tuple[Runner, EngineInfo]:
    """The runner for engine ``name`` (``auto`` probes; on a GPU it is torch), and what to record about it.

    ``network``: the module torch runs (e.g. compiled); other engines export ``model``."""
    check_engine_name(name, allow_auto=True)
    note = None
    if name == "auto":
        if device.startswith("cpu"):
            name, note = choose_engine(model, bank, precision, digest)
            print(note, file=sys.stderr)
        else:
            name, note = "torch", f"engine auto: torch (device {device})"
    runner = build_runner(name, model, bank, precision, device, digest, network)
    return runner, EngineInfo(name, engine_version(name), precision, note)


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "ENGINE_CHOICES",
    "EngineInfo",
    "Runner",
    "build_runner",
    "check_engine_name",
    "choose_engine",
    "cpu_description",
    "engine_kwargs",
    "engine_version",
    "exported_onnx",
    "model_digest",
    "native_bf16",
    "probe",
    "resolve",
    "restore",
    "unsupported_reason",
]


def engine_kwargs(method: str, engine: str) -> dict[str, str]:
    """``{"engine": engine}`` for a method whose factory takes one (the network methods), else {} (an
    engine choice has nothing to run in a classical method, so a mixed list still works)."""
    import inspect

    from hmtir.methods import METHODS, split_weights_tag

    check_engine_name(engine, allow_auto=True)
    if engine == DEFAULT_ENGINE or ":" in method:
        return {}
    try:
        factory = METHODS.entry(split_weights_tag(method)[0]).factory
    except HmtirError:
        return {}  # an unknown name: load_method says so in its own words
    return {"engine": engine} if "engine" in inspect.signature(factory).parameters else {}
