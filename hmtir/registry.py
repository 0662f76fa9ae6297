"""One registry idiom for datasets, degradations, metrics, backbones and methods.

In the spirit of timm's ``register_model``/``create_model`` and pyiqa's ``create_metric``: each entry is a
name, typed metadata and a factory. A registry's shipped entries are *declared* in a catalog module
(``hmtir/methods/catalog.py``, ...): typed metadata plus the factory's ``"module:attr"``, imported only
when the entry is built. Catalogs import nothing heavy, so ``hmtir list`` and ``hmtir --help`` work
without torch, and one broken implementation module cannot hide the others. Code outside hmtir may still
add entries with the ``@REG.register(...)`` decorator, and installed distributions add entries through
entry points (:mod:`hmtir.plugins`), found from their metadata and imported only when built.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Generic, TypeVar

from hmtir.errors import HmtirError


def unknown_name(kind: str, name: str, known: Iterable[str], extra: str = "") -> HmtirError:
    """The one-line error for a name that is not there: a "did you mean" hint, then what is available."""
    options = sorted(known)
    folded = sorted({o.casefold() for o in options})
    close = difflib.get_close_matches(name.casefold(), folded, n=2, cutoff=0.6)
    guesses = [o for c in close for o in options if o.casefold() == c]
    hint = f"did you mean {' or '.join(map(repr, guesses))}? " if guesses else ""
    return HmtirError(f"unknown {kind} '{name}' ({hint}available: {', '.join(options) or 'none'}){extra}")


def resolve_name(kind: str, name: str, known: Iterable[str]) -> str:
    """``name`` as registered: exact, else the one entry equal ignoring case (``PPFN`` → ``ppfn``), else an error.

    Case is ignored only where that is unambiguous; two entries differing in case keep needing the exact one.
    """
    options = list(known)
    if name in options:
        return name
    folded = [o for o in options if o.casefold() == str(name).casefold()]
    if len(folded) == 1:
        return folded[0]
    raise unknown_name(kind, str(name), options)


@dataclass(frozen=True)
class WeightsSpec:
    """A downloadable file a factory needs: where to get it and how to recognise it."""

    filename: str
    url: str | None = None
    sha256: str | None = None
    source: str | None = None  # name of an entry in the download source registry
    license: str | None = None


@dataclass(frozen=True)
class EntryMeta:
    """Metadata every registry entry carries; registries subclass it to add typed fields."""

    name: str
    summary: str = ""
    paper: str | None = None
    license: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    weights: WeightsSpec | None = None
    needs_gpu: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, WeightsSpec):
                value = {g.name: getattr(value, g.name) for g in fields(value)}
            out[f.name] = value
        return out


M = TypeVar("M", bound=EntryMeta)


class LazyFactory:
    """A factory named ``"package.module:attribute"``, imported on its first call (declaring costs nothing)."""

    def __init__(self, target: str) -> None:
        module, _, attribute = target.partition(":")
        if not module or not attribute:
            raise ValueError(f"factory target {target!r} must look like 'package.module:attribute'")
        self.target = target
        self._resolved: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        if self._resolved is None:
            module, _, attribute = self.target.partition(":")
            try:
                found = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as err:
                raise HmtirError(f"cannot load {self.target} ({type(err).__name__}: {err})") from None
            self._resolved = found
        return self._resolved

    @property
    def __signature__(self) -> inspect.Signature:  # what load_method checks keyword arguments against
        return inspect.signature(self.resolve())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyFactory({self.target!r})"


class PluginFactory:
    """The factory an entry point names (:class:`hmtir.plugins.Plugin`), imported on its first use."""

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin

    def resolve(self) -> Callable[..., Any]:
        from hmtir.plugins import resolve

        found = resolve(self.plugin)
        if not callable(found):
            raise HmtirError(
                f"plugin {self.plugin.label}: {self.plugin.name} = {self.plugin.target} is a "
                f"{type(found).__name__}, not a factory"
            )
        return found

    @property
    def __signature__(self) -> inspect.Signature:
        try:
            return inspect.signature(self.resolve())
        except (TypeError, ValueError):  # a builtin or C callable without one: take keywords as given
            return inspect.Signature([inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"PluginFactory({self.plugin.target!r} from {self.plugin.label})"


@dataclass(frozen=True)
class Entry(Generic[M]):
    meta: M
    factory: Callable[..., Any]
    origin: Any = None  # the hmtir.plugins.Plugin that declared it; None for hmtir's own entries


class Registry(Generic[M]):
    """Name → (metadata, factory), filled on first lookup from its ``catalog`` module (declarations) and any
    ``modules`` that register entries themselves, plus the entry points of the ``plugins`` group."""

    def __init__(
        self,
        kind: str,
        meta_type: type[M] = EntryMeta,
        modules: Sequence[str] = (),
        catalog: str | None = None,
        plugins: str | None = None,
    ) -> None:
        self.kind = kind
        self.meta_type = meta_type
        self._modules = ([catalog] if catalog else []) + list(modules)
        self._entries: dict[str, Entry[M]] = {}
        self._loaded = False
        self.load_errors: dict[str, str] = {}  # module -> why it failed to import
        self._plugins = plugins
        self._importing = False
        self._plugin_path: tuple[str, ...] | None = None  # sys.path the plugins were discovered on
        self.clashes: dict[str, str] = {}  # casefolded name -> the one-line refusal (hmtir.plugins.Clash)

    def register(
        self, name: str | None = None, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@REG.register("name", paper=..., license=...)`` on a factory function or class."""

        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            key = name or factory.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} '{key}' is registered twice")
            try:
                metadata = self.meta_type(name=key, **meta)
            except TypeError as err:
                raise ValueError(f"{self.kind} '{key}': bad metadata ({err})") from None
            self._entries[key] = Entry(metadata, factory)
            return factory

        return decorate

    def declare(self, name: str, factory: str, **meta: Any) -> None:
        """Add an entry whose factory (``"module:attr"``) is imported only when the entry is built."""
        self.register(name, **meta)(LazyFactory(factory))

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._importing = True
            try:
                self._import_modules()
            finally:
                self._importing = False
        if self._plugins is not None and not self._importing and self._plugin_path != tuple(sys.path):
            self._load_plugins()  # again whenever sys.path changed: a new environment, a test's dist-info

    def _import_modules(self) -> None:
        for module in self._modules:
            # One broken entry module (a missing optional package, say) must not take the others down;
            # the failure is kept and shown wherever the entry would have been listed or used.
            try:
                importlib.import_module(module)
            except ImportError as err:
                self.load_errors[module] = f"{type(err).__name__}: {err}"

    def _load_plugins(self) -> None:
        """(Re)discover the entry points of the ``plugins`` group; refused names go to :attr:`clashes`."""
        from hmtir.plugins import discover

        self._plugin_path = tuple(sys.path)
        self._entries = {k: e for k, e in self._entries.items() if e.origin is None}
        found, clashes = discover(str(self._plugins), self.kind, set(self._entries))
        self.clashes = {c.name.casefold(): c.message for c in clashes}
        for plugin in found:
            meta = self.meta_type(name=plugin.name, summary=f"plugin {plugin.label} ({plugin.target})")
            self._entries[plugin.name] = Entry(meta, PluginFactory(plugin), origin=plugin)

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (see :func:`resolve_name`)."""
        return self.entry(name).meta.name

    def __iter__(self) -> Iterator[Entry[M]]:
        self._ensure_loaded()
        return iter(self._entries[k] for k in sorted(self._entries))

    def entry(self, name: str) -> Entry[M]:
        """The entry called ``name`` (case-insensitively where unambiguous); unknown names get a hint.

        A name a plugin clashes on (:mod:`hmtir.plugins`) is refused, hmtir's own entry of that name too:
        which of the two a result meant could not be told afterwards."""
        self.refuse_clash(name)
        try:
            return self._entries[resolve_name(self.kind, name, self._entries)]
        except HmtirError:
            broken = "".join(f"; {mod} failed to load ({why})" for mod, why in self.load_errors.items())
            raise unknown_name(self.kind, name, self._entries, broken) from None

    def refuse_clash(self, name: object) -> None:
        """Raise the one-line refusal of a plugin name that clashes (or is no valid entry name), if it is one."""
        self._ensure_loaded()
        if isinstance(name, str) and name.casefold() in self.clashes:
            raise HmtirError(self.clashes[name.casefold()])

    def meta(self, name: str) -> M:
        return self.entry(name).meta

    def create(self, name: str, **kwargs: Any) -> Any:
        """Build the named entry; keyword arguments override the factory's defaults."""
        return self.entry(name).factory(**kwargs)

    def with_meta(self, name: str, **changes: Any) -> M:
        """A copy of an entry's metadata with some fields changed (e.g. a user-supplied weights file)."""
        return replace(self.meta(name), **changes)
