"""The download source registry: typed, validated views of ``sources.yaml``.

Sources are data (``hmtir/data/sources.yaml``, plus any YAML files in ``$HMTIR_SOURCES``) so a mirror
can move without a code change. Loading validates every field, so a typo in a registry file is a
one-line error naming the entry rather than a crash halfway through a download.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from hmtir.data.archive import ArchiveLimits
from hmtir.errors import HmtirError
from hmtir.io.safety import check_name
from hmtir.io.yaml_file import read_yaml
from hmtir.paths import dataset_dir, weights_dir
from hmtir.registry import EntryMeta, LazyFactory, Registry

SOURCES_FILE = Path(__file__).with_name("sources.yaml")
SOURCE_KINDS = ("dataset", "weights", "metric-weights")
MIRROR_KINDS = ("gdrive", "http", "hf", "github-raw", "manual")
STORES = ("dir", "hf-cache")
# Conversions a file made from an archive member may name (``from: {convert: NAME}``): NAME ->
# "module:function(src, dest) -> dest", imported only when used. Code lives here; sources choose by name.
CONVERTERS = {"niqe-basicsr-npz": "hmtir.metrics.no_reference:niqe_params_from_basicsr"}
_FILE_FIELDS = {"name", "sha256", "size", "extract", "extract_to", "store", "limits", "mirrors", "from"}

# Base URLs, overridable so tests and private mirrors can stand in for the public hosts.
GDRIVE_URL_ENV = "HMTIR_GDRIVE_URL"
GITHUB_RAW_URL_ENV = "HMTIR_GITHUB_RAW_URL"
HF_ENDPOINT_ENV = "HMTIR_HF_ENDPOINT"
EXTRA_SOURCES_ENV = "HMTIR_SOURCES"
DEFAULT_GDRIVE_URL = "https://drive.usercontent.google.com/download"
DEFAULT_GITHUB_RAW_URL = "https://raw.githubusercontent.com"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Mirror:
    """One place a file can be fetched from."""

    kind: str
    name: str
    id: str | None = None
    url: str | None = None
    repo: str | None = None
    repo_type: str = "model"
    revision: str | None = None
    path: str | None = None

    def location(self) -> str:
        """The URL this mirror fetches (for messages and the lock file)."""
        if self.kind == "gdrive":
            base = os.environ.get(GDRIVE_URL_ENV) or DEFAULT_GDRIVE_URL
            return f"{base}?{urlencode({'id': self.id, 'export': 'download'})}"
        if self.kind == "github-raw":
            base = (os.environ.get(GITHUB_RAW_URL_ENV) or DEFAULT_GITHUB_RAW_URL).rstrip("/")
            return f"{base}/{self.repo}/{self.revision}/{quote(str(self.path))}"
        if self.kind == "hf":
            endpoint = hf_endpoint() or "https://huggingface.co"
            prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
            return f"{endpoint.rstrip('/')}/{prefix}{self.repo}/resolve/{self.revision}/{self.path}"
        return str(self.url)

    def browser_url(self) -> str:
        """Where a person can fetch the file by hand."""
        if self.kind == "gdrive":
            return f"https://drive.google.com/uc?id={self.id}"
        return self.location()


@dataclass(frozen=True)
class FileSpec:
    """A file a source provides: its stored name, what it must hash to, and whether to unpack it."""

    name: str
    mirrors: tuple[Mirror, ...]
    sha256: str | None = None
    size: int | None = None
    extract: bool = True  # unpack when the download is a zip/tar archive
    extract_to: str | None = None
    store: str = "dir"  # "dir": <target dir>/<name>; "hf-cache": the Hugging Face hub cache
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    origin: ArchiveMember | None = None  # made from a member of a published archive, not fetched itself

    @property
    def folder(self) -> str:
        """Folder an archive is unpacked into (inside the target directory)."""
        return self.extract_to or self.name.split(".")[0]


@dataclass(frozen=True)
class ArchiveMember:
    """Where a file made from a published archive comes from (``from:`` in the registry).

    The archive is fetched and verified like any file (its sha256 is required: the product is only as
    trustworthy as the archive); only ``member`` (its exact path inside the archive) is read out, then
    written as-is or through the named converter (:data:`CONVERTERS`).
    """

    archive: FileSpec
    member: str
    convert: str | None = None


@dataclass(frozen=True)
class SourceMeta(EntryMeta):
    kind: str = "dataset"
    citation: str | None = None
    files: tuple[FileSpec, ...] = ()
    includes: tuple[str, ...] = ()

    def default_dir(self) -> Path:
        """Where this source's files land when the user gives no ``--dir``."""
        if self.kind == "weights":
            return weights_dir()
        if self.kind == "metric-weights":
            return pyiqa_cache_dir()
        return dataset_dir(self.name)

    def dataset_root(self) -> Path:
        """Where a downloaded dataset's tree lives: the folder its (first) archive unpacks into."""
        archives = [f for f in self.files if f.extract]
        return self.default_dir() / archives[0].folder if archives else self.default_dir()


def hf_endpoint() -> str | None:
    """The hub endpoint to use: ``$HMTIR_HF_ENDPOINT``, else huggingface_hub's own (``HF_ENDPOINT``)."""
    return os.environ.get(HF_ENDPOINT_ENV) or os.environ.get("HF_ENDPOINT") or None


def pyiqa_cache_dir() -> Path:
    """pyiqa's weight cache, ``<torch hub dir>/pyiqa`` (torch.hub.get_dir's rule, without importing torch)."""
    import sys

    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir()) / "pyiqa"
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch"
    )
    return Path(torch_home).expanduser() / "hub" / "pyiqa"


def _fail(where: str, what: str) -> HmtirError:
    return HmtirError(f"invalid source registry {where}: {what}")


def _parse_mirror(raw: Any, where: str) -> Mirror:
    if not isinstance(raw, dict):
        raise _fail(where, "each mirror must be a mapping")
    unknown = set(raw) - {"kind", "name", "id", "url", "repo", "repo_type", "revision", "path"}
    if unknown:
        raise _fail(where, f"unknown mirror field(s) {', '.join(sorted(unknown))}")
    kind = raw.get("kind")
    if kind not in MIRROR_KINDS:
        raise _fail(where, f"mirror kind '{kind}' is not one of {', '.join(MIRROR_KINDS)}")
    required = {
        "gdrive": ("id",),
        "http": ("url",),
        "manual": ("url",),
        "github-raw": ("repo", "revision", "path"),
        "hf": ("repo", "revision", "path"),
    }[kind]
    missing = [key for key in required if not raw.get(key)]
    if missing:
        raise _fail(where, f"{kind} mirror needs {', '.join(missing)}")
    return Mirror(
        kind=kind,
        name=str(raw.get("name") or kind),
        id=raw.get("id"),
        url=raw.get("url"),
        repo=raw.get("repo"),
        repo_type=str(raw.get("repo_type") or "model"),
        revision=None if raw.get("revision") is None else str(raw["revision"]),
        path=raw.get("path"),
    )


def _parse_file(raw: Any, where: str) -> FileSpec:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise _fail(where, "each file needs a name")
    name = str(raw["name"])
    origin_text = f"source registry {where}"
    store = raw.get("store", "dir")
    if store not in STORES:
        raise _fail(f"{where} file '{name}'", f"store must be one of {', '.join(STORES)}")
    # a registry may come from $HMTIR_SOURCES, a file the user did not necessarily write: names that become
    # paths are plain names inside the target folder (hf-cache names are labels and may hold a '/')
    check_name(name, origin_text, nested=store == "hf-cache")
    where = f"{where} file '{name}'"
    unknown = set(raw) - _FILE_FIELDS
    if unknown:
        raise _fail(where, f"unknown file field(s) {', '.join(sorted(unknown))}")
    sha = raw.get("sha256")
    if sha is not None and not _SHA256.match(str(sha)):
        raise _fail(where, "sha256 must be 64 lowercase hex digits")
    if raw.get("extract_to") is not None:
        check_name(raw["extract_to"], origin_text)
    origin = None
    if raw.get("from") is not None:
        origin = _parse_origin(raw["from"], where, origin_text)
        if raw.get("mirrors") or store != "dir" or raw.get("extract"):
            raise _fail(
                where, "a file made 'from' an archive member has no mirrors, store or extract of its own"
            )
    mirrors = tuple(_parse_mirror(m, where) for m in raw.get("mirrors") or ())
    for m in mirrors:
        if m.kind == "hf" and store == "dir":  # downloaded below a staging folder under this path
            check_name(m.path, origin_text, nested=True)
    if not mirrors and origin is None:
        raise _fail(where, "needs at least one mirror")
    if store == "hf-cache" and any(m.kind != "hf" for m in mirrors):
        raise _fail(where, "store: hf-cache needs hf mirrors")
    limits = raw.get("limits") or {}
    try:
        archive_limits = ArchiveLimits(**limits)
    except TypeError as err:
        raise _fail(where, f"bad limits ({err})") from None
    return FileSpec(
        name=name,
        mirrors=mirrors or (origin.archive.mirrors if origin else ()),
        sha256=sha,
        size=None if raw.get("size") is None else int(raw["size"]),
        extract=origin is None and bool(raw.get("extract", True)),
        extract_to=raw.get("extract_to"),
        store=store,
        limits=archive_limits,
        origin=origin,
    )


def _parse_origin(raw: Any, where: str, origin_text: str) -> ArchiveMember:
    if not isinstance(raw, dict) or set(raw) - {"archive", "member", "convert"}:
        raise _fail(where, "'from' takes archive, member and convert")
    if not isinstance(raw.get("archive"), dict) or not raw.get("member"):
        raise _fail(where, "'from' needs an archive (a file entry) and a member path")
    archive = _parse_file({"extract": False, **raw["archive"]}, f"{where} from")
    if archive.origin is not None or archive.sha256 is None or archive.store != "dir":
        raise _fail(where, "'from' needs a downloadable archive with a published sha256")
    convert = raw.get("convert")
    if convert is not None and convert not in CONVERTERS:
        raise _fail(where, f"convert '{convert}' is not one of {', '.join(CONVERTERS)}")
    member = check_name(raw["member"], origin_text, nested=True)
    return ArchiveMember(archive=archive, member=member, convert=convert)


def _parse_source(name: str, raw: Any, origin: Path) -> dict[str, Any]:
    where = f"{origin} entry '{name}'"
    if not isinstance(raw, dict):
        raise _fail(where, "must be a mapping")
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        raise _fail(where, f"kind '{kind}' is not one of {', '.join(SOURCE_KINDS)}")
    files = tuple(_parse_file(f, where) for f in raw.get("files") or ())
    includes = tuple(str(i) for i in raw.get("includes") or ())
    if not files and not includes:
        raise _fail(where, "needs files or includes")
    return {
        "kind": kind,
        "summary": str(raw.get("summary", "")),
        "paper": raw.get("paper"),
        "license": raw.get("license"),
        "citation": raw.get("citation"),
        "files": files,
        "includes": includes,
    }


def source_files() -> list[Path]:
    """The packaged registry followed by the user's ``$HMTIR_SOURCES`` files (later entries win)."""
    extra = [Path(p).expanduser() for p in os.environ.get(EXTRA_SOURCES_ENV, "").split(os.pathsep) if p]
    return [SOURCES_FILE, *extra]


def load_sources(paths: list[Path] | None = None) -> Registry[SourceMeta]:
    """Parse and validate the registry files into a :class:`Registry` whose factory downloads the entry."""
    parsed: dict[str, dict[str, Any]] = {}
    for path in paths if paths is not None else source_files():
        doc = read_yaml(path, "source registry")
        if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict):
            raise _fail(str(path), "top level must have a 'sources' mapping")
        for name, raw in doc["sources"].items():
            parsed[str(name)] = _parse_source(str(name), raw, path)
    for name, meta in parsed.items():
        for included in meta["includes"]:
            if included not in parsed or parsed[included]["includes"]:
                raise _fail(f"entry '{name}'", f"includes '{included}', which is not a plain source")

    # the factory is declared by name, as catalogs do: the registry module never imports the downloader
    # (which imports it), so the data package's imports go one way
    fetch = LazyFactory("hmtir.data.download:download")
    registry: Registry[SourceMeta] = Registry("source", SourceMeta)
    for name, meta in parsed.items():
        registry.register(name, **meta)(functools.partial(fetch, [name]))
    return registry


def expand(registry: Registry[SourceMeta], names: list[str]) -> list[SourceMeta]:
    """Resolve group entries (``includes``) to the plain sources they stand for, without duplicates."""
    out: dict[str, SourceMeta] = {}
    for name in names:
        meta = registry.meta(name)
        for member in meta.includes or (name,):
            out.setdefault(member, registry.meta(member))
    return list(out.values())
