"""One rule for every YAML file hmtir reads: bounded size, no aliases, bounded nesting, one-line errors.

Aliases let a few hundred bytes expand into 10⁹ items ("billion laughs"), and tens of thousands of nested
brackets make the parser and constructor recurse until they fail. Both are refused from the event stream,
before any object is built, so the cost of a hostile file is linear in its size. Every reader of YAML in
hmtir (presets, recipes, sources, benchmarks, reported numbers, submissions) goes through here.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from hmtir.errors import HmtirError
from hmtir.io.bounded import decode_utf8, read_bounded

MAX_YAML_BYTES = 1 << 20  # the largest shipped file is a few KB; a registry of a thousand entries still fits
MAX_YAML_DEPTH = 16  # the deepest shipped file nests 5 levels
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlProblem(ValueError):
    """What is wrong with a YAML text, without the file's name (the caller's message adds it)."""


def parse_yaml(text: str, *, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """``text`` parsed with the safe loader after the alias and nesting checks; raises :class:`YamlProblem`."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise YamlProblem(f"YAML aliases (*name) are not allowed{_line(event)}")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise YamlProblem(f"nested deeper than {max_depth} levels{_line(event)}; flatten it")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C when available)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        if "nesting depth" in str(getattr(err, "problem", "")):  # libyaml's own limit, met scanning ahead
            raise YamlProblem(f"nested deeper than {max_depth} levels{where}; flatten it") from None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise YamlProblem(f"not valid YAML: {problem}{where}") from None
    except RecursionError:
        raise YamlProblem(f"nested deeper than {max_depth} levels; flatten it") from None


def read_yaml(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_YAML_DEPTH,
) -> Any:
    """The YAML document in the regular file ``path``; any problem is one :class:`HmtirError` line
    "``what`` ``path``: problem"."""
    raw = read_bounded(path, what, max_bytes)
    text = decode_utf8(raw, path, what)
    try:
        return parse_yaml(text, max_depth=max_depth)
    except YamlProblem as err:
        raise HmtirError(f"{what} {path}: {err}") from None


def _line(event: yaml.Event) -> str:
    return f" (line {event.start_mark.line + 1})" if event.start_mark is not None else ""
