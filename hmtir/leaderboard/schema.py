"""Leaderboard data: benchmark definitions, the versioned result schema, and loading/saving result files.

A result file is one row: one method on one benchmark version, self-describing as in lm-eval-harness and
MTEB: per-subset means of every leaderboard metric (missing ones are an explicit ``null``), the per-image
record file and its sha256, runtime and hardware, parameter count, trust tier and provenance. Files are
checked against ``result.schema.json`` on load, so a hand-edited or truncated entry is a one-line error
instead of a wrong table. Which metrics are columns, their direction and their display precision come
from each metric's :class:`~hmtir.metrics.MetricMeta` (``leaderboard``, ``lower_better``, ``decimals``);
the schema file's per-metric block is checked against those facts.

**Who owns a row.** A row's *key* decides its file names, ``results/<key>__<benchmark>-v<version>.json``
and ``records/<key>__<benchmark>-v<version>.csv``:

* maintainer rows (``verified``: hmtir ran the method; ``reported``: a paper's numbers) are keyed by the
  method name, e.g. ``results/wfaf__demo-v1.json``;
* a submission's row (``recomputed``) is keyed by its submission id — the name of its folder,
  ``submissions/<id>/``, unique in the repository and lowercase so no file system can merge two — in a
  namespace of its own: ``results/submissions/<id>__demo-v1.json``. ``hmtir submit score`` therefore
  cannot address a maintainer row, and one submission cannot address another's.

A method name belongs to one owner (the maintainers, or one submission), so a submission cannot pose as
a maintainer row's method either; both collisions, and re-scoring an existing row without ``replace``,
are one-line refusals made before anything is written.

The schema files are standard JSON Schema (draft 2020-12) so outside tools can use them; hmtir checks them
with :func:`check_json_schema`, a small interpreter of the keywords these two files use (the project does
not depend on the ``jsonschema`` package).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.safety import MAX_SEED
from hmtir.io.yaml_file import read_yaml

if TYPE_CHECKING:
    from hmtir.metrics import MetricMeta

RESULT_SCHEMA_ID = "hmtir.leaderboard.result/1"
TRUST_TIERS = ("recomputed", "verified", "reported")
MEASURED_TIERS = ("recomputed", "verified")  # numbers hmtir computed itself
SUBMISSION_TIER = "recomputed"  # the only tier a submission gets, and the only one it can write
RESULTS_DIR = "results"
RECORDS_DIR = "records"
SUBMISSIONS_DIR = "submissions"  # the namespace of submission rows inside results/ and records/
SUBMISSION_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------ metrics


@cache
def leaderboard_metric_metas() -> tuple[MetricMeta, ...]:
    """Every registered metric whose metadata says ``leaderboard=True``: full-reference first, then by name."""
    from hmtir.metrics import METRICS

    metas = [entry.meta for entry in METRICS if entry.meta.leaderboard]
    if METRICS.load_errors:  # a missing module would silently drop columns and reject valid results
        module, why = next(iter(METRICS.load_errors.items()))
        raise HmtirError(
            f"the leaderboard needs every metric's metadata, but {module} failed to load ({why})"
        )
    return tuple(sorted(metas, key=lambda m: (m.mode != "FR", m.name)))


def leaderboard_metrics() -> tuple[str, ...]:
    """Names of the leaderboard's metric columns, in column order."""
    return tuple(meta.name for meta in leaderboard_metric_metas())


def metric_meta(name: str) -> MetricMeta:
    """The :class:`MetricMeta` of leaderboard metric ``name`` (direction, decimals, range)."""
    for meta in leaderboard_metric_metas():
        if meta.name == name:
            return meta
    raise HmtirError(f"'{name}' is not a leaderboard metric ({', '.join(leaderboard_metrics())})")


def metrics_block(metas: Sequence[MetricMeta]) -> dict[str, Any]:
    """The JSON Schema of a subset's ``metrics`` object, derived from metric metadata.

    Every leaderboard metric is required (``null`` when not measured); a full-reference metric's exact
    score range becomes its bounds.
    """
    properties: dict[str, Any] = {}
    for meta in metas:
        spec: dict[str, Any] = {"type": ["number", "null"]}
        if meta.mode == "FR":
            low, high = meta.score_range
            if math.isfinite(low):
                spec["minimum"] = low
            if math.isfinite(high):
                spec["maximum"] = high
        properties[meta.name] = spec
    return {
        "type": "object",
        "required": [meta.name for meta in metas],
        "additionalProperties": False,
        "properties": properties,
    }


def check_metrics_block(schema: dict[str, Any], metas: Sequence[MetricMeta]) -> None:
    """Refuse a result schema whose per-metric block disagrees with the metric registry's facts."""
    block = schema["properties"]["subsets"]["additionalProperties"]["properties"]["metrics"]
    block = {k: v for k, v in block.items() if k not in ("title", "description")}
    expected = metrics_block(metas)
    if block != expected:
        raise HmtirError(
            "hmtir/leaderboard/result.schema.json disagrees with the metric registry: its subset 'metrics' "
            f"block must be {json.dumps(expected, separators=(',', ': '))}"
        )


# --------------------------------------------------------------------------------------- benchmarks

BENCHMARKS_FILE = _HERE / "benchmarks.yaml"
BENCHMARKS_ENV = "HMTIR_BENCHMARKS"  # extra registry files, os.pathsep-separated (like $HMTIR_SOURCES)
LOCAL_BENCHMARKS_FILE = (
    "benchmarks.yaml"  # a user's registry next to their results (leaderboard build --results)
)
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_+.-]{0,63}$"  # the result schema's slug: benchmark and method names
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_BENCHMARK_FIELDS = {
    "version": "a whole number (bump it whenever the images change)",
    "title": "one line shown above its table",
    "description": "what the images are",
    "subsets": "its subsets, e.g. [composited/normal, single/noise, real/iray]",
    "primary_metric": "subset -> the leaderboard metric that ranks it",
    "scenes": "procedural benchmarks: {per_category, height, width, seed}",
    "synthesis_seed": "procedural benchmarks: the synthesize seed",
    "manifest_sha256": "sha256 of the data's meta/manifest.jsonl: pins the images",
}
_REQUIRED_FIELDS = ("version", "title", "description", "subsets", "primary_metric")
_SCENE_FIELDS = ("per_category", "height", "width", "seed")


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
    manifest_sha256: str | None = None  # pinned identity of the degraded images, when the benchmark has one
    source: str = "hmtir"  # where it is defined: "hmtir" (shipped), a registry file, or "data manifest"

    @property
    def key(self) -> str:
        """``demo-v1``: the benchmark part of result file names and of the site's benchmark selector."""
        return f"{self.name}-v{self.version}"

    def definition(self) -> tuple[Any, ...]:
        """What makes two definitions the same benchmark (everything but where it was read from)."""
        return (self.name, self.version, self.subsets, self.primary_metric, self.scenes,
                self.synthesis_seed, self.manifest_sha256, self.title, self.description)  # fmt: skip


def _registry_error(path: Path | str, key: str, problem: str) -> HmtirError:
    return HmtirError(f"benchmark registry {path}: {key}: {problem}")


def _parse_benchmark(name: Any, raw: Any, path: Path) -> Benchmark:
    """One entry of a registry file, every field checked; errors name the file and the key."""
    from hmtir.registry import unknown_name
    from hmtir.vocabulary import REAL_PREFIX, SUBSETS

    where = f"benchmarks.{name}"
    if not isinstance(name, str) or not _pattern(SLUG_PATTERN).search(name):
        raise _registry_error(path, where, "a benchmark name is lowercase letters, digits, _ + . - (<= 64)")
    if not isinstance(raw, dict):
        raise _registry_error(path, where, "must be a mapping of " + ", ".join(_BENCHMARK_FIELDS))
    for key in raw:
        if key not in _BENCHMARK_FIELDS:
            err = unknown_name("field", str(key), _BENCHMARK_FIELDS)
            raise _registry_error(path, f"{where}.{key}", str(err))
    for key in _REQUIRED_FIELDS:
        if key not in raw:
            raise _registry_error(path, f"{where}.{key}", f"missing ({_BENCHMARK_FIELDS[key]})")
    version = raw["version"]
    if isinstance(version, bool) or not re.fullmatch(r"[0-9]+", str(version)):
        raise _registry_error(path, f"{where}.version", f"must be a whole number, got {_describe(version)}")
    for key in ("title", "description"):
        if not isinstance(raw[key], str) or not raw[key].strip() or len(raw[key]) > 2000:
            raise _registry_error(path, f"{where}.{key}", "must be non-empty text (at most 2000 characters)")
    subsets = raw["subsets"]
    if not isinstance(subsets, list) or not subsets:
        raise _registry_error(path, f"{where}.subsets", "must be a non-empty list of subset names")
    for subset in subsets:
        real = isinstance(subset, str) and subset.startswith(REAL_PREFIX)
        if not isinstance(subset, str) or (
            subset not in SUBSETS and not (real and re.fullmatch(r"real/[a-z]+", subset))
        ):
            err = unknown_name("subset", str(subset), [*SUBSETS, "real/<lowercase letters>"])
            raise _registry_error(path, f"{where}.subsets", str(err))
    if len(set(subsets)) != len(subsets):
        raise _registry_error(path, f"{where}.subsets", "lists a subset twice")
    primary = raw["primary_metric"]
    if not isinstance(primary, dict) or set(primary) != set(subsets):
        raise _registry_error(
            path, f"{where}.primary_metric", "must name one metric for each subset, no more"
        )
    for subset, metric in primary.items():
        if metric not in leaderboard_metrics():
            err = unknown_name("leaderboard metric", str(metric), leaderboard_metrics())
            raise _registry_error(path, f"{where}.primary_metric.{subset}", str(err))
        if subset.startswith(REAL_PREFIX) and metric_meta(metric).mode == "FR":
            raise _registry_error(
                path,
                f"{where}.primary_metric.{subset}",
                f"{metric} needs clean targets; real frames have none",
            )
    scenes = raw.get("scenes")
    if scenes is not None:
        if not isinstance(scenes, dict) or set(scenes) != set(_SCENE_FIELDS):
            raise _registry_error(path, f"{where}.scenes", f"must be {{{', '.join(_SCENE_FIELDS)}}}")
        for key, value in scenes.items():
            low = 0 if key == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_SEED:
                raise _registry_error(path, f"{where}.scenes.{key}", f"must be a whole number >= {low}")
    seed = raw.get("synthesis_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise _registry_error(path, f"{where}.synthesis_seed", "must be a whole number from 0 to 2**63-1")
    manifest = raw.get("manifest_sha256")
    if manifest is not None and (not isinstance(manifest, str) or not _SHA256_PATTERN.match(manifest)):
        raise _registry_error(path, f"{where}.manifest_sha256", "must be 64 lowercase hex digits")
    return Benchmark(
        name=name,
        version=str(version),
        title=raw["title"].strip(),
        description=" ".join(raw["description"].split()),
        subsets=tuple(subsets),
        primary_metric=dict(primary),
        scenes=dict(scenes) if scenes is not None else None,
        synthesis_seed=seed,
        manifest_sha256=manifest,
        source="hmtir" if path == BENCHMARKS_FILE else str(path),
    )


def parse_benchmark_file(path: str | os.PathLike[str]) -> dict[str, Benchmark]:
    """Every benchmark of one registry file (the shipped ``benchmarks.yaml`` or a user's), validated."""
    path = Path(path)
    raw = read_yaml(path, "benchmark registry")
    if not isinstance(raw, dict) or not isinstance(raw.get("benchmarks"), dict):
        raise _registry_error(path, "(top level)", "must be a mapping with a 'benchmarks' mapping")
    extra = set(raw) - {"version", "benchmarks"}
    if extra:
        raise _registry_error(
            path, sorted(map(str, extra))[0], "unknown top-level key (use version, benchmarks)"
        )
    if raw.get("version", 1) != 1:
        raise _registry_error(path, "version", "only registry format 1 is known")
    return {
        bench.name: bench for bench in (_parse_benchmark(n, v, path) for n, v in raw["benchmarks"].items())
    }


def benchmark_files() -> list[Path]:
    """The shipped registry followed by the user's ``$HMTIR_BENCHMARKS`` files."""
    extra = [Path(p).expanduser() for p in os.environ.get(BENCHMARKS_ENV, "").split(os.pathsep) if p]
    return [BENCHMARKS_FILE, *extra]


def merge_benchmarks(registries: Sequence[dict[str, Benchmark]]) -> dict[str, Benchmark]:
    """One catalog from several registries: a name (and a pinned manifest) means one benchmark.

    A user file may repeat a definition word for word, but never redefine a benchmark another file (or
    hmtir) defines, nor pin the same images under a second name: results would be filed ambiguously.
    """
    out: dict[str, Benchmark] = {}
    pinned: dict[str, Benchmark] = {}
    for registry in registries:
        for name, bench in registry.items():
            first = out.setdefault(name, bench)
            if first.definition() != bench.definition():
                raise _registry_error(
                    bench.source, f"benchmarks.{name}",
                    f"already defined differently by {first.source}; give yours another name",
                )  # fmt: skip
            if bench.manifest_sha256 is not None:
                other = pinned.setdefault(bench.manifest_sha256, bench)
                if other.name != name:
                    raise _registry_error(
                        bench.source, f"benchmarks.{name}.manifest_sha256",
                        f"the same images are already benchmark {other.name} ({other.source})",
                    )  # fmt: skip
    return out


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)  # read (and refused) by parse_benchmark_file
    return (str(path), stat.st_mtime_ns, stat.st_size)


@cache
def _catalog(keys: tuple[tuple[str, int, int], ...]) -> dict[str, Benchmark]:
    return merge_benchmarks([parse_benchmark_file(Path(key[0])) for key in keys])


_SCOPE: ContextVar[dict[str, Benchmark] | None] = ContextVar("hmtir_benchmark_scope", default=None)


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark known here: shipped, ``$HMTIR_BENCHMARKS``, and those of an enclosing
    :func:`benchmark_scope` (a results build's local files and data-manifest benchmarks)."""
    scoped = _SCOPE.get()
    if scoped is not None:
        return scoped
    return _catalog(tuple(_file_key(p) for p in benchmark_files()))


@contextmanager
def benchmark_scope(extra: Sequence[Benchmark]) -> Iterator[dict[str, Benchmark]]:
    """Within the block, :func:`benchmarks` also knows ``extra`` (checked like registry entries)."""
    catalog = merge_benchmarks([benchmarks(), {b.name: b for b in extra}])
    token = _SCOPE.set(catalog)
    try:
        yield catalog
    finally:
        _SCOPE.reset(token)


def get_benchmark(name: str) -> Benchmark:
    from hmtir.registry import unknown_name

    known = benchmarks()
    if name in known:
        return known[name]
    raise unknown_name(
        "benchmark", str(name), known, f"; register one in a YAML file listed in ${BENCHMARKS_ENV}"
    )


def benchmark_for_manifest(manifest_sha256: str | None) -> Benchmark | None:
    """The registered benchmark that pins these images, if any."""
    if manifest_sha256 is None:
        return None
    return next((b for b in benchmarks().values() if b.manifest_sha256 == manifest_sha256), None)


def check_benchmark_data(bench: Benchmark, data: str | os.PathLike[str]) -> str | None:
    """``data``'s manifest sha256, refused unless ``data`` is ``bench``'s data (when ``bench`` pins it).

    A benchmark version is its images: scoring against other data would file numbers under a name they do
    not belong to. Benchmarks without a pinned hash (the official release ships no manifest) are checked
    against the rows already on the leaderboard instead (:func:`check_board_data`).
    """
    from hmtir.data.layout import manifest_hash

    root = Path(data)
    if not root.is_dir():
        raise HmtirError(f"--data {root} is not a folder")
    found = manifest_hash(root)
    if bench.manifest_sha256 is not None and found != bench.manifest_sha256:
        what = "has no meta/manifest.jsonl" if found is None else f"has manifest sha256 {found[:12]}"
        rebuild = " (rebuild it: hmtir leaderboard seed --work DIR)" if bench.scenes is not None else ""
        raise HmtirError(
            f"--data {root} is not benchmark {bench.name} v{bench.version}: it {what}, the benchmark pins "
            f"{bench.manifest_sha256[:12]}{rebuild}"
        )
    return found


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


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
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
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
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


@cache
def result_schema() -> dict[str, Any]:
    """``result.schema.json``, checked once against the metric registry (see :func:`check_metrics_block`)."""
    schema = load_schema("result")
    check_metrics_block(schema, leaderboard_metric_metas())
    return schema


def empty_metrics() -> dict[str, float | None]:
    return dict.fromkeys(leaderboard_metrics())


def row_key(entry: dict[str, Any]) -> str:
    """The row's owner-namespaced key: the method name, or ``submissions/<id>`` for a submission's row."""
    if entry["trust"] == SUBMISSION_TIER:
        submission = entry["provenance"].get("submission")
        if not isinstance(submission, str):
            raise HmtirError(
                f"a {SUBMISSION_TIER} row of {entry['method']['name']} needs provenance.submission (the id of "
                "the submission that owns it); re-score it with hmtir submit score"
            )
        return f"{SUBMISSIONS_DIR}/{submission}"
    return entry["method"]["name"]


def row_owner(entry: dict[str, Any]) -> str:
    """Who may write a row and use its method name: ``maintainers`` or ``submission <id>``."""
    if entry["trust"] == SUBMISSION_TIER:
        return f"submission {row_key(entry).removeprefix(SUBMISSIONS_DIR + '/')}"
    return "maintainers"


def result_relpath(entry: dict[str, Any]) -> str:
    """``results/<key>__<benchmark>-v<version>.json``, relative to the leaderboard folder."""
    return f"{RESULTS_DIR}/{row_key(entry)}__{get_benchmark(entry['benchmark']['name']).key}.json"


def records_relpath(entry: dict[str, Any]) -> str:
    """``records/<key>__<benchmark>-v<version>.csv``: where the row's per-image records must live."""
    return f"{RECORDS_DIR}/{row_key(entry)}__{get_benchmark(entry['benchmark']['name']).key}.csv"


def validate_result(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """Schema plus the cross-field rules JSON Schema cannot say; ``source`` names the file in errors."""
    try:
        check_json_schema(entry, result_schema())
    except ValueError as err:
        raise HmtirError(f"invalid leaderboard result {source}: {err}") from None
    submission = entry["provenance"].get("submission")
    if (entry["trust"] == SUBMISSION_TIER) != (submission is not None):
        need = "needs" if submission is None else "must not have"
        raise HmtirError(
            f"invalid leaderboard result {source}: a {entry['trust']} row {need} provenance.submission "
            "(the id of the submission that owns it); re-score it with hmtir submit score"
        )
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
    if entry["records"] is not None and entry["records"]["file"] != records_relpath(entry):
        raise HmtirError(
            f"invalid leaderboard result {source}: its records file must be {records_relpath(entry)}, "
            f"not {entry['records']['file']}"
        )
    pinned, found = bench.manifest_sha256, entry["benchmark"]["manifest_sha256"]
    if entry["trust"] in MEASURED_TIERS and pinned is not None and found != pinned:
        raise HmtirError(
            f"invalid leaderboard result {source}: scored on data {str(found)[:12]}, but benchmark "
            f"{bench.key} is the data {pinned[:12]}; re-score it on the benchmark's data"
        )
    return entry


def load_result(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HmtirError(f"cannot read leaderboard result {path}: {err}") from None
    return validate_result(entry, str(path))


def result_files(root: str | os.PathLike[str]) -> list[Path]:
    """Every result file of the leaderboard at ``root``: maintainer rows, then submission rows."""
    folder = Path(root) / RESULTS_DIR
    return sorted(folder.glob("*.json")) + sorted((folder / SUBMISSIONS_DIR).glob("*.json"))


def load_results(root: Path, *, check_records: bool = True) -> list[dict[str, Any]]:
    """Every result under ``root/results`` (sorted by file name), each validated; records hashes checked.

    A file must sit where its own content says (:func:`result_relpath`), and a method name must belong to
    one owner, so a copied or renamed file cannot pass for somebody else's row.
    """
    from hmtir.weights import sha256_file

    root = Path(root)
    folder = root / RESULTS_DIR
    if not folder.is_dir():
        raise HmtirError(
            f"no leaderboard results in {folder} (run `hmtir leaderboard seed` or score a submission)"
        )
    entries = []
    owners: dict[str, tuple[str, Path]] = {}
    for path in result_files(root):
        entry = load_result(path)
        expected = result_relpath(entry)
        if path.relative_to(root).as_posix() != expected:
            raise HmtirError(f"leaderboard result {path} should be {root / expected} (row key × benchmark)")
        owner, method = row_owner(entry), entry["method"]["name"]
        first = owners.setdefault(method, (owner, path))
        if first[0] != owner:
            raise HmtirError(
                f"leaderboard result {path}: method {method} already belongs to {first[0]} ({first[1].name})"
            )
        records = entry["records"]
        if check_records and records is not None:
            record_path = root / records["file"]
            if not record_path.is_file():
                raise HmtirError(f"{path}: its per-image records file {record_path} is missing")
            if sha256_file(record_path) != records["sha256"]:
                raise HmtirError(f"{path}: records file {record_path} does not match its recorded sha256")
        entries.append(entry)
    return entries


def dump_result(entry: dict[str, Any]) -> str:
    """Canonical text of a result (sorted keys, 2-space indent, no NaN), so re-scoring gives equal bytes."""
    return json.dumps(entry, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def check_board_data(root: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Refuse a measured row whose data differs from the measured rows already on ``root`` for its benchmark
    (ranking would refuse them together later, after the file had been written)."""
    if entry["trust"] not in MEASURED_TIERS or not (Path(root) / RESULTS_DIR).is_dir():
        return
    mine = result_relpath(entry)
    for other in load_results(Path(root), check_records=False):
        if (
            other["trust"] in MEASURED_TIERS
            and other["benchmark"]["name"] == entry["benchmark"]["name"]
            and result_relpath(other) != mine
            and other["benchmark"]["manifest_sha256"] != entry["benchmark"]["manifest_sha256"]
        ):
            theirs, ours = other["benchmark"]["manifest_sha256"], entry["benchmark"]["manifest_sha256"]
            raise HmtirError(
                f"the data has manifest {str(ours)[:12]}, but {result_relpath(other)} was scored on "
                f"{str(theirs)[:12]}: score on the same {other['benchmark']['name']} data as the leaderboard"
            )


def check_writable(root: str | os.PathLike[str], entry: dict[str, Any], *, replace: bool = False) -> Path:
    """Where ``entry`` would be written, refused if its method name belongs to another owner or its row
    exists and ``replace`` was not given. Cheap enough to call before the work that produces the entry."""
    root = Path(root)
    target = root / result_relpath(entry)
    if (root / RESULTS_DIR).is_dir():
        for other in load_results(root, check_records=False):
            if other["method"]["name"] == entry["method"]["name"] and row_owner(other) != row_owner(entry):
                raise HmtirError(
                    f"method {entry['method']['name']} already belongs to {row_owner(other)} "
                    f"({result_relpath(other)}); choose another method name"
                )
    if (target.exists() or target.is_symlink()) and not replace:
        raise HmtirError(
            f"leaderboard row {target} already exists (owner: {row_owner(entry)}); pass --replace to re-score it"
        )
    return target


def write_entry(root: Path, entry: dict[str, Any], records_csv: str | None, *, replace: bool = False) -> Path:
    """Write a result (and its records) into the leaderboard tree, atomically per file.

    Everything is validated and :func:`check_writable` passed before the first byte is written. If the
    result file cannot be written the records file is put back as it was, so a failure leaves ``root`` as
    it found it.
    """
    root = Path(root)
    validate_result(entry, str(root / result_relpath(entry)))
    target = check_writable(root, entry, replace=replace)
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
