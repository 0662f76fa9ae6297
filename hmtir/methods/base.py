"""The one call shape every restoration method implements, from ``identity`` to PPFN+SPT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta
from hmtir.vocabulary import DEGRADATIONS, SCENARIOS

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
    """A restoration method. Subclasses implement :meth:`restore`; everything else has sensible defaults.

    ``restore`` takes a float32 tensor ``B×1×H×W`` in [0, 1] on ``self.device`` and returns a tensor of the
    same shape (values outside [0, 1] are clamped by the scorer, NaN/Inf are rejected by it);
    ``degradation`` is one of ``DEGRADATIONS`` and ``scenario`` one of ``SCENARIOS`` (the evaluate engine
    passes the subset's values; methods that don't use prompts ignore them). The engine calls ``restore``
    under ``torch.inference_mode()``.

    Learned methods set ``weights_sha256`` to the hash of the file they loaded, so results name the exact
    weights that produced them.
    """

    meta: MethodMeta
    device: str = "cpu"
    weights_sha256: str | None = None

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
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
        """Move the method to ``device`` (subclasses holding networks move them too and call super)."""
        self.device = device
        return self

    @property
    def name(self) -> str:
        return self.meta.name

    def describe(self) -> dict[str, Any]:
        """Provenance recorded with every result: the method's metadata and the exact weights used."""
        return {**self.meta.as_dict(), "weights_sha256": self.weights_sha256, "device": self.device}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.meta.name!r}, device={self.device!r})"
