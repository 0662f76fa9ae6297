"""Pip-installed plugins: methods, metrics and benchmarks from other distributions, found by entry point.

A distribution adds entries by declaring entry points in the groups of :data:`GROUPS`::

    [project.entry-points."hmtir.methods"]
    my-method = "my_pkg.methods:build"      # a factory returning a Method or a torch.nn.Module
    [project.entry-points."hmtir.metrics"]
    my-metric = "my_pkg.metrics:build"      # a factory returning a hmtir Metric
    [project.entry-points."hmtir.benchmarks"]
    my-bench = "my_pkg.bench:DEFINITION"    # a benchmarks.yaml entry (a mapping, or a function returning one)

Discovery reads only the installed metadata (``importlib.metadata``): a method or metric module is imported
only when its entry is built, so ``hmtir list`` shows them without importing torch. A benchmark is data,
read whenever the benchmark catalog is (``hmtir list benchmarks``, leaderboard builds): keep its module
free of heavy imports. Entry names follow
the leaderboard's slug rule without dots (a dot starts a weights tag, ``ppfn.dim``). A name that two
distributions claim, or that one claims twice, is a :class:`Clash`: the registries refuse it in one line
naming both claimants instead of picking one silently.

This module imports no other hmtir module but :mod:`hmtir.errors`, so the registries can use it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hmtir.errors import HmtirError

GROUPS = {"methods": "hmtir.methods", "metrics": "hmtir.metrics", "benchmarks": "hmtir.benchmarks"}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_+-]{0,63}$")  # the result schema's slug, without '.'
MAX_SOURCE_FILES = 5000  # a plugin package larger than this is identified by its module file alone


@dataclass(frozen=True)
class Plugin:
    """One entry point: the entry's name, its ``module:attr`` target and the distribution declaring it."""

    group: str
    name: str
    target: str
    distribution: str
    version: str

    @property
    def label(self) -> str:
        """``hmtir-plugin-example 0.1.0``: how lists and errors name the distribution."""
        return f"{self.distribution} {self.version}"

    def describe(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "version": self.version, "entry_point": self.target}


@dataclass(frozen=True)
class Clash:
    """A name no registry may use: claimed twice, or not a valid entry name. ``message`` is the one line."""

    name: str
    message: str


def discover(group: str, kind: str, builtins: set[str]) -> tuple[list[Plugin], list[Clash]]:
    """The installed entries of ``group`` usable as ``kind`` names, and the refused ones.

    ``builtins`` are hmtir's own names of that kind: a plugin cannot take one over (results would be
    filed under a name that means something else). Names compare case-insensitively, as registries
    resolve them.
    """
    found: dict[str, list[Plugin]] = {}
    clashes: list[Clash] = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        plugin = Plugin(
            group=group,
            name=ep.name,
            target=ep.value,
            distribution=str(dist.metadata["Name"] or dist.name) if dist is not None else "unknown",
            version=str(dist.version) if dist is not None else "unknown",
        )
        if not NAME_PATTERN.match(plugin.name):
            clashes.append(
                Clash(
                    plugin.name,
                    f"plugin {plugin.label}: {kind} name {ascii(plugin.name)} (entry point group {group}) "
                    "must be lowercase letters, digits, _ + - (at most 64, no '.': a dot starts a weights tag)",
                )
            )
            continue
        found.setdefault(plugin.name.casefold(), []).append(plugin)
    plugins: list[Plugin] = []
    folded_builtins = {b.casefold(): b for b in builtins}
    for key, claims in sorted(found.items()):
        first = claims[0]
        if key in folded_builtins:
            clashes.append(
                Clash(
                    first.name,
                    f"plugin {first.label}: {kind} '{first.name}' clashes with hmtir's built-in "
                    f"{kind} '{folded_builtins[key]}'; rename the entry point in {first.distribution}",
                )
            )
        elif len(claims) > 1:
            second = claims[1]
            how = (
                f"plugin {first.label} registers {kind} '{first.name}' twice ({first.target}, {second.target})"
                if first.distribution == second.distribution
                else f"{kind} '{first.name}' is claimed by two plugins: {first.label} ({first.target}) and "
                f"{second.label} ({second.target})"
            )
            clashes.append(Clash(first.name, f"{how}; uninstall one or rename an entry point"))
        else:
            plugins.append(first)
    return plugins, clashes


def resolve(plugin: Plugin) -> Any:
    """The object an entry point names, imported now; any failure is one line naming the distribution."""
    module_name, _, attribute = plugin.target.partition(":")
    try:
        found: Any = importlib.import_module(module_name.strip())
        for part in attribute.strip().split(".") if attribute.strip() else []:
            found = getattr(found, part)
    except Exception as err:  # the plugin's own code: SyntaxError, ImportError, anything at import time
        raise HmtirError(
            f"plugin {plugin.label}: {plugin.name} = {plugin.target} does not load ({type(err).__name__}: {err})"
        ) from None
    return found


def source_sha256(module: ModuleType) -> tuple[str | None, int]:
    """sha256 of the code behind ``module``: every ``.py`` file of its top-level package, or its one file.

    Recorded with results and keyed into the result cache, so editing any file of a plugin (not only the
    module holding the factory) invalidates its cached scores. Returns (digest, number of files).
    """
    file = getattr(module, "__file__", None)
    if not file:
        return None, 0
    top = sys.modules.get(module.__name__.partition(".")[0])
    top_file = getattr(top, "__file__", None)
    files = [Path(file)]
    root = Path(file).parent
    if top is not None and top_file and Path(top_file).name == "__init__.py":
        root = Path(top_file).parent
        tree = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        if 0 < len(tree) <= MAX_SOURCE_FILES:
            files = tree
    digest = hashlib.sha256()
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest(), len(files)


def distribution_of(module_name: str) -> tuple[str, str] | None:
    """(distribution, version) of the installed distribution providing top-level package ``module_name``."""
    top = module_name.partition(".")[0]
    try:
        names = importlib.metadata.packages_distributions().get(top) or []
    except Exception:  # a broken installed metadata file must not stop an evaluation
        return None
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
