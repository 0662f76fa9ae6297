"""Leaderboard data: benchmark definitions, the versioned result schema, and loading/saving result files.

A result file (``leaderboard/results/<method>__<benchmark>-v<version>.json``) is one method on one
benchmark version, self-describing as in lm-eval-harness and MTEB: per-subset means of every leaderboard
metric (missing ones are an explicit ``null``), the per-image record file and its sha256, runtime and
hardware, parameter count, trust tier and provenance. Files are checked against ``result.schema.json`` on
load, so a hand-edited or truncated entry is a one-line error instead of a wrong table.

The schema files are standard JSON Schema (draft 2020-12) so outside tools can use them; hmtir checks them
with :func:`check_json_schema`, a small interpreter of the keywords these two files use (the project does
not depend on the ``jsonschema`` package).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text

RESULT_SCHEMA_ID = "hmtir.leaderboard.result/1"
LEADERBOARD_METRICS = ("psnr", "ssim", "niqe", "nima", "musiq")
LOWER_BETTER = {"psnr": False, "ssim": False, "niqe": True, "nima": False, "musiq": False}
TRUST_TIERS = ("recomputed", "verified", "reported")
MEASURED_TIERS = ("recomputed", "verified")  # numbers hmtir computed itself
RESULTS_DIR = "results"
RECORDS_DIR = "records"
_HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------- benchmarks


@dataclass(frozen=True)
class Benchmark:
    """A benchmark version: which subsets it has and which metric ranks each subset."""

    name: str
    version: str
    title: str
    description: str
    subsets: tuple[str, ...]
    primary_metric: dict[str, str]
    scenes: dict[str, int] | None = None
    synthesis_seed: int = 0

    @property
    def key(self) -> str:
        """``demo-v1``: the benchmark part of result file names and of the site's benchmark selector."""
        return f"{self.name}-v{self.version}"


@cache
def benchmarks() -> dict[str, Benchmark]:
    raw = yaml.safe_load((_HERE / "benchmarks.yaml").read_text(encoding="utf-8"))
    out = {}
    for name, spec in raw["benchmarks"].items():
        out[name] = Benchmark(
            name=name,
            version=str(spec["version"]),
            title=spec["title"],
            description=spec["description"],
            subsets=tuple(spec["subsets"]),
            primary_metric=dict(spec["primary_metric"]),
            scenes=spec.get("scenes"),
            synthesis_seed=int(spec.get("synthesis_seed", 0)),
        )
    return out


def get_benchmark(name: str) -> Benchmark:
    try:
        return benchmarks()[name]
    except KeyError:
        raise HmtirError(f"unknown benchmark '{name}' (known: {', '.join(benchmarks())})") from None


# ------------------------------------------------------------------------------ JSON Schema (subset)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """``result`` or ``submission``: the packaged JSON Schema document."""
    return json.loads((_HERE / f"{name}.schema.json").read_text(encoding="utf-8"))


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


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
            raise ValueError(f"{_where(path)}: expected {' or '.join(types)}, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{_where(path)}: NaN/Infinity is not a JSON number")
    if "const" in schema and value != schema["const"]:
        raise ValueError(f"{_where(path)}: must be {schema['const']!r}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join("null" if v is None else str(v) for v in schema["enum"])
        raise ValueError(f"{_where(path)}: must be one of {allowed}, got {_describe(value)}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ValueError(f"{_where(path)}: must not be empty")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ValueError(f"{_where(path)}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------ result entries


def empty_metrics() -> dict[str, float | None]:
    return dict.fromkeys(LEADERBOARD_METRICS)


def result_filename(method: str, benchmark: Benchmark) -> str:
    return f"{method}__{benchmark.key}.json"


def validate_result(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """Schema plus the cross-field rules JSON Schema cannot say; ``source`` names the file in errors."""
    try:
        check_json_schema(entry, load_schema("result"))
    except ValueError as err:
        raise HmtirError(f"invalid leaderboard result {source}: {err}") from None
    bench = get_benchmark(entry["benchmark"]["name"])
    if entry["benchmark"]["version"] != bench.version:
        raise HmtirError(
            f"invalid leaderboard result {source}: benchmark {bench.name} version {entry['benchmark']['version']} "
            f"is not the current version {bench.version}; re-score it"
        )
    unknown = sorted(set(entry["subsets"]) - set(bench.subsets))
    if unknown:
        raise HmtirError(
            f"invalid leaderboard result {source}: subset(s) {', '.join(unknown)} are not part of benchmark "
            f"{bench.name} ({', '.join(bench.subsets)})"
        )
    if entry["trust"] in MEASURED_TIERS and entry["records"] is None:
        raise HmtirError(
            f"invalid leaderboard result {source}: a {entry['trust']} row needs its per-image records file"
        )
    return entry


def load_result(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HmtirError(f"cannot read leaderboard result {path}: {err}") from None
    return validate_result(entry, str(path))


def load_results(root: Path, *, check_records: bool = True) -> list[dict[str, Any]]:
    """Every result under ``root/results`` (sorted by file name), each validated; records hashes checked."""
    from hmtir.weights import sha256_file

    folder = Path(root) / RESULTS_DIR
    if not folder.is_dir():
        raise HmtirError(
            f"no leaderboard results in {folder} (run `hmtir leaderboard seed` or score a submission)"
        )
    entries = []
    for path in sorted(folder.glob("*.json")):
        entry = load_result(path)
        expected = result_filename(entry["method"]["name"], get_benchmark(entry["benchmark"]["name"]))
        if path.name != expected:
            raise HmtirError(
                f"leaderboard result {path} should be named {expected} (method × benchmark version)"
            )
        records = entry["records"]
        if check_records and records is not None:
            record_path = Path(root) / records["file"]
            if not record_path.is_file():
                raise HmtirError(f"{path}: its per-image records file {record_path} is missing")
            if sha256_file(record_path) != records["sha256"]:
                raise HmtirError(f"{path}: records file {record_path} does not match its recorded sha256")
        entries.append(entry)
    return entries


def dump_result(entry: dict[str, Any]) -> str:
    """Canonical text of a result (sorted keys, 2-space indent, no NaN), so re-scoring gives equal bytes."""
    return json.dumps(entry, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def write_entry(root: Path, entry: dict[str, Any], records_csv: str | None) -> Path:
    """Write a result (and its records) into the leaderboard tree, atomically per file.

    Everything is validated before the first byte is written; if the result file cannot be written the
    records file is put back as it was, so a failure leaves ``root`` as it found it.
    """
    root = Path(root)
    bench = get_benchmark(entry["benchmark"]["name"])
    target = root / RESULTS_DIR / result_filename(entry["method"]["name"], bench)
    validate_result(entry, str(target))
    text = dump_result(entry)
    record_path = root / entry["records"]["file"] if entry["records"] is not None else None
    previous = record_path.read_bytes() if record_path is not None and record_path.is_file() else None
    if record_path is not None and records_csv is not None:
        atomic_write_text(record_path, records_csv)
    try:
        atomic_write_text(target, text)
    except BaseException:
        if record_path is not None and records_csv is not None:
            if previous is None:
                record_path.unlink(missing_ok=True)
            else:
                record_path.write_bytes(previous)
        raise
    return target
