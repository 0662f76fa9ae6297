"""Section ``compile``: torch.compile + bf16 (default mode, then reduce-overhead = CUDA graphs), a
warm-cache recompile, compile + channels-last, compile fp32, and the compiled training steps."""

from __future__ import annotations

import copy
import os

import torch
import torch._dynamo

from .core import Row, Suite
from .infer import InferenceBench, measure_inference
from .train import TRAIN_COMPILED, section_train

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "infer/compile bf16": "0.103 s (anchor) after ~87 s first frame",
    "infer/compile bf16 + CUDA graphs": "0.090 s; first frame ~60 s (kernels cached by the row above)",
    "infer/compile bf16, warm cache": "first frame ~20 s (FX-graph + Triton caches hit; same process, so "
    "inductor's in-memory caches are warm too: a new process pays somewhat more)",
    "infer/compile bf16 + channels_last": "0.095 s",
    "infer/compile fp32": "0.25 s (fused LayerNorm/GELU-gate save bandwidth; convs and matmuls unchanged)",
}


def section_compile(suite: Suite, bench: InferenceBench | None) -> None:
    """The compiled inference rows (on the ``infer`` section's network and references), then training."""
    if bench is None:
        suite.add(Row("infer", "compile bf16", note="skipped: the inference setup failed (see above)"))
    else:
        with suite.guard("infer", "compile setup"):
            section_compile_infer(suite, bench)
    with suite.guard("train", "compile setup"):
        section_train(suite, TRAIN_COMPILED)


def section_compile_infer(suite: Suite, bench: InferenceBench) -> None:
    """Each compile variant starts from a reset dynamo, so every row pays its own first frame."""
    from hmtir.models.accel import (
        channels_last_input,
        compile_module,
        compile_unavailable_reason,
        to_channels_last,
    )

    # (variant, compile mode, channels_last, precision, estimated cost in seconds on a cold cache)
    plan = [
        ("compile bf16", "default", False, "bf16", 110),
        ("compile bf16 + CUDA graphs", "reduce-overhead", False, "bf16", 90),
        ("compile bf16, warm cache", "default", False, "bf16", 40),
        ("compile bf16 + channels_last", "default", True, "bf16", 110),
        ("compile fp32", "default", False, "fp32", 110),
    ]
    if not suite.cuda:
        plan = [p for p in plan if p[1] != "reduce-overhead"]
    for variant, mode, channels_last, precision, estimate in plan:
        if (reason := compile_unavailable_reason(suite.device, precision)) is not None:
            suite.add(Row("infer", variant, note=f"n/a: {reason}"))
            continue
        if not suite.afford("infer", variant, estimate):
            continue
        with suite.guard("infer", variant):
            torch._dynamo.reset()  # every row pays its own first frame; only the on-disk cache carries over
            net = copy.deepcopy(bench.model)
            if channels_last:
                to_channels_last(net)
            compiled, _ = compile_module(net, suite.device, mode=mode, precision=precision)
            prepare = channels_last_input if channels_last else (lambda x: x)
            row = measure_inference(
                suite,
                bench,
                variant,
                lambda x, c=compiled, m=mode, p=precision: bench.spt(c, x, p, cache_enabled=m == "default"),
                prepare=prepare,
                note=f"mode={mode}; first call = compile of all 3 passes",
            )
            row.extra["cache_dir"] = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
