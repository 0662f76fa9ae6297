"""Selective Progressive Training (SPT): undo a composite degradation one stage at a time.

A composite frame is contrast loss → blur → noise (the order the cascade applies them). SPT removes them
in reverse: pass 1 with the *noise* prompt, pass 2 *blur*, pass 3 *contrast*, always with the *composite*
scenario prompt, each pass feeding the next (clamped to [0, 1]). A single-degradation frame gets one
pass with its degradation prompt and the *single* scenario prompt.

Training uses the same schedule: pass k of a composite sample is supervised by the image degraded up to
the stage that pass k has not yet undone, i.e. targets ``(contrast+blur, contrast-only, clean)`` for the
``(noise, blur, contrast)`` passes; the next pass sees the previous output with stop-gradient, and the
losses of all passes are summed into one optimiser step (:func:`spt_losses`). Because no gradient crosses
passes, each pass's loss can be back-propagated as soon as it exists: the same gradients, but only one
pass's activations alive at a time (about a third of the summed version's peak for a composite batch).

Ablations (the paper's ladder) change the schedule with ``iterations``: ``iterations=1`` removes a
composite degradation in one pass (the ``composite`` degradation prompt); a prompt-free model given
``iterations=3`` is run three times in a row ("naive iteration"), with the same per-pass targets as SPT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hmtir.errors import HmtirError
from hmtir.models.prompts import PromptBank
from hmtir.models.range_head import frame_statistics
from hmtir.vocabulary import COMPOSITE, SPT_ORDER, STEPS


def _inner(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside wrappers (DistributedDataParallel, torch.compile) that hide its attributes."""
    return getattr(model, "module", None) or getattr(model, "_orig_mod", None) or model


def _uses_prompts(model: torch.nn.Module) -> bool:
    return bool(getattr(_inner(model), "uses_prompts", False))


def uses_frame_stats(model: torch.nn.Module) -> bool:
    """Whether the network (inside any wrapper) has a range head that reads whole-frame statistics."""
    return bool(getattr(_inner(model), "uses_frame_stats", False))


def input_statistics(model: torch.nn.Module, frames: torch.Tensor) -> torch.Tensor | None:
    """Whole-frame statistics for a model with a range head (None for any other model).

    Callers that pad or crop a frame compute these from the frame first: every pass of a frame then sees
    the statistics of the frame as it came in, in training (the uncropped window) and at inference alike.
    """
    return frame_statistics(frames) if uses_frame_stats(model) else None


SPT_ITERATIONS = (1, len(SPT_ORDER))  # one pass to clean, or one pass per cascade step
RANGE_PASSES = (COMPOSITE, "contrast")  # the passes that undo the contrast step (a global gain/offset)


def pass_schedule(
    degradation: str, scenario: str | None = None, iterations: int = len(SPT_ORDER)
) -> list[tuple[str, str]]:
    """(degradation prompt, scenario prompt) for each pass: ``iterations`` for ``composite``, else one."""
    if degradation == COMPOSITE:
        if iterations not in SPT_ITERATIONS:
            raise HmtirError(f"SPT runs 1 or {len(SPT_ORDER)} passes on a composite frame, not {iterations}")
        stages = SPT_ORDER if iterations == len(SPT_ORDER) else (COMPOSITE,)
        return [(stage, COMPOSITE) for stage in stages]
    if degradation not in STEPS:
        raise HmtirError(f"unknown degradation '{degradation}' (available: composite, {', '.join(STEPS)})")
    return [(degradation, scenario or "single")]


def _schedule(
    model: torch.nn.Module, degradation: str, scenario: str | None, iterations: int
) -> list[tuple[str, str]]:
    if _uses_prompts(model):
        return pass_schedule(degradation, scenario, iterations)
    return [("none", "none")] * (iterations if degradation == COMPOSITE else 1)


def run_pass(
    model: torch.nn.Module,
    bank: PromptBank | None,
    x: torch.Tensor,
    degradation: str,
    scenario: str,
    frame_stats: torch.Tensor | None = None,
) -> torch.Tensor:
    """One forward pass with the named prompts (a prompt-free model ignores them).

    ``frame_stats`` (:func:`input_statistics`) go only to a model with a range head. A prompted range head
    corrects only passes that undo the contrast step (:data:`RANGE_PASSES`): blur and noise leave the
    frame's global gain and offset alone, so a blur- or noise-only frame is never stretched."""
    extra = {} if frame_stats is None else {"frame_stats": frame_stats}
    if not _uses_prompts(model):
        return model(x, **extra)
    if bank is None:
        raise HmtirError("this PPFN model needs a prompt bank (the checkpoint has none and none was given)")
    if degradation not in RANGE_PASSES and uses_frame_stats(model):
        extra["range_correction"] = False
    deg, scen = bank.prompts(degradation, scenario, device=x.device, dtype=x.dtype)
    return model(x, deg, scen, **extra)


def spt_restore(
    model: torch.nn.Module,
    bank: PromptBank | None,
    x: torch.Tensor,
    degradation: str = "composite",
    scenario: str | None = None,
    clamp: bool = True,
    on_pass: Callable[[int, str, str], None] | None = None,
    iterations: int | None = None,
    frame_stats: torch.Tensor | None = None,
) -> torch.Tensor:
    """SPT inference; ``clamp`` clamps to [0, 1] after every pass. A prompt-free model runs once.

    ``on_pass(index, degradation, scenario)`` is called before each pass (progress, tests).
    ``iterations`` (ablations): passes on a composite frame; default 3 with prompts, 1 without.
    ``frame_stats``: a range-head model's statistics of the unpadded frame (default: those of ``x``).
    """
    if iterations is None:
        iterations = len(SPT_ORDER) if _uses_prompts(model) else 1
    if frame_stats is None:
        frame_stats = input_statistics(model, x)
    schedule = _schedule(model, degradation, scenario, iterations)
    out = x
    for index, (deg, scen) in enumerate(schedule):
        if on_pass is not None:
            on_pass(index, deg, scen)
        out = run_pass(model, bank, out, deg, scen, frame_stats)
        if clamp:
            out = out.clamp(0.0, 1.0)
    return out


@dataclass
class SPTLosses:
    """Result of one SPT training step: ``total`` to backpropagate, per-pass losses and outputs."""

    total: torch.Tensor
    per_pass: list[torch.Tensor]
    outputs: list[torch.Tensor]
    schedule: list[tuple[str, str]]


def spt_losses(
    model: torch.nn.Module,
    bank: PromptBank | None,
    degraded: torch.Tensor,
    targets: Sequence[torch.Tensor],
    degradation: str = "composite",
    scenario: str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.l1_loss,
    clamp_between: bool = True,
    backward: Callable[[torch.Tensor], None] | None = None,
    pass_context: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    iterations: int | None = None,
    frame_stats: torch.Tensor | None = None,
) -> SPTLosses:
    """Losses of one SPT step on a batch sharing one degradation type.

    ``targets``: one tensor per pass — for ``composite`` the images after undoing noise, blur and contrast
    (i.e. contrast+blur, contrast-only, clean); for a single degradation just the clean image. Gradients do
    not flow from a pass into the previous one (its output is detached before it becomes the next input).
    A prompt-free model is trained composite → clean in one pass (give one target, the clean image).

    ``backward``, when given, receives each pass's loss right after that pass (the caller back-propagates
    it, e.g. ``lambda loss: (w * loss).backward()``), and everything returned is then detached: the
    gradients equal those of ``total.backward()`` while one pass's graph is alive at a time.
    ``pass_context()`` is entered around each forward pass and its loss (autocast, DDP's gradient sync),
    never around ``backward``. ``iterations`` as in :func:`spt_restore` (one target per pass).
    ``frame_stats``: a range-head model's statistics of the whole (uncropped) degraded frames; every pass
    gets them, as in :func:`spt_restore` (default: those of ``degraded`` itself).
    """
    if iterations is None:
        iterations = len(SPT_ORDER) if _uses_prompts(model) else 1
    schedule = _schedule(model, degradation, scenario, iterations)
    if len(targets) != len(schedule):
        raise ValueError(
            f"{degradation}: expected {len(schedule)} target(s) (one per pass), got {len(targets)}"
        )
    if frame_stats is None:
        frame_stats = input_statistics(model, degraded)
    per_pass: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []
    current = degraded
    for (deg, scen), target in zip(schedule, targets):
        with pass_context():
            out = run_pass(model, bank, current, deg, scen, frame_stats)
            loss = loss_fn(out, target)
        if backward is not None:
            backward(loss)
            loss, out = loss.detach(), out.detach()
        per_pass.append(loss)
        outputs.append(out)
        current = out.detach()
        if clamp_between:
            current = current.clamp(0.0, 1.0)
    return SPTLosses(torch.stack(per_pass).sum(), per_pass, outputs, schedule)
