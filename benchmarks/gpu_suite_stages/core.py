"""What every section shares: the result ``Row``, the ``Suite`` (budget, error guard, report writer), the
timing and error helpers, and the real-ish input frames the sections measure on."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import statistics
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import Config


@dataclass
class Row:
    """One line of the table: a variant's figure of merit, its first-call cost, memory and errors."""

    section: str
    variant: str
    value: float | None = None  # the section's figure of merit, in ``unit``
    unit: str = ""
    first_s: float | None = None  # first call (compile / capture / allocator warm-up) in seconds
    peak_gib: float | None = None
    max_abs: float | None = None
    rel: float | None = None  # ‖out − ref‖ / ‖ref‖
    rel_residual: float | None = None  # ‖out − ref‖ / ‖ref − input‖: error on what the network changes
    predicted: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Suite:
    """The run's state: sizes, device, budget and rows; rewrites gpu_suite.md/.json after every row so a
    run stopped from outside still leaves every finished number behind."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: Config,
        device: torch.device,
        predictions: Mapping[str, str],
    ) -> None:
        self.args, self.config, self.device = args, config, device
        self.predictions = predictions  # "section/variant" -> the prediction written before measuring
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()
        self.rows: list[Row] = []
        self.header: dict[str, Any] = {}
        self.log = (self.out / "gpu_suite.log").open("a", encoding="utf-8")

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.args.budget_s - self.elapsed()

    def wants(self, section: str) -> bool:
        only = self.args.only
        return (not only or section in only) and section not in self.args.skip

    def afford(self, section: str, variant: str, estimate_s: float) -> bool:
        """False (and a 'skipped' row) when the estimated cost would overrun the budget."""
        if self.left() >= estimate_s:
            return True
        self.add(
            Row(
                section,
                variant,
                note=f"skipped: ~{estimate_s:.0f} s needed, {max(self.left(), 0):.0f} s left",
            )
        )
        return False

    def add(self, row: Row) -> Row:
        if not row.predicted:
            row.predicted = self.predictions.get(f"{row.section}/{row.variant}", "")
        self.rows.append(row)
        self.say(
            f"[{self.elapsed():6.1f}s] {row.section}/{row.variant}: {_fmt(row.value)} {row.unit} {row.note}"
        )
        self.write()
        return row

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def write(self) -> None:
        payload = {
            "header": self.header,
            "elapsed_s": round(self.elapsed(), 1),
            "rows": [asdict(r) for r in self.rows],
        }
        _atomic_text(self.out / "gpu_suite.json", json.dumps(payload, indent=2, default=str) + "\n")
        _atomic_text(self.out / "gpu_suite.md", self.markdown())

    def markdown(self) -> str:
        h = self.header
        lines = [
            f"# hmtir GPU suite — {h.get('device_name', '?')} — {h.get('date', '?')}",
            "",
            f"torch {h.get('torch')} · CUDA {h.get('cuda')} · Triton {h.get('triton')} · Python {h.get('python')}"
            f" · hmtir {h.get('git_commit') or '?'} · mode {h.get('mode')} · {self.elapsed():.0f} s",
            "",
            f"inference model: {h.get('infer_model', '-')} · NIQE: {h.get('niqe', 'run when its weights are present')}",
            "",
            "`predicted` was written before measuring (issue 8 anchors, H200); it is a prediction, not a result.",
            "Errors are against our fp32 eager path (= official numerics); worst over the inputs.",
            "",
            "| section | variant | value | unit | first call s | peak GiB | max abs err | rel err | rel err (residual) | predicted | note |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in self.rows:
            cells = [
                r.section,
                r.variant,
                _fmt(r.value),
                r.unit,
                _fmt(r.first_s),
                _fmt(r.peak_gib),
                _fmt(r.max_abs, sci=True),
                _fmt(r.rel, sci=True),
                _fmt(r.rel_residual, sci=True),
                r.predicted,
                r.note,
            ]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    @contextlib.contextmanager
    def guard(self, section: str, variant: str) -> Iterator[None]:
        """One failing lever becomes an ERROR row; the suite goes on with the next one."""
        try:
            yield
        except Exception as err:  # noqa: BLE001 - reported, never swallowed silently
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            self.add(Row(section, variant, note=f"ERROR {type(err).__name__}: {first}"))
            self.log.write(traceback.format_exc() + "\n")
        finally:
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()


def _fmt(value: float | None, sci: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if sci:
        return f"{value:.2e}"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@contextlib.contextmanager
def tf32(convolutions: bool, matmuls: bool) -> Iterator[None]:
    """TF32 for cuDNN convolutions / matmuls inside the block, restored after. ``tf32(False, False)`` makes
    references true float32 (on CUDA, torch's default runs fp32 convolutions in TF32, ~1e-3 relative)."""
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = convolutions, matmuls
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def time_calls(
    fn: Callable[[int], Any], device: torch.device, repeats: int, warmup: int = 2
) -> tuple[float, float]:
    """(first-call seconds, median seconds of ``repeats`` further calls after ``warmup - 1`` more)."""
    sync(device)
    start = time.perf_counter()
    fn(0)
    sync(device)
    first = time.perf_counter() - start
    for i in range(max(warmup - 1, 0)):
        fn(i + 1)
    sync(device)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        sync(device)
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def errors(
    outs: list[torch.Tensor], refs: list[torch.Tensor], inputs: list[torch.Tensor]
) -> dict[str, float]:
    """Worst max-abs, relative and residual-relative error over the inputs; NaN anywhere → NaN."""
    worst = {"max_abs": 0.0, "rel": 0.0, "rel_residual": 0.0}
    for out, ref, x in zip(outs, refs, inputs):
        out, ref, x = out.double(), ref.double(), x.double()
        if not torch.isfinite(out).all():
            return {k: float("nan") for k in worst}
        diff = out - ref
        worst["max_abs"] = max(worst["max_abs"], diff.abs().max().item())
        worst["rel"] = max(worst["rel"], (diff.norm() / ref.norm().clamp_min(1e-30)).item())
        worst["rel_residual"] = max(
            worst["rel_residual"], (diff.norm() / (ref - x).norm().clamp_min(1e-30)).item()
        )
    return worst


def realish_frames(
    count: int, size: tuple[int, int], device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` clean procedural scenes and their composite (``hard`` preset) degradations, ``count×1×H×W``."""
    from hmtir.data.scenes import SCENE_CATEGORIES, render_scene
    from hmtir.degrade.torch_ops import degrade

    clean = torch.stack(
        [
            torch.from_numpy(render_scene(SCENE_CATEGORIES[i % len(SCENE_CATEGORIES)], seed, size, index=i))
            for i in range(count)
        ]
    )[:, None].to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    return clean, degrade(clean, "hard", generator, gate=1.0).degraded
