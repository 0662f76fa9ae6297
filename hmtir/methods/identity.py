"""``identity``: returns its input. The floor of every results table (the degraded image's own score)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hmtir.methods import METHODS
from hmtir.methods.base import Method, MethodMeta

if TYPE_CHECKING:
    import torch


class Identity(Method):
    def __init__(self, meta: MethodMeta) -> None:
        self.meta = meta

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        return batch


def identity() -> Method:
    return Identity(METHODS.meta("identity"))
