"""The SPT training objective: which passes each sample of a degraded batch trains, and their L1 losses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import nn

from hmtir.degrade.torch_ops import ALL_STEPS, COMPOSITE, DegradedBatch
from hmtir.errors import HmtirError
from hmtir.models.accel import autocast
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank
from hmtir.models.range_head import frame_statistics
from hmtir.models.spt import spt_losses, uses_frame_stats
from hmtir.vocabulary import SPT_ORDER, STEPS

DEGRADED = "degraded"  # window_statistics key of the batch's degraded frames (the others: single steps)


class Group(NamedTuple):
    """Passes of one degradation type in a batch, weighted by its share of the batch."""

    weight: float
    part: str  # name of its loss part (composite, single_noise, ...)
    inputs: torch.Tensor
    targets: list[torch.Tensor]  # one per pass
    degradation: str
    scenario: str | None
    frame_stats: torch.Tensor | None  # whole-window statistics of ``inputs`` (range-head models)


def window_statistics(model: nn.Module, batch: DegradedBatch) -> dict[str, torch.Tensor] | None:
    """Whole-window statistics of every network input of ``batch``, taken before it is cropped."""
    if not uses_frame_stats(model):
        return None
    frames = {DEGRADED: batch.degraded, **batch.singles}
    return {key: frame_statistics(value) for key, value in frames.items()}


class SPTObjective:
    """One training objective per batch.

    Composite samples train ``iterations`` passes (3: the SPT passes with targets contrast+blur,
    contrast-only, clean and stop-gradient between passes; 1: straight to clean). A one-step sample trains
    one pass with its degradation prompt and the ``single`` scenario; an all-steps sample (the released
    code) trains one such pass per step, noise → blur → contrast, each on that step alone applied to the
    clean frame and each against the clean frame. Every pass's L1 is weighted by its group's share of the
    batch, which equals the release's batch-mean L1 per pass. A prompt-free net sees the same samples
    without prompts: one pass per single-step frame, and per composite one pass degraded → clean or, with
    ``iterations=3``, three passes with the SPT targets (naive iteration).

    Calling it returns the summed loss with its graph; with ``backward=True`` it back-propagates pass by
    pass instead (same gradients, one pass's activations alive at a time). ``net`` runs the passes: the model,
    or its ``DistributedDataParallel`` wrapper, in which case only the step's last pass all-reduces the
    accumulated gradients. ``precision`` autocasts the forward passes (never the backward).
    """

    def __init__(
        self,
        model: PromptableNet,
        bank: PromptBank | None,
        spt: bool,
        net: nn.Module | None = None,
        precision: str = "fp32",
        iterations: int | None = None,
    ) -> None:
        if model.uses_prompts != spt:
            raise HmtirError(
                "SPT training needs a PPFN (prompted) model and prompt-free training a plain one"
            )
        self.bank, self.spt = bank, spt
        self.net = net if net is not None else model
        self.precision = precision
        self.iterations = iterations if iterations is not None else (len(SPT_ORDER) if spt else 1)

    def _composite_targets(self, clean: torch.Tensor, steps: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        if self.iterations == 1:
            return [clean]
        return [steps["blur"], steps["contrast"], clean]  # after undoing noise, then blur, then contrast

    def _groups(
        self,
        degraded: torch.Tensor,
        clean: torch.Tensor,
        steps: dict[str, torch.Tensor],
        labels: torch.Tensor | None,
        singles: dict[str, torch.Tensor] | None = None,
        frame_stats: dict[str, torch.Tensor] | None = None,
    ) -> list[Group]:
        """One :data:`Group` of passes per degradation type present in the batch."""
        stats = frame_stats or {}

        def pick(key: str, idx: torch.Tensor | None = None) -> torch.Tensor | None:
            value = stats.get(key)
            return value if value is None or idx is None else value[idx]

        if labels is None:  # chains only (the "composite" mix)
            targets = self._composite_targets(clean, steps)
            return [Group(1.0, "composite", degraded, targets, "composite", None, pick(DEGRADED))]
        groups: list[Group] = []
        for label in torch.unique(labels).tolist():
            idx = (labels == label).nonzero().flatten()
            weight = idx.numel() / degraded.shape[0]
            if label == COMPOSITE:
                targets = self._composite_targets(clean[idx], {k: v[idx] for k, v in steps.items()})
                groups.append(
                    Group(weight, "composite", degraded[idx], targets, "composite", None, pick(DEGRADED, idx))
                )
            elif label == ALL_STEPS:
                if not singles:
                    raise HmtirError(
                        "all-steps samples need their single-step frames (degrade(..., 'all_steps'))"
                    )
                for stage in SPT_ORDER:  # the release's pass order: noise, blur, contrast prompts
                    inputs = singles[stage][idx]
                    groups.append(
                        Group(
                            weight, f"single_{stage}", inputs, [clean[idx]], stage, "single", pick(stage, idx)
                        )
                    )
            else:
                name = STEPS[label]
                groups.append(
                    Group(
                        weight,
                        f"single_{name}",
                        degraded[idx],
                        [clean[idx]],
                        name,
                        "single",
                        pick(DEGRADED, idx),
                    )
                )
        return groups

    def __call__(
        self,
        degraded: torch.Tensor,
        clean: torch.Tensor,
        steps: dict[str, torch.Tensor],
        labels: torch.Tensor | None,
        backward: bool = False,
        singles: dict[str, torch.Tensor] | None = None,
        frame_stats: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(total loss, its detached parts). ``backward=True`` accumulates the gradients into ``.grad``
        pass by pass and returns the total detached. ``singles``: :attr:`DegradedBatch.singles`.
        ``frame_stats``: :func:`window_statistics` of the uncropped batch (range-head models)."""
        groups = self._groups(degraded, clean, steps, labels, singles, frame_stats)
        passes_left = sum(len(group.targets) for group in groups)
        ddp = backward and isinstance(self.net, nn.parallel.DistributedDataParallel)

        @contextlib.contextmanager
        def pass_context() -> Iterator[None]:
            nonlocal passes_left
            passes_left -= 1
            # DDP decides at forward time whether a backward all-reduces; only the last pass syncs the sum
            sync = self.net.no_sync() if ddp and passes_left > 0 else contextlib.nullcontext()
            with sync, autocast(degraded.device, self.precision):
                yield

        total = degraded.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for weight, part, inputs, targets, degradation, scenario, stats in groups:
            out = spt_losses(
                self.net,
                self.bank,
                inputs,
                targets,
                degradation,
                scenario,
                backward=(lambda loss, w=weight: (w * loss.float()).backward()) if backward else None,
                pass_context=pass_context,
                iterations=self.iterations if part == "composite" else None,
                frame_stats=stats,
            )
            if part != "composite":
                parts[part] = out.total.detach()
            elif self.spt or len(out.per_pass) > 1:
                for index, ((stage, _), loss) in enumerate(zip(out.schedule, out.per_pass)):
                    parts[f"composite_{stage if self.spt else f'pass{index + 1}'}"] = loss.detach()
            total = total + weight * out.total.float()
        return total, parts
