"""One rule for every JSON file hmtir reads from a user's folder: bounded size, nesting and numbers, one line.

Python's ``json`` module accepts what a hostile file can use to crash or mislead its reader: nesting tens
of thousands deep (a ``RecursionError`` deep inside the parser), an integer of 10⁴⁰⁰ (``ValueError`` past
the 4300-digit int-string limit, or an overflow wherever the value is used), ``1e400`` silently becoming
``inf``, the non-standard ``NaN``/``Infinity`` literals, and an object naming one key twice (the last
wins, unseen). Here each is refused, nesting before anything is built, so the cost of a hostile file is
linear in its size, and every problem is one :class:`HmtirError` line naming the file. It is the one
rule for JSON read from a user's folder: evaluation summaries, result caches and the manifest lines
joined to results read through here (:mod:`hmtir.evaluation`), and so should every other reader.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.bounded import decode_utf8, read_bounded

MAX_JSON_BYTES = 64 << 20  # a summary of thousands of scenes is a few MB; a frame log of 10⁵ frames ~50 MB
MAX_JSON_DEPTH = 32  # hmtir writes at most 6 levels (summary → subsets → scenes → metrics → stats)
MAX_JSON_INT = 2**63 - 1  # what a signed 64-bit field (Parquet, numpy, a seed) holds
_INT_DIGITS = len(str(MAX_JSON_INT))
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)  # strings are skipped whole


class JsonProblem(ValueError):
    """What is wrong with a JSON text, without the file's name (the caller's message adds it)."""


def _integer(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _INT_DIGITS or abs(int(text)) > MAX_JSON_INT:
        shown = text if len(text) <= 24 else f"{text[:12]}… ({len(digits)} digits)"
        raise JsonProblem(f"integer {shown} is outside ±(2**63-1)")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonProblem(f"number {text[:24]} is too large for a float")
    return value


def _constant(text: str) -> float:
    raise JsonProblem(f"{text} is not a JSON number (write null for a missing value)")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonProblem(f"key {ascii(key)} appears twice in one object")
        result[key] = value
    return result


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, match.start()) + 1
                raise JsonProblem(f"nested deeper than {max_depth} levels (line {line}); flatten it")
        elif token == "]" or token == "}":
            depth -= 1


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH, non_finite: bool = False) -> Any:
    """``text`` parsed after the nesting check, numbers bounded, keys unique; raises :class:`JsonProblem`.

    ``non_finite``: accept the ``NaN``/``Infinity`` literals, for hmtir's own logs of scores only (Python
    writes them for the PSNR of identical frames); a number too large for a float is refused even so."""
    _check_depth(text, max_depth)
    try:
        return json.loads(
            text,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=float if non_finite else _constant,
            object_pairs_hook=_object,
        )
    except JsonProblem:
        raise
    except json.JSONDecodeError as err:
        raise JsonProblem(f"not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except RecursionError:  # unreachable after the depth check; kept so no traceback can escape
        raise JsonProblem(f"nested deeper than {max_depth} levels; flatten it") from None
    except ValueError as err:  # e.g. a number the hooks did not see
        raise JsonProblem(f"not valid JSON: {str(err).splitlines()[0]}") from None


def read_json_bytes(path: str | os.PathLike[str], what: str, *, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes``; else one :class:`HmtirError` line.

    For callers that also hash what they parse (so the digest and the data are the same read)."""
    return read_bounded(path, what, max_bytes)


def decode_json(
    raw: bytes, path: str | os.PathLike[str], what: str, *, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """``raw`` (read from ``path``) as JSON; any problem is one :class:`HmtirError` line naming the file."""
    text = decode_utf8(raw, path, what)
    try:
        return parse_json(text, max_depth=max_depth)
    except JsonProblem as err:
        raise HmtirError(f"{what} {path}: {err}") from None


def read_json(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """The JSON document in the regular file ``path``; any problem is one :class:`HmtirError` line
    "``what`` ``path``: problem"."""
    return decode_json(read_json_bytes(path, what, max_bytes=max_bytes), path, what, max_depth=max_depth)


def read_json_lines(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    skip_bad: bool = False,
    non_finite: bool = False,
) -> list[Any]:
    """One JSON value per non-empty line of ``path``. ``skip_bad``: a line that is not valid JSON (a torn
    append, a foreign line) is left out instead of refused; the file's size is still checked.
    ``non_finite``: as for :func:`parse_json`."""
    raw = read_json_bytes(path, what, max_bytes=max_bytes)
    text = raw.decode("utf-8", errors="replace") if skip_bad else decode_utf8(raw, path, what)
    values = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values.append(parse_json(line, max_depth=max_depth, non_finite=non_finite))
        except JsonProblem as err:
            if not skip_bad:
                raise HmtirError(f"{what} {path}, line {number}: {err}") from None
    return values
