"""``hmtir download``: fetch registered datasets and weights, resumably, verified, and unpacked safely.

Each file is fetched into ``<name>.part``, with what the server declared (URL, total size, ETag,
Last-Modified) in ``<name>.part.json``. A partial file is resumed (Range + If-Range) only when that record
proves it belongs to the same source; a foreign or stale one is discarded. The finished file is checked
against the registry's sha256 or the folder's lock file, renamed to its final name, and its hash pinned in
the lock only when it was verified (published checksum, or a complete transfer in consistent pieces). A
web page where a file was expected (Google Drive's quota and virus-scan pages are the classic case) is
recognised at once; Drive's "can't scan this file" confirmation is followed. A file may also be made from a
member of a published archive (``from:`` in the registry, e.g. NIQE's parameters from BasicSR's sdist on
PyPI). When every mirror fails the error names each one tried and where to put a manually downloaded copy.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import urllib3

from hmtir.data.archive import archive_format, extract_archive, extract_member
from hmtir.data.lockfile import Lock, LockEntry
from hmtir.data.sources import CONVERTERS, FileSpec, Mirror, SourceMeta, expand, hf_endpoint, load_sources
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.weights import sha256_file

CHUNK = 1 << 16
RESUME_ATTEMPTS = 5
TIMEOUT = (15, 60)  # connect, read (seconds)
USER_AGENT = "hmtir-download/1"
PART_SUFFIX = ".part"  # <name>.part holds the bytes so far, <name>.part.json what the server declared

# a stream cut short surfaces from urllib3/http.client, not as a requests exception, when read raw
_TRANSFER_ERRORS = (http.client.HTTPException, ConnectionError, TimeoutError, urllib3.exceptions.HTTPError)

Advance = Callable[[int, int | None], None]  # (bytes just written, total size or None)


class MirrorFailed(Exception):
    """One mirror could not deliver a good file; the next one is tried."""


# --------------------------------------------------------------------------------------- HTML handling
def looks_like_html(content_type: str | None, head: bytes) -> bool:
    """A web page where a binary file was expected (by header or by its first bytes)."""
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    start = head.lstrip()[:15].lower()
    return start.startswith(b"<!doctype html") or start.startswith(b"<html")


class _ConfirmParser(HTMLParser):
    """Collects the download form (action + hidden inputs) and any ``confirm=`` link of a Drive page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.links: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")
        elif tag == "a" and "confirm=" in a.get("href", ""):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def drive_confirm_url(page: str, page_url: str) -> str | None:
    """The URL that confirms a large-file download on a Drive interstitial page, or None.

    Handles the current ``drive.usercontent.google.com`` form (hidden ``id``/``export``/``confirm``/
    ``uuid`` inputs) and the older ``/uc?export=download&confirm=TOKEN&id=ID`` link.
    """
    parser = _ConfirmParser()
    parser.feed(page)
    for action, inputs in parser.forms:
        if "confirm" in inputs and "id" in inputs:
            target = urlsplit(urljoin(page_url, action or page_url))
            query = dict(parse_qsl(target.query))
            query.update(inputs)
            return urlunsplit(target._replace(query=urlencode(query)))
    if parser.links:
        return urljoin(page_url, parser.links[0])
    return None


# --------------------------------------------------------------------------------------- HTTP transfer
def _session():  # noqa: ANN202 - requests is imported lazily
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept-Encoding"] = "identity"  # Range offsets must count the bytes we store
    return session


def _describe(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) < 160 else text[:157] + "..."


@dataclass(frozen=True)
class Transfer:
    """What the server said about the file arriving in ``<name>.part``, kept beside it in ``<name>.part.json``.

    A partial file is resumed only when this record proves it belongs to the same source: same URL, a
    declared total size, and either a validator (ETag/Last-Modified, sent back as ``If-Range`` and compared
    on every resumed piece) or a published sha256 that will check the result. Anything else is discarded.
    """

    url: str  # the mirror's stable location (before any Drive confirmation redirect)
    total: int | None  # declared size of the whole file (Content-Length of a 200, Content-Range total)
    etag: str | None = None
    last_modified: str | None = None

    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, else Last-Modified (weak ETags cannot guard a range)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def same_version(self, headers: Mapping[str, str]) -> bool:
        """A resumed piece is of the version we started on when the validators we know did not change."""
        return all(
            mine is None or headers.get(key) == mine
            for key, mine in (("ETag", self.etag), ("Last-Modified", self.last_modified))
        )


def _sidecar(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _sidecar(part).unlink(missing_ok=True)


def _resumable(part: Path, source_url: str, pinned: bool) -> Transfer | None:
    """The record of ``part`` when it may be continued from ``source_url``, else None (discard it)."""
    if not part.is_file():
        return None
    try:
        record = Transfer(**json.loads(_sidecar(part).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no sidecar, or not ours: a foreign partial file
    if record.url != source_url or record.total is None or part.stat().st_size >= record.total:
        return None
    if record.validator() is None and not pinned:
        return None  # nothing would notice the remote file changing between the pieces
    return record


def _content_range(value: str | None) -> tuple[int, int, int] | None:
    """``bytes START-END/TOTAL`` as numbers, or None when it is anything else."""
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", (value or "").strip())
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def stream_to_part(
    session,  # noqa: ANN001
    url: str,
    part: Path,
    advance: Advance,
    *,
    source_url: str | None = None,
    pinned: bool = False,
) -> Transfer:
    """Download ``url`` into ``part``, resuming with Range + If-Range after drops; return what was declared.

    ``source_url`` is the stable address recorded in the sidecar (``url`` itself by default); ``pinned``
    says a published sha256 will check the result, which allows resuming from a server without
    validators. A server that ignores Range restarts the file from zero; a 416 or a piece of another
    version discards the partial file and restarts; a wrong Content-Range is refused.
    """
    import requests

    source_url = source_url or url
    last_error = "no attempt made"
    for _ in range(RESUME_ATTEMPTS):
        record = _resumable(part, source_url, pinned)
        if record is None:
            _discard(part)
        offset = part.stat().st_size if record else 0
        headers = {}
        if record is not None:
            headers["Range"] = f"bytes={offset}-"
            if record.validator():
                headers["If-Range"] = str(record.validator())
        try:
            with session.get(url, stream=True, headers=headers, timeout=TIMEOUT) as resp:
                if resp.status_code == 416 and offset:
                    _discard(part)  # our partial file is not a prefix of the remote one
                    last_error = f"HTTP 416 for bytes={offset}-"
                    continue
                if resp.status_code >= 400:
                    raise MirrorFailed(f"HTTP {resp.status_code} from {url}")
                if resp.status_code == 206:
                    span = _content_range(resp.headers.get("Content-Range"))
                    length = resp.headers.get("Content-Length")
                    if (
                        record is None
                        or span is None
                        or span[0] != offset
                        or span[2] != record.total
                        or span[1] != span[2] - 1
                        or (length is not None and length != str(span[1] - span[0] + 1))
                    ):
                        _discard(part)
                        raise MirrorFailed(
                            f"{url} answered bytes={offset}- with the wrong part "
                            f"(Content-Range {resp.headers.get('Content-Range')!r})"
                        )
                    if not record.same_version(resp.headers):
                        _discard(part)  # the server ignored If-Range: this piece is of another version
                        last_error = "the file changed on the server during the transfer"
                        continue
                    transfer = record
                else:  # the whole file, from the first byte, whatever we asked for
                    offset = 0
                    length = resp.headers.get("Content-Length")
                    transfer = Transfer(
                        source_url,
                        int(length) if length and length.isdigit() else None,
                        resp.headers.get("ETag"),
                        resp.headers.get("Last-Modified"),
                    )
                chunks = _raw_blocks(resp)
                first = next(chunks, b"")
                if looks_like_html(resp.headers.get("Content-Type"), first):
                    raise MirrorFailed(f"{url} returned a web page instead of the file")
                if (
                    offset == 0
                ):  # the sidecar is written before the first byte, so no .part is ever without one
                    _discard(part)
                    atomic_write_text(_sidecar(part), json.dumps(asdict(transfer)) + "\n")
                with open(part, "ab" if offset else "wb") as out:
                    advance(-1, transfer.total)  # (re)start the progress bar at the current offset
                    advance(offset, transfer.total)
                    for block in _chain(first, chunks):
                        out.write(block)
                        advance(len(block), transfer.total)
                size = part.stat().st_size
                if transfer.total is not None and size > transfer.total:
                    _discard(part)
                    raise MirrorFailed(f"{url} sent {size} bytes, more than the {transfer.total} it declared")
                if transfer.total is not None and size < transfer.total:
                    last_error = f"connection closed after {size} of {transfer.total} bytes"
                    continue
                return transfer
        except MirrorFailed:
            raise
        except (requests.ConnectionError, requests.Timeout, *_TRANSFER_ERRORS) as err:
            last_error = _describe(err)
        except requests.RequestException as err:
            raise MirrorFailed(f"{url}: {_describe(err)}") from None
    raise MirrorFailed(f"{url}: {last_error} (after {RESUME_ATTEMPTS} attempts)")


def _raw_blocks(resp) -> Iterator[bytes]:  # noqa: ANN001
    """Bytes as they arrive (``read1``), so the part received before a dropped connection is kept."""
    raw = resp.raw
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    while block := read(CHUNK):
        yield block


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    for block in rest:
        if block:
            yield block


def _gdrive_url(session, url: str) -> str:  # noqa: ANN001
    """Follow Drive's confirmation pages until the URL serves the file itself."""
    import requests

    for _ in range(3):
        try:
            with session.get(url, stream=True, timeout=TIMEOUT) as resp:
                if resp.status_code >= 400:
                    raise MirrorFailed(f"HTTP {resp.status_code} from {url}")
                head = next(resp.iter_content(CHUNK), b"")
                if not looks_like_html(resp.headers.get("Content-Type"), head):
                    return url
                page = (head + resp.raw.read(1 << 20)).decode("utf-8", "replace")
                token = next((v for k, v in resp.cookies.items() if k.startswith("download_warning")), None)
                page_url = resp.url
        except requests.RequestException as err:
            raise MirrorFailed(f"{url}: {_describe(err)}") from None
        confirm = drive_confirm_url(page, page_url)
        if confirm is None and token:
            parts = urlsplit(url)
            confirm = urlunsplit(
                parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), "confirm": token}))
            )
        if confirm is None:
            raise MirrorFailed(
                f"Google Drive returned a web page without a download link for {url} (quota or permissions?)"
            )
        url = confirm
    raise MirrorFailed(f"Google Drive kept asking for confirmation at {url}")


# --------------------------------------------------------------------------------------- mirrors
def _fetch_hf(mirror: Mirror, part: Path, cache: bool, force: bool = False) -> Path:
    """Download through huggingface_hub (auth, redirects, CDN) into ``part`` or the hub cache.

    huggingface_hub checks the received size against the one the hub declares, and resumes only its own
    ``.incomplete`` files, keyed by the file's ETag.
    """
    from huggingface_hub import hf_hub_download

    kwargs = {"repo_type": mirror.repo_type, "revision": mirror.revision, "endpoint": hf_endpoint()}
    try:
        if cache:
            # read at call time (huggingface_hub reads HF_HUB_CACHE only once, at import)
            cache_dir = os.environ.get("HF_HUB_CACHE")
            return Path(
                hf_hub_download(
                    str(mirror.repo), str(mirror.path), cache_dir=cache_dir, force_download=force, **kwargs
                )
            )
        _discard(part)
        staging = Path(tempfile.mkdtemp(prefix=f".{part.name}.hf-", dir=part.parent))
        try:
            got = Path(hf_hub_download(str(mirror.repo), str(mirror.path), local_dir=staging, **kwargs))
            os.replace(got, part)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return part
    except Exception as err:  # huggingface_hub raises many types; any of them means this mirror failed
        raise MirrorFailed(f"{mirror.location()}: {_describe(err)}") from None


def _fetch(mirror: Mirror, part: Path, session, advance: Advance, pinned: bool) -> Transfer:  # noqa: ANN001
    """Fetch one mirror's copy into ``part``; return what was declared about it."""
    if mirror.kind == "manual":
        raise MirrorFailed(f"{mirror.url} needs a manual download")
    source_url = mirror.location()
    if mirror.kind == "hf":
        _fetch_hf(mirror, part, cache=False)
        return Transfer(source_url, part.stat().st_size)  # size checked by huggingface_hub
    url = _gdrive_url(session, source_url) if mirror.kind == "gdrive" else source_url
    return stream_to_part(session, url, part, advance, source_url=source_url, pinned=pinned)


# --------------------------------------------------------------------------------------- orchestration
def _order(mirrors: Sequence[Mirror], preferred: str | None) -> list[Mirror]:
    """``--mirror NAME`` restricts a file to that mirror when it has one; other files keep their list."""
    if preferred is None:
        return list(mirrors)
    chosen = [m for m in mirrors if m.name == preferred or m.kind == preferred]
    return chosen or list(mirrors)


def _manual_route(spec: FileSpec, directory: Path) -> str:
    """Where a person fetches the file (for a file made from an archive member: the archive) and puts it."""
    target = spec.origin.archive if spec.origin else spec
    return f"download it from {target.mirrors[0].browser_url()} and put it at {directory / target.name}"


def _repair_hint(source: str) -> str:
    return f"run `hmtir download --repair {source}`"


def _accept(
    part: Path,
    spec: FileSpec,
    locked: LockEntry | None,
    lock: Lock,
    source: str,
    url: str,
    transfer: Transfer,
) -> tuple[str, int, str]:
    """Check a finished ``.part`` against the registry and the lock; return (sha256, size, verification).

    A bad file is deleted, not kept. The verification is what the lock may pin: ``sha256`` (the published
    checksum matched), ``transfer`` (the declared size arrived in consistent pieces) or ``unverified``.
    """
    digest, size = sha256_file(part), part.stat().st_size
    problem = None
    if spec.size is not None and size != spec.size:
        problem = f"size {size} bytes, expected {spec.size}"
    elif spec.sha256 and digest != spec.sha256:
        problem = f"sha256 {digest}, expected {spec.sha256}"
    elif not spec.sha256 and locked and locked.pinned and digest != locked.sha256:
        problem = (
            f"sha256 {digest} differs from {locked.sha256} recorded in {lock.path}; "
            f"if that entry is wrong, {_repair_hint(source)}"
        )
    if problem:
        _discard(part)
        raise MirrorFailed(f"{url} gave a bad file ({problem})")
    if spec.sha256:
        return digest, size, "sha256"
    return digest, size, "transfer" if transfer.total == size else "unverified"


def _download(
    source: str,
    spec: FileSpec,
    directory: Path,
    locked: LockEntry | None,
    lock: Lock,
    mirror: str | None,
    progress: Callable[[str], Advance] | None,
) -> tuple[Path, str, int, str, str]:
    """Fetch ``spec`` into ``<name>.part`` from the first mirror that delivers a good copy.

    Returns (part, sha256, size, url, verification); every mirror failing is one error naming each.
    """
    part = directory / (spec.name + PART_SUFFIX)
    session = _session()
    failures = []
    for m in _order(spec.mirrors, mirror):
        url = m.location()
        advance = progress(f"{source}: {spec.name}") if progress else (lambda n, total: None)
        try:
            transfer = _fetch(m, part, session, advance, pinned=bool(spec.sha256))
            digest, size, verified = _accept(part, spec, locked, lock, source, url, transfer)
        except MirrorFailed as err:
            failures.append(f"{m.name} ({err})")
            continue
        _sidecar(part).unlink(missing_ok=True)
        return part, digest, size, url, verified
    raise HmtirError(
        f"could not download {spec.name} for '{source}': tried {'; '.join(failures)}; "
        f"{_manual_route(spec, directory)}"
    )


def _check_existing(dest: Path, spec: FileSpec, locked: LockEntry | None, source: str) -> None:
    expected = spec.sha256 or (locked.sha256 if locked and locked.pinned else None)
    if expected and sha256_file(dest) != expected:
        raise HmtirError(
            f"{dest} exists but its sha256 is not {expected}; {_repair_hint(source)} to fetch and verify it again"
        )


def fetch_file(
    source: str,
    spec: FileSpec,
    directory: Path,
    *,
    mirror: str | None = None,
    offline: bool = False,
    repair: bool = False,
    progress: Callable[[str], Advance] | None = None,
) -> Path:
    """Make ``directory/spec.name`` present and verified (or its extracted folder); return that path.

    ``repair`` ignores the file's lock entry and any present copy that does not match a published
    checksum: the file is fetched and verified again, and replaces the old copy (and entry) only then.
    """
    if repair and offline:
        raise HmtirError(f"--repair fetches {source} again and needs the network; drop --offline")
    if spec.store == "hf-cache":
        if offline:
            raise HmtirError(f"offline: cannot fetch {spec.name} for '{source}' into the Hugging Face cache")
        failures = []
        for m in _order(spec.mirrors, mirror):
            try:
                return _fetch_hf(m, directory, cache=True, force=repair)
            except MirrorFailed as err:
                failures.append(f"{m.name}: {err}")
        raise HmtirError(f"could not download {spec.name} for '{source}' ({'; '.join(failures)})")

    directory.mkdir(parents=True, exist_ok=True)
    lock = Lock(directory)
    dest = directory / spec.name
    unpacked = directory / spec.folder
    previous = lock.get(spec.name)
    locked = None if repair else previous
    if locked and locked.extracted_to and unpacked.is_dir():
        return unpacked
    if dest.is_file() and not (repair and not (spec.sha256 and sha256_file(dest) == spec.sha256)):
        _check_existing(dest, spec, locked, source)
        if locked is None:
            how = "sha256" if spec.sha256 else "local"
            lock.record(spec.name, source, sha256_file(dest), dest.stat().st_size, "local file", verified=how)
        return _maybe_extract(source, spec, dest, unpacked, lock, replace=repair)

    if spec.origin is not None:
        return _derive(source, spec, dest, lock, locked, offline, mirror, progress)
    if offline:
        raise HmtirError(f"offline: '{source}' needs {spec.name}; {_manual_route(spec, directory)}")
    part, digest, size, url, verified = _download(source, spec, directory, locked, lock, mirror, progress)
    os.replace(part, dest)
    lock.record(spec.name, source, digest, size, url, verified=verified)
    return _maybe_extract(source, spec, dest, unpacked, lock, replace=repair)


def _derive(
    source: str,
    spec: FileSpec,
    dest: Path,
    lock: Lock,
    locked: LockEntry | None,
    offline: bool,
    mirror: str | None,
    progress: Callable[[str], Advance] | None,
) -> Path:
    """Make ``dest`` from a member of its verified archive (a copy the user put in the folder, else fetched).

    A fetched archive is deleted afterwards: only the member is wanted. The product is pinned as
    ``derived`` (the archive's published sha256 vouches for it; conversions are deterministic).
    """
    origin = spec.origin
    assert origin is not None
    directory = dest.parent
    archive = directory / origin.archive.name
    fetched = None
    if archive.is_file():
        if sha256_file(archive) != origin.archive.sha256:
            raise HmtirError(
                f"{archive} exists but its sha256 is not {origin.archive.sha256}; delete it to download it again"
            )
        url = "local file"
    elif offline:
        raise HmtirError(f"offline: '{source}' needs {spec.name}; {_manual_route(spec, directory)}")
    else:
        fetched, _, _, url, _ = _download(source, origin.archive, directory, None, lock, mirror, progress)
        archive = fetched
    try:
        with tempfile.TemporaryDirectory(prefix=f".{spec.name}.member-", dir=directory) as tmp:
            member = extract_member(
                archive, origin.member, Path(tmp) / PurePosixPath(origin.member).name, origin.archive.limits
            )
            if origin.convert is None:
                os.replace(member, dest)
            else:
                module, _, function = CONVERTERS[origin.convert].partition(":")
                getattr(importlib.import_module(module), function)(member, dest)
    finally:
        if fetched is not None:
            fetched.unlink(missing_ok=True)
    digest = sha256_file(dest)
    if locked is not None and locked.pinned and digest != locked.sha256:
        dest.unlink()
        raise HmtirError(
            f"{spec.name} made from {origin.archive.name} has sha256 {digest}, not {locked.sha256} recorded in "
            f"{lock.path}; if that entry is wrong, {_repair_hint(source)}"
        )
    how = f" converted by {origin.convert}" if origin.convert else ""
    lock.record(
        spec.name,
        source,
        digest,
        dest.stat().st_size,
        url,
        verified="derived",
        derived_from=f"{origin.member} of {origin.archive.name} (sha256 {origin.archive.sha256}){how}",
    )
    return dest


def _maybe_extract(
    source: str, spec: FileSpec, archive: Path, target: Path, lock: Lock, replace: bool = False
) -> Path:
    """Unpack an archive file; ``replace`` swaps a folder from an earlier copy only once the new one is out."""
    if not spec.extract or archive_format(archive) is None:
        return archive
    if replace and target.exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.repair-", dir=target.parent))
        try:
            fresh = extract_archive(archive, staging / target.name, spec.limits)
            shutil.rmtree(target)
            os.replace(fresh, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        extract_archive(archive, target, spec.limits)
    entry = lock.get(spec.name)
    assert entry is not None
    lock.record(
        spec.name,
        source,
        entry.sha256,
        entry.size,
        entry.url,
        verified=entry.verified,
        extracted_to=target.name,
        derived_from=entry.derived_from,
    )
    return target


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[Callable[[str], Advance] | None]:
    """One task per transfer: a bar on a terminal, periodic lines in a log (:func:`hmtir.console.progress`)."""
    if not enabled:
        yield None
        return
    from hmtir.console import progress

    with progress(True, label="download", unit="bytes") as bars:

        def new_task(label: str) -> Advance:  # nothing is shown until a transfer starts (offline: quiet)
            task = bars.add_task(label, total=None)

            def advance(n: int, total: int | None) -> None:
                if n < 0:
                    bars.reset(task, total=total)
                else:
                    bars.update(task, advance=n, total=total)

            return advance

        yield new_task


def download(
    names: Sequence[str] | str,
    dir: str | Path | None = None,  # noqa: A002 - mirrors the CLI option
    mirror: str | None = None,
    offline: bool = False,
    progress: bool = True,
    repair: bool = False,
) -> list[Path]:
    """Fetch the named sources (``hmtir list sources``); return each file or extracted folder.

    ``dir`` overrides every source's default location; ``mirror`` prefers a mirror by name or kind;
    ``offline`` never touches the network and says where to put files that are missing; ``repair``
    fetches and verifies every file again, replacing a wrong copy and its lock entry.
    """
    registry = load_sources()
    sources: list[SourceMeta] = expand(registry, [names] if isinstance(names, str) else list(names))
    out: list[Path] = []
    with _progress_bars(progress) as bars:
        for meta in sources:
            directory = Path(dir).expanduser() if dir is not None else meta.default_dir()
            for spec in meta.files:
                out.append(
                    fetch_file(
                        meta.name,
                        spec,
                        directory,
                        mirror=mirror,
                        offline=offline,
                        repair=repair,
                        progress=bars,
                    )
                )
    return out
