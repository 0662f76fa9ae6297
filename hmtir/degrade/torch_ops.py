"""Batched torch version of the degradation cascade, for on-the-fly training degradation on CPU or CUDA.

The cascade knows no op by name: it loops over the registered ops in physical ``order`` and calls each
op's own torch methods (``sample_batch``/``apply_batch``/``batch_from_records`` beside its numpy
``sample``/``apply`` in :mod:`hmtir.degrade.ops`). Two doors share it:

* :func:`degrade` samples per-sample parameters *on the batch's device* from a ``torch.Generator``
  (no host round trip per image) and can return the SPT intermediate targets and a training mix
  (:data:`TRAINING_MIXES`);
* :func:`apply_params` applies parameters sampled by the numpy reference (:func:`hmtir.degrade.presets.
  sample_params`), regenerating the same noise fields, so the two implementations can be checked to agree.

Gates are per-sample masks (``torch.where`` between an op's output and its input), so a whole batch runs
as a fixed sequence of tensor ops whatever mix of gates it holds. The tensor kernels the ops share live in
:mod:`hmtir.degrade.kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from hmtir.degrade.ops import OPS, TRAINING_MIXES
from hmtir.degrade.presets import Preset, check_gate, load_preset
from hmtir.errors import HmtirError
from hmtir.vocabulary import COMPOSITE as COMPOSITE_LABEL
from hmtir.vocabulary import STEPS

#: Labels of a training mix: a one-step sample carries its step's index, a chain ``composite``, and an
#: all-steps sample (the released code's single-degradation sample: every step alone on the clean frame)
#: ``single``.
MIX_LABELS = (*STEPS, COMPOSITE_LABEL, "single")
COMPOSITE = MIX_LABELS.index(COMPOSITE_LABEL)
ALL_STEPS = MIX_LABELS.index("single")


@dataclass
class BatchParams:
    """Per-sample parameters on the batch's device: gate masks and each op's tensors, in physical order."""

    applied: dict[str, torch.Tensor]  # op -> bool (B,)
    ops: dict[str, dict[str, torch.Tensor]]  # op -> its sample_batch / batch_from_records output

    def only(self, step: str) -> BatchParams:
        """The same parameters with every op of ``step`` on and every other op off (a single step alone)."""
        applied = {op: torch.full_like(on, OPS.meta(op).step == step) for op, on in self.applied.items()}
        return BatchParams(applied, self.ops)


@dataclass
class DegradedBatch:
    degraded: torch.Tensor  # (B,1,H,W) in [0,1]: the first pass's input
    steps: dict[str, torch.Tensor] | None  # chain after contrast, +blur, +noise (SPT targets)
    labels: torch.Tensor | None  # (B,) index into MIX_LABELS when a training mix was requested
    params: BatchParams
    singles: dict[str, torch.Tensor] = field(default_factory=dict)  # all-steps mix: each step alone on clean


def _ordered(names: list[str] | tuple[str, ...]) -> list[str]:
    return sorted(names, key=lambda op: OPS.meta(op).order)


def _cascade(clean: torch.Tensor, params: BatchParams, keep_steps: bool) -> tuple[torch.Tensor, dict]:
    """Every op in physical order, each clipping, gated per sample; chain states after each step."""
    x = clean
    steps: dict[str, torch.Tensor] = {}
    names = _ordered(list(params.ops))
    for step in STEPS:
        for name in names:
            if OPS.meta(name).step != step:
                continue
            on = params.applied[name]
            if not bool(on.any()):  # e.g. another step's ops for the single-step frames
                continue
            x = torch.where(on.view(-1, 1, 1, 1), OPS.create(name).apply_batch(x, params.ops[name]), x)
        if keep_steps:
            steps[step] = x
    return x, steps


def _check_batch(clean: torch.Tensor) -> None:
    if clean.ndim != 4 or clean.shape[1] != 1:
        raise HmtirError(f"degrade expects a B×1×H×W batch, got shape {tuple(clean.shape)}")
    if not clean.is_floating_point():
        raise HmtirError(f"degrade expects float frames in [0, 1], got {clean.dtype}")


def apply_params(clean: torch.Tensor, params: list[dict] | dict, keep_steps: bool = False) -> DegradedBatch:
    """Apply numpy-sampled parameters (one dict per sample) with the torch cascade.

    ``clean`` is B×1×H×W (or H×W for a single dict). Noise fields are regenerated from the recorded seeds
    exactly as the numpy reference does, so results agree with :func:`hmtir.degrade.ops.apply`.
    """
    records = [params] if isinstance(params, dict) else list(params)
    if clean.ndim == 2:
        clean = clean[None, None]
    _check_batch(clean)
    batch, _, height, width = clean.shape
    if len(records) != batch:
        raise HmtirError(f"got {len(records)} parameter records for a batch of {batch}")
    for r in records:
        if list(r["shape"]) != [height, width]:
            raise HmtirError(f"parameters sampled for {r['shape']} cannot degrade a {height}×{width} frame")
    device = clean.device
    applied: dict[str, torch.Tensor] = {}
    ops: dict[str, dict[str, torch.Tensor]] = {}
    for name in _ordered(sorted({op for r in records for op in r["ops"]})):
        present = [r["ops"].get(name) for r in records]
        # a sample whose preset lacks the op borrows another sample's values; its gate stays shut
        filler = next(p for p in present if p is not None)
        applied[name] = torch.tensor([bool(p is not None and p["applied"]) for p in present], device=device)
        ops[name] = OPS.create(name).batch_from_records(
            [p if p is not None else filler for p in present], (height, width), device
        )
    bp = BatchParams(applied, ops)
    degraded, steps = _cascade(clean.float(), bp, keep_steps)
    return DegradedBatch(degraded, steps if keep_steps else None, None, bp)


def sample_batch_params(
    preset: Preset | str,
    batch: int,
    shape: tuple[int, int],
    generator: torch.Generator,
    gate: float = 0.8,
    device: torch.device | str | None = None,
) -> BatchParams:
    """Draw ``batch`` parameter sets with the numpy reference's distributions: per op in physical order, the
    gate uniforms, then the op's own ``sample_batch``. Tensors land on the generator's device."""
    preset = load_preset(preset)
    gate = preset.effective_gate(check_gate(gate))
    if device is not None and torch.device(device) != generator.device:
        raise HmtirError(f"the generator is on {generator.device} but parameters were asked on {device}")
    applied: dict[str, torch.Tensor] = {}
    ops: dict[str, dict[str, torch.Tensor]] = {}
    for name in preset.ops:
        applied[name] = torch.rand(batch, generator=generator, device=generator.device) < gate
        ops[name] = OPS.create(name).sample_batch(generator, preset.ranges[name], batch, shape)
    return BatchParams(applied, ops)


def _training_mix(params: BatchParams, generator: torch.Generator, mix: str) -> torch.Tensor:
    """Turn half the samples into single-degradation samples; return their labels (:data:`MIX_LABELS`).

    ``one_step``: a single sample is one random step (its ops forced on, the rest off). ``all_steps``: a
    single sample is labelled ``single`` and the caller degrades it once per step (every op of that step
    on). Chained samples keep their gates.
    """
    batch = next(iter(params.applied.values())).shape[0]
    device = generator.device
    single = torch.rand(batch, generator=generator, device=device) < 0.5
    if mix == "all_steps":
        return torch.where(single, ALL_STEPS, COMPOSITE).to(torch.long)
    step = torch.randint(0, len(STEPS), (batch,), generator=generator, device=device)
    for op, mask in params.applied.items():
        in_step = step == STEPS.index(OPS.meta(op).step)
        params.applied[op] = torch.where(single, in_step, mask)
    return torch.where(single, step, torch.full_like(step, COMPOSITE))


def degrade(
    clean: torch.Tensor,
    preset: Preset | str,
    generator: torch.Generator,
    gate: float = 0.8,
    return_steps: bool = False,
    training_mix: bool | str = False,
) -> DegradedBatch:
    """Degrade a clean B×1×H×W batch in [0,1] with per-sample parameters drawn on its device.

    ``return_steps`` adds the SPT targets (after contrast, +blur, +noise). ``training_mix`` (one of
    :data:`TRAINING_MIXES`; ``True`` means ``one_step``) makes half the samples single-degradation ones:
    ``one_step`` degrades them by one random step (label = step index); ``all_steps`` (the released
    training code) labels them ``single`` and returns ``singles[step]``, each step alone on the clean frame
    with all its ops on, ``degraded`` being ``singles["noise"]`` there. The rest are gated chains
    (label ``composite``).
    """
    _check_batch(clean)
    mix = "one_step" if training_mix is True else (training_mix or "composite")
    if mix not in TRAINING_MIXES:
        raise HmtirError(f"unknown training mix '{mix}' (available: {', '.join(TRAINING_MIXES)})")
    batch, _, height, width = clean.shape
    if generator.device != clean.device:
        raise HmtirError(f"the generator is on {generator.device} but the batch on {clean.device}")
    params = sample_batch_params(preset, batch, (height, width), generator, gate)
    labels = _training_mix(params, generator, mix) if mix != "composite" else None
    clean = clean.float()
    degraded, steps = _cascade(clean, params, return_steps)
    singles: dict[str, torch.Tensor] = {}
    if mix == "all_steps":
        is_single = (labels == ALL_STEPS).view(-1, 1, 1, 1)
        singles = {step: _cascade(clean, params.only(step), False)[0] for step in STEPS}
        degraded = torch.where(is_single, singles[STEPS[-1]], degraded)
    return DegradedBatch(degraded, steps if return_steps else None, labels, params, singles)
