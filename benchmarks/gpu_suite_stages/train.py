"""Section ``train``: one SPT training step (3 passes, Adam), fp32 vs bf16 vs per-pass backward, peak
memory and first-step gradients against fp32; the compiled variants run from the ``compile`` section."""

from __future__ import annotations

import copy
import time

import torch
import torch._dynamo

from .core import Row, Suite, peak_gib, realish_frames, reset_peak, sync, time_calls

# Written before measuring, keyed "section/variant" (see PREDICTIONS in gpu_suite.py).
PREDICTIONS: dict[str, str] = {
    "train/fp32": "1.115 s (anchor), 48.3 GiB (anchor)",
    "train/bf16 autocast": "0.929 s (anchor), ~35 GiB",
    "train/fp32 per-pass backward": "1.1 s, ~18 GiB (one pass's activations alive instead of three); exact",
    "train/bf16 per-pass backward": "0.93 s, ~13 GiB",
    "train/compile bf16 per-pass backward": "0.45 s, ~8 GiB; first step ~150 s",
    "train/compile fp32 per-pass backward": "0.8 s, ~12 GiB; first step ~150 s",
}

TRAIN_EAGER = ("fp32", "bf16 autocast", "fp32 per-pass backward", "bf16 per-pass backward")
TRAIN_COMPILED = ("compile bf16 per-pass backward", "compile fp32 per-pass backward")


def section_train(suite: Suite, variants: tuple[str, ...]) -> None:
    """The training ``variants`` (eager or compiled): time per step, peak memory, first-step gradients vs fp32."""
    from hmtir.degrade.torch_ops import degrade
    from hmtir.models import create_model
    from hmtir.models.accel import bank_on_device, compile_module, compile_unavailable_reason
    from hmtir.models.prompts import PromptBank
    from hmtir.train.objective import SPTObjective

    cfg, device = suite.config, suite.device
    # (variant, precision, per-pass backward, compiled, estimated seconds)
    plan = [
        ("fp32", "fp32", False, False, 20),
        ("bf16 autocast", "bf16", False, False, 20),
        ("fp32 per-pass backward", "fp32", True, False, 20),
        ("bf16 per-pass backward", "bf16", True, False, 20),
        ("compile bf16 per-pass backward", "bf16", True, True, 240),
        ("compile fp32 per-pass backward", "fp32", True, True, 240),
    ]
    plan = [p for p in plan if p[0] in variants]
    if not suite.args.quick and suite.left() < min(p[4] for p in plan):  # don't pay the setup for nothing
        for variant, *_, estimate in plan:
            suite.afford("train", variant, estimate)
        return
    torch.manual_seed(0)
    base = create_model("ppfn_restormer", **cfg.model_overrides).train()
    bank = bank_on_device(PromptBank.seeded(map_size=cfg.bank_map), device)
    clean_full, _ = realish_frames(cfg.train_batch, (max(cfg.train_size, 64),) * 2, device, seed=3)
    clean = clean_full[..., : cfg.train_size, : cfg.train_size].contiguous()
    batch = degrade(clean, "hard", torch.Generator(device=device).manual_seed(3), gate=1.0, return_steps=True)

    def step(
        model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, precision: str, per_pass: bool
    ) -> None:
        """One SPT step of ``hmtir train`` on an all-composite batch: three passes, L1 each, stop-gradient
        between passes; summed (one backward) or per pass (``backward=True``, what ``hmtir train`` does)."""
        inner = getattr(model, "_orig_mod", model)
        objective = SPTObjective(inner, bank, spt=True, net=model, precision=precision)
        if per_pass:
            objective(batch.degraded, clean, batch.steps, None, backward=True)
        else:
            objective(batch.degraded, clean, batch.steps, None)[0].backward()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def grads(model: torch.nn.Module) -> torch.Tensor:
        return torch.cat([p.grad.flatten().double() for p in model.parameters() if p.grad is not None])

    reference = copy.deepcopy(base).to(device)
    step(reference, None, "fp32", per_pass=False)
    ref_grad = grads(reference)
    del reference

    for variant, precision, per_pass, compiled, estimate in plan:
        if not suite.afford("train", variant, estimate if not suite.args.quick else 1):
            continue
        if compiled and (reason := compile_unavailable_reason(device, precision)) is not None:
            suite.add(Row("train", variant, note=f"n/a: {reason}"))
            continue
        with suite.guard("train", variant):
            torch._dynamo.reset()
            model = copy.deepcopy(base).to(device)
            net = compile_module(model, device, precision=precision)[0] if compiled else model
            # gradients of the very first step, before any update, against the fp32 reference
            reset_peak(device)
            sync(device)
            start = time.perf_counter()
            step(net, None, precision, per_pass)
            sync(device)
            first = time.perf_counter() - start
            g = grads(model)
            rel = ((g - ref_grad).norm() / ref_grad.norm()).item()
            max_abs = (g - ref_grad).abs().max().item()
            model.zero_grad(set_to_none=True)
            optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
            _, median = time_calls(
                lambda _, n=net, o=optimizer, p=precision, pp=per_pass: step(n, o, p, pp),
                device,
                cfg.train_repeats,
            )
            suite.add(
                Row(
                    "train",
                    variant,
                    median,
                    "s/step",
                    first,
                    peak_gib(device),
                    max_abs=max_abs,
                    rel=rel,
                    note=f"batch {cfg.train_batch}×{cfg.train_size}², 3 passes, Adam; errors = first-step gradients vs fp32",
                )
            )
