"""Method registry: ``load_method("ppfn")`` is the single door to every restoration method.

Each module below registers its methods with ``@METHODS.register(...)``; the list is imported lazily on
first lookup, so importing :mod:`hmtir.methods` is cheap.
"""

from __future__ import annotations

from typing import Any

from hmtir.methods.base import DEGRADATIONS, SCENARIOS, Method, MethodMeta
from hmtir.registry import Registry

_METHOD_MODULES = [
    "hmtir.methods.identity",
]

METHODS: Registry[MethodMeta] = Registry("method", MethodMeta, _METHOD_MODULES)


def load_method(name: str, device: str = "cpu", **kwargs: Any) -> Method:
    """Build a registered method (keyword arguments such as ``weights=`` go to its factory) on ``device``."""
    method = METHODS.create(name, **kwargs)
    return method.to(device)


__all__ = ["DEGRADATIONS", "METHODS", "SCENARIOS", "Method", "MethodMeta", "load_method"]
