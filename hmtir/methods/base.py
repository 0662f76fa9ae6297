"""The one call shape every restoration method implements, from ``identity`` to PPFN+SPT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hmtir.registry import EntryMeta

if TYPE_CHECKING:
    import torch

DEGRADATIONS = ("composite", "contrast", "blur", "noise")
SCENARIOS = ("composite", "single")


@dataclass(frozen=True)
class MethodMeta(EntryMeta):
    """``kind``: classical (hand-designed), learned (trained network), or reference (identity and similar)."""

    kind: str = "learned"
    backbone: str | None = None
    uses_prompts: bool = False  # True when the method reads `degradation`/`scenario`


class Method:
    """A restoration method. Subclasses implement :meth:`restore`; everything else has sensible defaults.

    ``restore`` takes a float32 tensor ``B×1×H×W`` in [0, 1] on ``self.device`` and returns the same shape;
    ``degradation`` is one of ``DEGRADATIONS`` and ``scenario`` one of ``SCENARIOS`` (the evaluate engine
    passes the subset's values; methods that don't use prompts ignore them).
    """

    meta: MethodMeta
    device: str = "cpu"
    weights_sha256: str | None = None

    def restore(self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite") -> torch.Tensor:
        raise NotImplementedError

    def to(self, device: str) -> Method:
        self.device = device
        return self

    def describe(self) -> dict[str, Any]:
        """Provenance recorded with every result: the method's metadata and the exact weights used."""
        return {**self.meta.as_dict(), "weights_sha256": self.weights_sha256, "device": self.device}
