"""Network registry: ``create_model("ppfn_restormer", dim=8, ...)`` builds any backbone or PPFN variant.

Shipped networks are declared in :mod:`hmtir.models.catalog` (metadata, default configuration as
``params``, and the ``"module:function"`` that builds them); their torch modules are imported only when a
network is built, so listing models needs no torch. Code outside hmtir adds a network with the
``@MODELS.register("name", summary=..., params=...)`` decorator on its factory.
"""

from __future__ import annotations

from typing import Any

from hmtir.registry import EntryMeta, Registry

MODELS: Registry[EntryMeta] = Registry("model", EntryMeta, catalog="hmtir.models.catalog")


def create_model(name: str, **overrides: Any) -> Any:
    """Build the named network; ``overrides`` replace its default configuration (``MODELS.meta(name).params``)."""
    return MODELS.create(name, **overrides)


__all__ = ["MODELS", "create_model"]
