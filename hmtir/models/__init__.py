"""Network registry: ``create_model("ppfn_restormer", dim=8, ...)`` builds any backbone or PPFN variant.

Modules listed here register their factories with ``@MODELS.register(...)`` and are imported on first use.
"""

from __future__ import annotations

from typing import Any

from hmtir.registry import EntryMeta, Registry

_MODEL_MODULES: list[str] = [
    "hmtir.models.restormer",
    "hmtir.models.nafnet",
    "hmtir.models.focalnet",
    "hmtir.models.daclip",
    "hmtir.models.diffuir",
    "hmtir.models.estimator",
]

MODELS: Registry[EntryMeta] = Registry("model", EntryMeta, _MODEL_MODULES)


def create_model(name: str, **overrides: Any) -> Any:
    """Build the named network; ``overrides`` replace the factory's default configuration."""
    return MODELS.create(name, **overrides)


__all__ = ["MODELS", "create_model"]
