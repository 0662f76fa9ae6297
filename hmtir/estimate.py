"""Automatic degradation prompts: judge which cascade steps a frame shows, then restore it accordingly.

The shipped ``estimator`` model (:mod:`hmtir.models.estimator`) gives, per frame, the probability that
each step of the HM-TIR cascade — contrast, blur, noise — is present. The steps judged present become
one label, the degradation prompt PPFN needs (:func:`decide`):

* none → ``clean``: the frame is returned unchanged (no pass at all);
* exactly one → that step: one pass with its prompt and the ``single`` scenario;
* two or three → ``composite``: the three SPT passes (noise → blur → contrast). Pairs the paper does not
  cover as subsets (blur + noise, contrast + noise, contrast + blur) go here on purpose: the gate-0.8
  composite training samples include exactly such partial cascades, and a composite pass for an absent
  step is trained to leave the frame as it is, whereas a single pass would leave one step undone.

A frame the estimator cannot judge (:func:`unjudgeable`: too small, NaN/Inf, (nearly) constant, mostly
saturated) gets a one-line reason instead of a guess.

**Confidence gate** (:data:`GATE`, :func:`decide_gated`). The thresholds above answer "which steps does the
frame show" (best 5-way accuracy); acting on a wrong answer costs more than leaving a step undone (a
contrast pass on a mildly blurred dark frame shifts its whole brightness). So a step counts for the *action*
only when its probability also reaches the gate's ``sure`` level; an unsure step is dropped: a composite
verdict with one sure step becomes one pass of that step, and a verdict with no sure step leaves the frame
unchanged. The verdict itself (``Estimate.verdict``) is kept and recorded beside the action.

Library API::

    est = load_estimator()                                    # shipped weights (or a PATH)
    estimates = est(batch)                                    # B×1×H×W in [0, 1] → list[Estimate]
    restored, estimates = restore_auto(method, batch, estimator=est, names=names)  # evaluate --prompts auto
    estimate_paths(["frames/"], range="auto")                 # files, with the raw→display mapping
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hmtir.errors import HmtirError
from hmtir.vocabulary import COMPOSITE, STEPS, scenario_of

if TYPE_CHECKING:
    import torch

    from hmtir.io.radiometric import RangeMapping, RangeSpec
    from hmtir.methods.base import Method

CLEAN = "clean"
#: Every answer the estimator gives, in table order.
LABELS: tuple[str, ...] = (CLEAN, *STEPS, COMPOSITE)
SHIPPED_ESTIMATOR = Path(__file__).resolve().parent / "models" / "weights" / "estimator.pt"
#: More than this share of pixels at 0 or at 1 leaves too little of the frame to judge.
MAX_SATURATED = 0.5
MIN_LEVELS = 4
#: The confidence gate (module docstring): per step, the probability a step needs before a pass acts on it.
#: Fitted by ``benchmarks/auto_gate.py --fit`` on the estimator's validation groups of HIT-UAV (0_110, 1_90),
#: never on the held-out frames it is measured on (ESTIMATOR_CARD.md, "Confidence gate"). Blur's level is
#: above 1: a blur pass gained 0.00-0.03 dB on blurred frames, so blur alone is never acted on.
GATE: dict[str, Any] = {"sure": {"contrast": 0.5, "blur": 1.01, "noise": 0.99}}


@dataclass(frozen=True)
class Estimate:
    """One frame's answer: ``degradation`` (one of :data:`LABELS`), the prompts a method acts on.

    ``verdict`` is what the per-step thresholds say the frame shows; ``degradation`` is the verdict after the
    confidence gate (``gated`` says which unsure steps were dropped, None when none were). ``degradation`` is
    None when the frame could not be judged; ``reason`` then says why in one line.
    """

    degradation: str | None
    scores: dict[str, float] = field(default_factory=dict)
    present: tuple[str, ...] = ()
    reason: str | None = None
    verdict: str | None = None
    gated: str | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:
            object.__setattr__(self, "verdict", self.degradation)

    @property
    def judged(self) -> bool:
        return self.degradation is not None

    @property
    def prompts(self) -> tuple[str, str] | None:
        """(degradation, scenario) prompts for a method, or None when the frame is clean (left unchanged)."""
        if self.degradation is None:
            raise HmtirError(f"no prompts for a frame that could not be judged: {self.reason}")
        if self.degradation == CLEAN:
            return None
        return self.degradation, scenario_of(self.degradation)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"degradation": self.degradation, "scores": dict(self.scores)}
        if self.verdict != self.degradation:
            out.update(verdict=self.verdict, gated=self.gated)
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def decide(present: Iterable[str]) -> str:
    """Steps judged present → a label: none → clean, one → itself, two or more → composite (module doc)."""
    chosen = set(present)
    steps = [s for s in STEPS if s in chosen]
    if not steps:
        return CLEAN
    return steps[0] if len(steps) == 1 else COMPOSITE


def decide_gated(
    scores: dict[str, float], thresholds: dict[str, float], gate: dict[str, Any] | None = GATE
) -> tuple[str, str, tuple[str, ...], str | None]:
    """(action, verdict, present, why) for one frame's per-step probabilities (module docstring).

    ``verdict`` = :func:`decide` on the steps over ``thresholds``; ``action`` = :func:`decide` on those of
    them that also reach the gate's ``sure`` level (``gate=None``: no gate, action = verdict); ``why`` names
    the dropped steps, None when the gate changed nothing.
    """
    present = tuple(step for step in STEPS if scores[step] >= thresholds[step])
    verdict = decide(present)
    if gate is None:
        return verdict, verdict, present, None
    sure = gate["sure"]
    unsure = [step for step in present if scores[step] < sure[step]]
    if not unsure:
        return verdict, verdict, present, None
    action = decide([step for step in present if step not in unsure])
    why = ", ".join(f"{step} {scores[step]:.2f} < {sure[step]}" for step in unsure)
    return action, verdict, present, f"unsure: {why}"


def _plane(frame: np.ndarray | torch.Tensor) -> np.ndarray:
    """A frame as a numpy array without leading singleton axes (1×1×H×W, 1×H×W → H×W)."""
    array = frame.detach().cpu().numpy() if hasattr(frame, "detach") else np.asarray(frame)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    return array


def unjudgeable(frame: np.ndarray | torch.Tensor) -> str | None:
    """Why a display frame (H×W in [0, 1]) cannot be judged, in a few words; None when it can."""
    from hmtir.models.estimator import MIN_SIDE

    array = _plane(frame)
    if array.ndim != 2:
        return f"not a single grey frame (shape {tuple(array.shape)})"
    height, width = array.shape
    if min(height, width) < MIN_SIDE:
        return f"too small to judge ({width}×{height} px; the estimator needs at least {MIN_SIDE} px a side)"
    if array.dtype.kind != "f":
        return f"holds {array.dtype} values, not display floats in [0, 1] (map it with hmtir.io.radiometric)"
    finite = np.isfinite(array)
    if not finite.all():
        return f"contains NaN/Inf pixels ({int((~finite).sum())} of {array.size})"
    if float(array.min()) < -1e-6 or float(array.max()) > 1 + 1e-6:
        return "values outside [0, 1]: map the frame to display first (hmtir.io.radiometric)"
    levels = np.unique(array[:: max(1, array.shape[0] // 256), :: max(1, array.shape[1] // 256)])
    if levels.size < MIN_LEVELS and np.unique(array).size < MIN_LEVELS:
        return f"(nearly) constant: {np.unique(array).size} distinct value(s)"
    low, high = np.percentile(array, (0.5, 99.5))
    if high - low < 1.0 / 255:
        return f"(nearly) constant: 99 % of pixels within {high - low:.2g} of the display range"
    saturated = max(float((array <= 0).mean()), float((array >= 1).mean()))
    if saturated > MAX_SATURATED:
        return f"{100 * saturated:.0f} % of pixels saturated at one end of the range"
    return None


class Estimator:
    """A loaded estimator: call it on frames; ``weights_sha256`` names the exact weights that judged them."""

    def __init__(
        self,
        model: Any,
        weights_sha256: str | None,
        path: Path | None,
        device: str = "cpu",
        gate: dict[str, Any] | None = GATE,
    ) -> None:
        self.model = model.eval().to(device)
        self.weights_sha256 = weights_sha256
        self.path = path
        self.device = device
        self.gate = gate

    @property
    def thresholds(self) -> dict[str, float]:
        """The per-step decision thresholds stored in the checkpoint (chosen on validation frames)."""
        return dict(zip(STEPS, (float(t) for t in self.model.thresholds.cpu().tolist())))

    @property
    def sha256(self) -> str:
        """Identity of everything that turns a frame into prompts: the weights, thresholds and gate."""
        import hashlib
        import json

        rule = {"weights": self.weights_sha256, **self.describe()}
        return hashlib.sha256(json.dumps(rule, sort_keys=True).encode()).hexdigest()

    def __call__(self, frames: torch.Tensor | Sequence[np.ndarray]) -> list[Estimate]:
        """B×1×H×W float in [0, 1] (or a list of H×W arrays of any sizes) → one :class:`Estimate` each."""
        import torch

        if isinstance(frames, torch.Tensor):
            if frames.ndim != 4 or frames.shape[1] != 1:
                raise HmtirError(f"the estimator expects a B×1×H×W grey batch, got {tuple(frames.shape)}")
            items: list[np.ndarray] = [_plane(f) for f in frames[:, 0]]
        else:
            items = [_plane(f) for f in frames]
        results: list[Estimate | None] = [None] * len(items)
        todo: list[int] = []
        for index, frame in enumerate(items):
            reason = unjudgeable(frame)
            if reason is not None:
                results[index] = Estimate(None, reason=reason)
            else:
                todo.append(index)
        # frames of one size go through the network together
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index in todo:
            by_shape.setdefault(tuple(items[index].shape), []).append(index)
        thresholds = self.thresholds
        for indices in by_shape.values():
            batch = torch.stack([torch.as_tensor(items[i]) for i in indices])
            batch = batch.to(self.device, torch.float32)[:, None]
            with torch.inference_mode():
                probabilities = self.model(batch).cpu().numpy().astype(np.float64)
            for i, p in zip(indices, probabilities):
                exact = {step: float(value) for step, value in zip(STEPS, p)}
                action, verdict, present, why = decide_gated(exact, thresholds, self.gate)
                scores = {step: round(value, 4) for step, value in exact.items()}
                results[i] = Estimate(action, scores, present, verdict=verdict, gated=why)
        return [r for r in results if r is not None]

    def describe(self) -> dict[str, Any]:
        return {
            "model": "estimator",
            "weights_sha256": self.weights_sha256,
            "checkpoint": None if self.path is None else self.path.name,
            "thresholds": {step: round(t, 4) for step, t in self.thresholds.items()},
            "rule": "none present → clean; one → that step; two or more → composite",
            "gate": None
            if self.gate is None
            else {**self.gate, "rule": "a present step under its sure level is dropped before acting"},
        }


def load_estimator(
    weights: str | os.PathLike[str] | None = None, device: str = "cpu", gate: dict[str, Any] | None = GATE
) -> Estimator:
    """The shipped estimator (``weights=None``) or an ``estimator`` checkpoint at ``weights``; ``gate=None``
    acts on the bare verdict (no confidence gate)."""
    from hmtir.models.checkpoint import load_checkpoint
    from hmtir.weights import sha256_file

    path = SHIPPED_ESTIMATOR if weights is None else Path(weights)
    if weights is None and not path.is_file():
        raise HmtirError(
            f"the shipped estimator {path.name} is missing from {path.parent}; reinstall hmtir or pass a "
            "checkpoint, or give the degradation yourself (--degradation)"
        )
    loaded = load_checkpoint(path)
    if loaded.name != "estimator":
        raise HmtirError(f"checkpoint {path} holds model '{loaded.name}', not an 'estimator'")
    return Estimator(loaded.model, sha256_file(path), path, device, gate)


def restore_auto(
    method: Method,
    batch: torch.Tensor,
    *,
    estimator: Estimator | None = None,
    estimates: Sequence[Estimate] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[torch.Tensor, list[Estimate]]:
    """Restore each frame of ``batch`` with the prompts the estimator chose for it (``evaluate --prompts auto``).

    Frames judged ``clean`` come back unchanged; the others go through ``method`` (its restore contract)
    grouped by degradation. A frame that cannot be judged is a one-line error naming it (``names``).
    """
    import torch

    if estimates is None:
        estimates = (estimator or load_estimator(device=str(batch.device)))(batch)
    if len(estimates) != batch.shape[0]:
        raise HmtirError(f"{len(estimates)} estimates for a batch of {batch.shape[0]} frames")
    for index, estimate in enumerate(estimates):
        if not estimate.judged:
            name = names[index] if names is not None and index < len(names) else f"frame {index} of the batch"
            raise HmtirError(f"cannot choose prompts for {name}: {estimate.reason}")
    out = batch.detach().clone().float()
    groups: dict[str, list[int]] = {}
    for index, estimate in enumerate(estimates):
        if estimate.degradation != CLEAN:
            groups.setdefault(str(estimate.degradation), []).append(index)
    for degradation, indices in groups.items():
        picked = torch.tensor(indices, device=batch.device)
        part_names = [names[i] for i in indices] if names is not None else None
        restored = method(
            batch.index_select(0, picked), degradation, scenario_of(degradation), names=part_names
        )
        out[picked] = restored.to(out.device, out.dtype)
    return out, list(estimates)


@dataclass(frozen=True)
class FrameEstimate:
    """An input file, the mapping that brought it to display, and the verdict on it."""

    path: Path
    estimate: Estimate
    mapping: RangeMapping | None
    size: tuple[int, int] | None


def estimate_paths(
    paths: Sequence[str | os.PathLike[str]],
    range: RangeSpec | str = "auto",
    estimator: Estimator | None = None,
    on_done: Callable[[FrameEstimate], None] | None = None,
) -> list[FrameEstimate]:
    """Judge image files (folders walked recursively); an unreadable file is a one-line error, an
    unjudgeable frame an :class:`Estimate` with a ``reason``."""
    from hmtir.data.layout import IMAGE_SUFFIXES
    from hmtir.io.radiometric import read_raw

    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found = sorted(
                p
                for p in item.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                raise HmtirError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {item}")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise HmtirError(f"input not found: {item}")
    estimator = estimator or load_estimator()
    results = []
    for path in files:
        raw = read_raw(path, range)
        estimate = estimator([raw.display])[0]
        result = FrameEstimate(path, estimate, raw.mapping, tuple(raw.pixels.shape))
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
