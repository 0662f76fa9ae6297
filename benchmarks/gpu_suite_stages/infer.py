"""Section ``infer``: Restormer-PPFN SPT composite, fp32 eager reference vs fp64, TF32, bf16, fp16,
channels-last and CUDA graph; also the shared network and references the ``compile`` section reuses."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch

from .core import Row, Suite, errors, peak_gib, realish_frames, reset_peak, sync, tf32, time_calls

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "infer/fp32 eager": "0.45 s with TF32 off (the 0.383 s anchor ran cuDNN's default TF32 convs), 2.9 GiB",
    "infer/fp32, torch default TF32": "0.383 s (anchor); rel err ~1e-3 vs TF32 off",
    "infer/fp64 eager": "~2 s; fp32 vs fp64 rel ~1e-6",
    "infer/fp32 + TF32 matmul": "0.35 s (convs already TF32 in cuDNN; only the attention bmm moves)",
    "infer/bf16 autocast": "0.240 s (anchor); rel err ~3e-3",
    "infer/fp16 autocast": "0.235 s; rel err ~1e-3 (more mantissa than bf16)",
    "infer/bf16 + channels_last": "0.20 s (LayerNorm permutes become views; NHWC depthwise convs)",
    "infer/bf16 + CUDA graph": "0.22 s (eager is GPU-bound at this size; launch gaps are ~10 %)",
}


class InferenceBench:
    """One network, one prompt bank, fixed inputs and their fp32 eager references, shared by all levers."""

    def __init__(self, suite: Suite) -> None:
        from hmtir.models import create_model
        from hmtir.models.accel import bank_on_device
        from hmtir.models.prompts import PromptBank

        cfg, device = suite.config, suite.device
        torch.manual_seed(0)
        self.model = create_model("ppfn_restormer", **cfg.model_overrides).eval()
        self.bank = PromptBank.seeded(map_size=cfg.bank_map)
        self.weights = "random init (seed 0)"
        if not cfg.model_overrides:
            self._try_official()
        self.model.to(device)
        self.bank = bank_on_device(self.bank, device)
        _, self.inputs_batch = realish_frames(cfg.infer_inputs, cfg.infer_size, device)
        self.inputs = [self.inputs_batch[i : i + 1].contiguous() for i in range(cfg.infer_inputs)]
        self.refs: list[torch.Tensor] = []

    def _try_official(self) -> None:
        from hmtir.errors import HmtirError
        from hmtir.methods.networks import OFFICIAL_PPFN_WEIGHTS
        from hmtir.models.checkpoint import extract_state_dict, load_state_dict_strict, read_checkpoint
        from hmtir.models.prompts import PromptBank
        from hmtir.weights import resolve_weights

        try:
            path = resolve_weights(OFFICIAL_PPFN_WEIGHTS)
            load_state_dict_strict(self.model, extract_state_dict(read_checkpoint(path)), str(path))
            self.bank = PromptBank.official()
            self.weights = f"official {path.name}"
        except HmtirError:
            pass

    def spt(
        self, net: torch.nn.Module, x: torch.Tensor, precision: str, cache_enabled: bool = True
    ) -> torch.Tensor:
        from hmtir.models.accel import autocast
        from hmtir.models.spt import spt_restore

        with torch.inference_mode(), autocast(x.device, precision, cache_enabled=cache_enabled):
            # passes 2 and 3 get inference tensors; a plain first input would make dynamo compile twice
            x = x if x.is_inference() else x.clone()
            return spt_restore(net, self.bank, x, "composite", clamp=True)


def measure_inference(
    suite: Suite,
    bench: InferenceBench,
    variant: str,
    call: Callable[[torch.Tensor], torch.Tensor],
    prepare: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
    note: str = "",
) -> Row:
    """Time ``call`` on the bench inputs and add its row, with errors against the fp32 references."""
    inputs = [prepare(x) for x in bench.inputs]
    reset_peak(suite.device)
    outs: list[torch.Tensor] = []
    first, median = time_calls(lambda i: call(inputs[i % len(inputs)]), suite.device, suite.config.repeats)
    for x in inputs:
        outs.append(call(x).float().clone())
    err = errors(outs, bench.refs, bench.inputs) if bench.refs else {}
    if err and math.isnan(err["rel"]):
        note = f"NON-FINITE OUTPUT (NaN/Inf): lever unusable as is; {note}"
    return suite.add(Row("infer", variant, median, "s/img", first, peak_gib(suite.device), note=note, **err))


def section_infer(suite: Suite) -> InferenceBench | None:
    """The eager levers against the TF32-off fp32 reference; returns the bench ``compile`` reuses (None when
    the reference itself failed)."""
    from hmtir.models.accel import CudaGraphRunner, channels_last_input, to_channels_last
    from hmtir.runtime import count_parameters

    cfg = suite.config
    bench = InferenceBench(suite)
    h, w = cfg.infer_size
    suite.header["infer_model"] = (
        f"ppfn_restormer {'released' if not cfg.model_overrides else 'tiny'} "
        f"({count_parameters(bench.model) / 1e6:.2f} M params, {bench.weights}), SPT composite 1×1×{h}×{w}"
    )
    suite.say(suite.header["infer_model"])
    model = bench.model

    with suite.guard("infer", "fp32 eager"):
        with tf32(False, False):
            bench.refs = [bench.spt(model, x, "fp32").float().clone() for x in bench.inputs]
            row = measure_inference(
                suite,
                bench,
                "fp32 eager",
                lambda x: bench.spt(model, x, "fp32"),
                note="reference (TF32 off)",
            )
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            bench.spt(model, bench.inputs[0], "fp32")
        flops = counter.get_total_flops()
        ceiling = suite.header.get("bf16_tflops")
        row.extra["tflop_per_img"] = flops / 1e12
        row.note += f"; {flops / 1e12:.2f} TFLOP/img (3 passes)"
        if ceiling:
            row.note += f", compute floor {flops / (ceiling * 1e12) * 1e3:.1f} ms at {ceiling:.0f} TFLOP/s"
        suite.write()
    if not bench.refs:
        return None

    with suite.guard("infer", "fp64 eager"):
        model64 = copy.deepcopy(model).double()
        start = time.perf_counter()
        with torch.inference_mode():
            x64 = bench.inputs[0].double()
        out64 = bench.spt(model64, x64, "fp32")
        sync(suite.device)
        seconds = time.perf_counter() - start
        err = errors([bench.refs[0]], [out64], [bench.inputs[0]])
        suite.add(
            Row(
                "infer",
                "fp64 eager",
                seconds,
                "s/img",
                note="fp32 reference vs fp64: the float32 error floor",
                **err,
            )
        )
        del model64, out64

    if suite.cuda:
        with suite.guard("infer", "fp32, torch default TF32"):
            # what an unmodified script (the official code) runs: cuDNN TF32 convolutions, fp32 matmuls
            measure_inference(suite, bench, "fp32, torch default TF32", lambda x: bench.spt(model, x, "fp32"))
        with suite.guard("infer", "fp32 + TF32 matmul"), tf32(torch.backends.cudnn.allow_tf32, True):
            measure_inference(suite, bench, "fp32 + TF32 matmul", lambda x: bench.spt(model, x, "fp32"))

    for precision in ("bf16", "fp16"):
        with suite.guard("infer", f"{precision} autocast"):
            measure_inference(
                suite, bench, f"{precision} autocast", lambda x, p=precision: bench.spt(model, x, p)
            )

    with suite.guard("infer", "bf16 + channels_last"):
        model_cl = to_channels_last(copy.deepcopy(model))
        measure_inference(
            suite,
            bench,
            "bf16 + channels_last",
            lambda x: bench.spt(model_cl, x, "bf16"),
            prepare=channels_last_input,
        )

    if not suite.cuda:
        suite.add(Row("infer", "bf16 + CUDA graph", note="n/a: CUDA graphs need a CUDA device"))
        return bench
    with suite.guard("infer", "bf16 + CUDA graph"):
        reset_peak(suite.device)
        start = time.perf_counter()
        runner = CudaGraphRunner(lambda x: bench.spt(model, x, "bf16", cache_enabled=False), bench.inputs[0])
        sync(suite.device)
        capture = time.perf_counter() - start
        row = measure_inference(suite, bench, "bf16 + CUDA graph", runner)
        row.first_s = capture
        row.note = "first call = warm-up + capture"
        suite.write()
        del runner
    return bench


def bench_with_refs(suite: Suite) -> InferenceBench:
    """``--only compile``: the shared network and its fp32 references without the eager rows."""
    bench = InferenceBench(suite)
    with tf32(False, False):
        bench.refs = [bench.spt(bench.model, x, "fp32").float().clone() for x in bench.inputs]
    return bench
