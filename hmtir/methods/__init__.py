"""Method registry: ``load_method("ppfn")`` is the single door to every restoration method.

A name may carry a weights tag, timm-style: ``load_method("ppfn.dim")`` is ``load_method("ppfn",
weights="dim")``, so every place that takes a method name (evaluate, compare, demo, leaderboard seed) can
name a shipped weights variant. A name with a colon is a method from outside hmtir:
``load_method("my_pkg.module:factory")`` or ``load_method("path/to/file.py:factory")``
(:mod:`hmtir.external`); installed plugins add names through the ``hmtir.methods`` entry point
group (:mod:`hmtir.plugins`).

Shipped methods are declared in :mod:`hmtir.methods.catalog` (typed metadata and the ``"module:function"``
of the factory); a method's module, and torch with it, is imported only when the method is built, so
``hmtir list`` needs no torch. Code outside hmtir adds a method with the ``@METHODS.register("name",
kind=..., summary=...)`` decorator on a factory returning a :class:`Method`.
"""

from __future__ import annotations

import inspect
from typing import Any

from hmtir.errors import HmtirError
from hmtir.methods.base import DEGRADATIONS, METHOD_KINDS, SCENARIOS, Method, MethodMeta, check_prompts
from hmtir.registry import Registry

METHODS: Registry[MethodMeta] = Registry(
    "method", MethodMeta, catalog="hmtir.methods.catalog", plugins="hmtir.methods"
)


def split_weights_tag(name: str) -> tuple[str, str | None]:
    """``"ppfn.dim"`` → ``("ppfn", "dim")``; a name without a tag → ``(name, None)``."""
    base, dot, tag = name.partition(".")
    return (base, tag) if dot and base and tag else (name, None)


def load_method(name: str, device: str = "cpu", **kwargs: Any) -> Method:
    """Build a registered method (keyword arguments such as ``weights=`` go to its factory) on ``device``.

    Keyword arguments the factory does not take are a one-line error (e.g. ``--weights`` for ``identity``)
    instead of a TypeError from deep inside the factory, and so are a name that is not text and a
    ``device`` this machine does not have (checked before any weights are read).
    """
    from hmtir.runtime import resolve_device

    if not isinstance(name, str) or not name.strip():
        shown = ascii(name) if isinstance(name, str) else "None" if name is None else type(name).__name__
        raise HmtirError(f"method: expected a method name such as 'wfaf', got {shown}")
    device = resolve_device(device)
    METHODS.refuse_clash(name)  # a refused plugin name, also one that would read as a weights tag
    if ":" in name:  # my_pkg.module:factory or path/file.py:factory (a weights tag has a dot, no colon)
        from hmtir.external import load_external

        return load_external(name.strip(), device, **kwargs)
    name, tag = split_weights_tag(name)
    if tag is not None:
        if kwargs.get("weights") is not None:
            raise HmtirError(
                f"method '{name}.{tag}' already names its weights: drop --weights {kwargs['weights']}"
            )
        kwargs = {**kwargs, "weights": tag}
    entry = METHODS.entry(name)  # PPFN → ppfn where unambiguous; a close miss gets a "did you mean"
    name, factory = entry.meta.name, entry.factory
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unexpected = sorted(k for k in kwargs if k not in params and not takes_any)
    if unexpected:
        accepted = (
            ", ".join(p for p in params if params[p].kind is not inspect.Parameter.VAR_POSITIONAL) or "none"
        )
        raise HmtirError(f"method '{name}' does not take {', '.join(unexpected)} (its options: {accepted})")
    if entry.origin is not None:  # a plugin's factory: wrapped, checked and identified like file.py:factory
        from hmtir.external import adopt, call_factory, plugin_source

        label = f"{name}{f'.{tag}' if tag else ''} (plugin {entry.origin.label})"
        built = call_factory(label, factory, kwargs)
        run = name if tag is None else f"{name}-{tag}"  # results folder names never carry a dot
        return adopt(built, run, label, plugin_source(entry.origin, factory.resolve()), device)
    try:
        method = factory(**kwargs)
    except HmtirError as err:
        if tag is None:
            raise
        raise HmtirError(f"method '{name}.{tag}': {err}") from None
    if not isinstance(method, Method):
        raise TypeError(f"factory of method '{name}' returned {type(method).__name__}, not a Method")
    return method.to(device)


__all__ = [
    "DEGRADATIONS",
    "METHODS",
    "METHOD_KINDS",
    "SCENARIOS",
    "Method",
    "MethodMeta",
    "check_prompts",
    "load_method",
    "split_weights_tag",
]
