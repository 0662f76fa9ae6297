"""Metric objects passed to ``evaluate(metrics=[...])`` instead of registry names: the protocol the runner
reads (``meta``, ``__call__``, ``definition()``), without a registry entry, weights or a ``quantize_8bit``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    mode: str
    lower_better: bool


class ObjectMetric:
    """A subclass sets ``meta`` and ``formula`` and scores in ``__call__``; its definition is the two."""

    meta: ObjectMeta
    formula: str

    def definition(self) -> dict[str, str]:
        return {"name": self.meta.name, "formula": self.formula}
