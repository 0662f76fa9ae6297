"""The benchmark registry: which benchmark versions exist, their subsets and ranking metrics.

Benchmarks are defined in the shipped ``benchmarks.yaml``, in files listed in ``$HMTIR_BENCHMARKS``, by
installed plugins (entry point group ``hmtir.benchmarks``, :func:`plugin_benchmarks`), and (for a results build) in a user's ``benchmarks.yaml`` or data-manifest benchmarks of an enclosing
:func:`benchmark_scope`. Every file is validated with one-line errors naming file and key; a name (and a
pinned manifest) means one benchmark across all of them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.safety import MAX_SEED
from hmtir.io.yaml_file import read_yaml
from hmtir.leaderboard.columns import leaderboard_metrics, metric_meta
from hmtir.leaderboard.json_schema import describe_value, schema_pattern

_HERE = Path(__file__).resolve().parent
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
    if not isinstance(name, str) or not schema_pattern(SLUG_PATTERN).search(name):
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
        raise _registry_error(
            path, f"{where}.version", f"must be a whole number, got {describe_value(version)}"
        )
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
def _catalog(keys: tuple[tuple[str, int, int], ...], path: tuple[str, ...]) -> dict[str, Benchmark]:
    files = [parse_benchmark_file(Path(key[0])) for key in keys]
    return merge_benchmarks([*files, plugin_benchmarks(set(files[0]) if files else set())])


def plugin_benchmarks(builtins: set[str]) -> dict[str, Benchmark]:
    """Benchmarks of installed plugins: each entry point of ``hmtir.benchmarks`` names a mapping in the
    ``benchmarks.yaml`` entry format (or a function returning one), checked like a registry file entry.

    A name that hmtir ships or that two plugins claim is refused in one line (:mod:`hmtir.plugins`)."""
    from hmtir.plugins import GROUPS, discover, resolve

    found, clashes = discover(GROUPS["benchmarks"], "benchmark", builtins)
    if clashes:
        raise HmtirError(clashes[0].message)
    out = {}
    for plugin in found:
        raw = resolve(plugin)
        if callable(raw):
            try:
                raw = raw()
            except Exception as err:
                raise HmtirError(
                    f"plugin {plugin.label}: benchmark {plugin.name} ({plugin.target}) raised "
                    f"{type(err).__name__}: {err}"
                ) from None
        out[plugin.name] = _parse_benchmark(plugin.name, raw, Path(f"plugin {plugin.label}"))
    return out


_SCOPE: ContextVar[dict[str, Benchmark] | None] = ContextVar("hmtir_benchmark_scope", default=None)


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark known here: shipped, ``$HMTIR_BENCHMARKS``, and those of an enclosing
    :func:`benchmark_scope` (a results build's local files and data-manifest benchmarks)."""
    scoped = _SCOPE.get()
    if scoped is not None:
        return scoped
    return _catalog(tuple(_file_key(p) for p in benchmark_files()), tuple(sys.path))


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
    against the rows already on the leaderboard instead (:func:`hmtir.leaderboard.store.check_board_data`).
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
