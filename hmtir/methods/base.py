"""The one call shape every restoration method implements, from ``identity`` to PPFN+SPT."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta
from hmtir.vocabulary import DEGRADATIONS, SCENARIOS, scenario_of

if TYPE_CHECKING:
    import torch

METHOD_KINDS = ("classical", "learned", "reference")


@dataclass(frozen=True)
class MethodMeta(EntryMeta):
    """Typed metadata of a method; ``weights`` (from :class:`EntryMeta`) says where its weights live.

    ``kind``: classical (hand-designed), learned (trained network), or reference (identity and similar).
    ``uses_prompts``: True when :meth:`Method.restore` reads ``degradation``/``scenario``; methods that
    ignore them are prompt-blind and score the same on every subset label.
    """

    kind: str = "learned"
    backbone: str | None = None
    uses_prompts: bool = False

    def __post_init__(self) -> None:
        if self.kind not in METHOD_KINDS:
            raise ValueError(
                f"method '{self.name}': kind '{self.kind}' is not one of {', '.join(METHOD_KINDS)}"
            )


def check_prompts(degradation: str, scenario: str) -> None:
    """Reject prompt values no method was trained on, before any method sees them."""
    if degradation not in DEGRADATIONS:
        raise HmtirError(f"unknown degradation '{degradation}' (expected one of: {', '.join(DEGRADATIONS)})")
    if scenario not in SCENARIOS:
        raise HmtirError(f"unknown scenario '{scenario}' (expected one of: {', '.join(SCENARIOS)})")


class Method:
    """A restoration method. Subclasses implement :meth:`restore`; callers call the method itself.

    ``method(batch, degradation, scenario)`` is the one door every caller uses (evaluate, enhance,
    compare, the leaderboard), and subclasses cannot override it: it checks the prompts and the input
    (``B×1×H×W`` float, finite, in [0, 1]), runs :meth:`restore` under ``torch.inference_mode()`` on
    ``self.device``, then checks the output (a tensor of the input's shape, every value finite) and
    returns it as float32 clamped to [0, 1]. A broken method is a one-line error naming the method and
    the frame, never a NaN image written to disk or a score of garbage.

    ``restore`` receives float32 on ``self.device``; ``degradation`` is one of
    :data:`hmtir.vocabulary.DEGRADATIONS` and ``scenario`` one of ``SCENARIOS`` (methods that don't use
    prompts ignore them). Learned methods set ``weights_sha256`` to the hash of the file they loaded, so
    results name the exact weights that produced them. Methods from outside hmtir carry ``source`` (their
    code's sha256, distribution and version: :mod:`hmtir.external`), recorded the same way.
    """

    meta: MethodMeta
    device: str = "cpu"
    weights_sha256: str | None = None
    source: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides Method.__call__ (the restore contract); implement restore()"
            )
        if "to" in cls.__dict__:  # a subclass moves its networks before calling super: check the device first
            cls.to = _resolving_device(cls.__dict__["to"])  # type: ignore[method-assign]

    def __call__(
        self,
        batch: torch.Tensor,
        degradation: str = "composite",
        scenario: str | None = None,
        *,
        names: Sequence[str] | None = None,
    ) -> torch.Tensor:
        """Restore ``batch`` under the contract above; ``names`` label the frames in error messages."""
        import torch

        scenario = scenario or scenario_of(degradation)
        check_prompts(degradation, scenario)

        def frame(index: int) -> str:
            return names[index] if names is not None and index < len(names) else f"frame {index} of the batch"

        if not isinstance(batch, torch.Tensor) or batch.ndim != 4 or batch.shape[1] != 1:
            got = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise HmtirError(f"method '{self.name}' expects a B×1×H×W grey batch, got {got}")
        if not batch.is_floating_point():
            raise HmtirError(f"method '{self.name}' expects float frames in [0, 1], got {batch.dtype}")
        x = batch.to(self.device, torch.float32)
        finite = torch.isfinite(x).flatten(1).all(dim=1)
        if not bool(finite.all()):
            raise HmtirError(
                f"method '{self.name}': input {frame(int((~finite).nonzero()[0]))} contains NaN/Inf"
            )
        if x.numel() and (float(x.min()) < -1e-6 or float(x.max()) > 1 + 1e-6):
            raise HmtirError(
                f"method '{self.name}': input values must lie in [0, 1], got [{float(x.min()):.4g}, {float(x.max()):.4g}]"
            )
        with torch.inference_mode():
            output = self.restore(x, degradation=degradation, scenario=scenario)
        if not isinstance(output, torch.Tensor) or tuple(output.shape) != tuple(x.shape):
            got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise HmtirError(f"method '{self.name}' returned {got} for a batch of shape {tuple(x.shape)}")
        output = output.detach().to(self.device, torch.float32)
        finite = torch.isfinite(output).flatten(1).all(dim=1)
        if not bool(finite.all()):
            raise HmtirError(
                f"method '{self.name}' produced NaN/Inf for {frame(int((~finite).nonzero()[0]))}; nothing was kept"
            )
        return output.clamp_(0.0, 1.0)

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        """The method's own work on a checked float32 batch on ``self.device`` (see the class docstring)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement restore()")

    def restore_with_rgb_model(
        self, batch: torch.Tensor, run_rgb: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """For visible-light RGB models: grey → 3 equal channels → ``run_rgb`` → clamp to [0, 1] → channel mean."""
        if batch.ndim != 4 or batch.shape[1] != 1:
            raise HmtirError(f"{self.meta.name} expects a B×1×H×W grey batch, got shape {tuple(batch.shape)}")
        rgb_out = run_rgb(batch.expand(-1, 3, -1, -1).contiguous())
        return rgb_out.clamp(0, 1).mean(dim=1, keepdim=True)

    def to(self, device: str) -> Method:
        """Move the method to ``device`` (subclasses holding networks move them too and call super).

        Every ``to``, a subclass's included, first resolves ``device`` (:func:`hmtir.runtime.resolve_device`),
        so a method never reports a GPU this machine does not have; ``auto`` becomes the concrete device."""
        from hmtir.runtime import resolve_device

        self.device = resolve_device(device)
        return self

    @property
    def name(self) -> str:
        return self.meta.name

    def describe(self) -> dict[str, Any]:
        """Provenance recorded with every result: the method's metadata and the exact weights used."""
        described = {**self.meta.as_dict(), "weights_sha256": self.weights_sha256, "device": self.device}
        return {**described, "source": self.source} if self.source is not None else described

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.meta.name!r}, device={self.device!r})"


def _resolving_device(move: Callable[[Method, str], Method]) -> Callable[[Method, str], Method]:
    """``move`` called with the resolved device (an unavailable one is one line before anything moves)."""

    @functools.wraps(move)
    def to(self: Method, device: str) -> Method:
        from hmtir.runtime import resolve_device

        return move(self, resolve_device(device))

    return to
