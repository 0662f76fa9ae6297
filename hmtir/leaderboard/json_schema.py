"""A small interpreter of the JSON Schema (draft 2020-12) keywords hmtir's schema files use.

The schema files are standard JSON Schema so outside tools can use them; hmtir checks them with
:func:`check_json_schema` (the project does not depend on the ``jsonschema`` package).
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from hmtir.io.json_file import MAX_JSON_INT, read_json

_HERE = Path(__file__).resolve().parent


@cache
def load_schema(name: str) -> dict[str, Any]:
    """``result`` or ``submission``: the packaged JSON Schema document."""
    return read_json(_HERE / f"{name}.schema.json", "leaderboard schema")


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and _finite(v),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _finite(value: float) -> bool:
    """Any int (``math.isfinite`` overflows past 10**308: an integer of 10**400 must be refused in one line,
    by the bound below, not raise), or a finite float."""
    return isinstance(value, int) or math.isfinite(value)


@cache
def schema_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema (ECMA-262) pattern: its ``$`` is the end of the text, never before a final newline as
    in Python, so ``"wfaf\\n"`` does not pass for a slug."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def _where(path: str) -> str:
    return path or "(top level)"


def check_json_schema(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = ""
) -> None:
    """Raise ``ValueError('<json path>: <problem>')`` at the first violation of ``schema``.

    Supports the draft 2020-12 keywords used by hmtir's schema files: type, enum, const, properties,
    required, additionalProperties, propertyNames, min/maxProperties, items, min/maxItems, minimum,
    maximum, min/maxLength, pattern, oneOf and local ``$ref``. Non-finite numbers are never valid (JSON
    has none). An unknown keyword is a programming error, so a schema edit cannot silently weaken checks.
    """
    root = root if root is not None else schema
    known = {
        "$schema", "$id", "$defs", "title", "description", "type", "enum", "const", "properties", "required",
        "additionalProperties", "propertyNames", "minProperties", "maxProperties", "items", "minItems",
        "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "oneOf", "$ref",
    }  # fmt: skip
    unknown = set(schema) - known
    if unknown:
        raise AssertionError(f"schema keyword(s) {sorted(unknown)} not supported by check_json_schema")
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        check_json_schema(value, target, root, path)
    if "oneOf" in schema:
        matches = 0
        for option in schema["oneOf"]:
            try:
                check_json_schema(value, option, root, path)
                matches += 1
            except ValueError:
                pass
        if matches != 1:
            raise ValueError(f"{_where(path)}: does not match exactly one allowed form")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            raise ValueError(f"{_where(path)}: expected {' or '.join(types)}, got {describe_value(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{_where(path)}: NaN/Infinity is not a JSON number")
    if isinstance(value, int) and abs(value) > MAX_JSON_INT:  # the JSON rule's bound (hmtir.io.json_file)
        raise ValueError(f"{_where(path)}: an integer of {value.bit_length()} bits is outside ±(2**63-1)")
    if "const" in schema and value != schema["const"]:
        raise ValueError(f"{_where(path)}: must be {schema['const']!r}, got {describe_value(value)}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join("null" if v is None else str(v) for v in schema["enum"])
        raise ValueError(f"{_where(path)}: must be one of {allowed}, got {describe_value(value)}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ValueError(f"{_where(path)}: must not be empty")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ValueError(f"{_where(path)}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not schema_pattern(schema["pattern"]).search(value):
            raise ValueError(f"{_where(path)}: {value!r} does not match {schema['pattern']}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            raise ValueError(f"{_where(path)}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValueError(f"{_where(path)}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise ValueError(f"{_where(path)}: needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ValueError(f"{_where(path)}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                check_json_schema(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(value, dict):
        _check_object(value, schema, root, path)


def _check_object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str) -> None:
    if len(value) < schema.get("minProperties", 0):
        raise ValueError(f"{_where(path)}: needs at least {schema['minProperties']} entr(ies)")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise ValueError(f"{_where(path)}: more than {schema['maxProperties']} entries")
    for key in schema.get("required", []):
        if key not in value:
            raise ValueError(f"{_where(path)}: missing required field '{key}'")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        child = f"{path}.{key}" if path else str(key)
        if "propertyNames" in schema:
            check_json_schema(key, schema["propertyNames"], root, f"{child} (name)")
        if key in properties:
            check_json_schema(item, properties[key], root, child)
        elif extra is False:
            raise ValueError(f"{_where(path)}: unknown field '{key}'")
        elif isinstance(extra, dict):
            check_json_schema(item, extra, root, child)


def describe_value(value: Any) -> str:
    """A value as an error message shows it: its type for containers, else a short repr."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
