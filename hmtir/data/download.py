"""``hmtir download``: fetch registered datasets and weights, resumably, verified, and unpacked safely.

Each file is fetched into ``<name>.part`` (resumed with an HTTP Range request after a dropped
connection), checked against the registry's sha256 or the folder's lock file, and only then renamed to
its final name. A web page where a file was expected (Google Drive's quota and virus-scan pages are the
classic case) is recognised at once; Drive's "can't scan this file" confirmation is followed. When every
mirror fails the error names each one tried and where to put a manually downloaded copy.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import urllib3

from hmtir.data.archive import archive_format, extract_archive
from hmtir.data.lockfile import Lock
from hmtir.data.sources import FileSpec, Mirror, SourceMeta, expand, hf_endpoint, load_sources
from hmtir.errors import HmtirError
from hmtir.weights import sha256_file

CHUNK = 1 << 16
RESUME_ATTEMPTS = 5
TIMEOUT = (15, 60)  # connect, read (seconds)
USER_AGENT = "hmtir-download/1"

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


def stream_to_part(session, url: str, part: Path, advance: Advance) -> None:  # noqa: ANN001
    """Download ``url`` into ``part``, resuming with Range after drops; HTML instead of data fails at once."""
    import requests

    last_error = "no attempt made"
    for _ in range(RESUME_ATTEMPTS):
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with session.get(url, stream=True, headers=headers, timeout=TIMEOUT) as resp:
                if resp.status_code == 416 and offset:
                    part.unlink()  # our partial file is not a prefix of the remote one
                    continue
                if resp.status_code >= 400:
                    raise MirrorFailed(f"HTTP {resp.status_code} from {url}")
                resumed = resp.status_code == 206
                if not resumed:
                    offset = 0
                elif not resp.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
                    raise MirrorFailed(f"{url} answered a Range request with the wrong part")
                length = resp.headers.get("Content-Length")
                total = offset + int(length) if length and length.isdigit() else None
                chunks = _raw_blocks(resp)
                first = next(chunks, b"")
                if looks_like_html(resp.headers.get("Content-Type"), first):
                    raise MirrorFailed(f"{url} returned a web page instead of the file")
                with open(part, "ab" if resumed else "wb") as out:
                    advance(-1, total)  # (re)start the progress bar at the current offset
                    advance(offset, total)
                    for block in _chain(first, chunks):
                        out.write(block)
                        advance(len(block), total)
                size = part.stat().st_size
                if total is not None and size < total:
                    last_error = f"connection closed after {size} of {total} bytes"
                    continue
                return
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
def _fetch_hf(mirror: Mirror, part: Path, cache: bool) -> Path:
    """Download through huggingface_hub (auth, redirects, CDN) into ``part`` or the hub cache."""
    from huggingface_hub import hf_hub_download

    kwargs = {"repo_type": mirror.repo_type, "revision": mirror.revision, "endpoint": hf_endpoint()}
    try:
        if cache:
            # read at call time (huggingface_hub reads HF_HUB_CACHE only once, at import)
            cache_dir = os.environ.get("HF_HUB_CACHE")
            return Path(hf_hub_download(str(mirror.repo), str(mirror.path), cache_dir=cache_dir, **kwargs))
        staging = Path(tempfile.mkdtemp(prefix=f".{part.name}.hf-", dir=part.parent))
        try:
            got = Path(hf_hub_download(str(mirror.repo), str(mirror.path), local_dir=staging, **kwargs))
            os.replace(got, part)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return part
    except Exception as err:  # huggingface_hub raises many types; any of them means this mirror failed
        raise MirrorFailed(f"{mirror.location()}: {_describe(err)}") from None


def _fetch(mirror: Mirror, part: Path, session, advance: Advance) -> None:  # noqa: ANN001
    if mirror.kind == "manual":
        raise MirrorFailed(f"{mirror.url} needs a manual download")
    if mirror.kind == "hf":
        _fetch_hf(mirror, part, cache=False)
        return
    url = mirror.location()
    if mirror.kind == "gdrive":
        url = _gdrive_url(session, url)
    stream_to_part(session, url, part, advance)


# --------------------------------------------------------------------------------------- orchestration
def _order(mirrors: Sequence[Mirror], preferred: str | None) -> list[Mirror]:
    """``--mirror NAME`` restricts a file to that mirror when it has one; other files keep their list."""
    if preferred is None:
        return list(mirrors)
    chosen = [m for m in mirrors if m.name == preferred or m.kind == preferred]
    return chosen or list(mirrors)


def _manual_route(spec: FileSpec, dest: Path) -> str:
    where = spec.mirrors[0].browser_url()
    return f"download it from {where} and put it at {dest}"


def _accept(part: Path, spec: FileSpec, lock: Lock, source: str, url: str) -> tuple[str, int]:
    """Check a finished ``.part`` against the registry and the lock; a bad file is deleted, not kept."""
    digest, size = sha256_file(part), part.stat().st_size
    locked = lock.get(spec.name)
    problem = None
    if spec.size is not None and size != spec.size:
        problem = f"size {size} bytes, expected {spec.size}"
    elif spec.sha256 and digest != spec.sha256:
        problem = f"sha256 {digest}, expected {spec.sha256}"
    elif not spec.sha256 and locked and digest != locked.sha256:
        problem = f"sha256 {digest} differs from {locked.sha256} recorded in {lock.path}"
    if problem:
        part.unlink()
        raise MirrorFailed(f"{url} gave a bad file ({problem})")
    return digest, size


def _check_existing(dest: Path, spec: FileSpec, lock: Lock) -> None:
    locked = lock.get(spec.name)
    expected = spec.sha256 or (locked.sha256 if locked else None)
    if expected and sha256_file(dest) != expected:
        raise HmtirError(
            f"{dest} exists but its sha256 is not {expected}; delete it and run the download again"
        )


def fetch_file(
    source: str,
    spec: FileSpec,
    directory: Path,
    *,
    mirror: str | None = None,
    offline: bool = False,
    progress: Callable[[str], Advance] | None = None,
) -> Path:
    """Make ``directory/spec.name`` present and verified (or its extracted folder); return that path."""
    if spec.store == "hf-cache":
        if offline:
            raise HmtirError(f"offline: cannot fetch {spec.name} for '{source}' into the Hugging Face cache")
        failures = []
        for m in _order(spec.mirrors, mirror):
            try:
                return _fetch_hf(m, directory, cache=True)
            except MirrorFailed as err:
                failures.append(f"{m.name}: {err}")
        raise HmtirError(f"could not download {spec.name} for '{source}' ({'; '.join(failures)})")

    directory.mkdir(parents=True, exist_ok=True)
    lock = Lock(directory)
    dest = directory / spec.name
    unpacked = directory / spec.folder
    locked = lock.get(spec.name)
    if locked and locked.extracted_to and unpacked.is_dir():
        return unpacked
    if dest.is_file():
        _check_existing(dest, spec, lock)
        if locked is None:
            lock.record(spec.name, source, sha256_file(dest), dest.stat().st_size, "local file")
        return _maybe_extract(source, spec, dest, unpacked, lock)

    if offline:
        raise HmtirError(f"offline: '{source}' needs {spec.name}; {_manual_route(spec, dest)}")
    part = dest.with_name(dest.name + ".part")
    session = _session()
    failures = []
    for m in _order(spec.mirrors, mirror):
        url = m.location()
        advance = progress(f"{source}: {spec.name}") if progress else (lambda n, total: None)
        try:
            _fetch(m, part, session, advance)
            digest, size = _accept(part, spec, lock, source, url)
        except MirrorFailed as err:
            failures.append(f"{m.name} ({err})")
            continue
        os.replace(part, dest)
        lock.record(spec.name, source, digest, size, url)
        return _maybe_extract(source, spec, dest, unpacked, lock)
    raise HmtirError(
        f"could not download {spec.name} for '{source}': tried {'; '.join(failures)}; {_manual_route(spec, dest)}"
    )


def _maybe_extract(source: str, spec: FileSpec, archive: Path, target: Path, lock: Lock) -> Path:
    if not spec.extract or archive_format(archive) is None:
        return archive
    extract_archive(archive, target, spec.limits)
    entry = lock.get(spec.name)
    assert entry is not None
    lock.record(spec.name, source, entry.sha256, entry.size, entry.url, extracted_to=target.name)
    return target


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[Callable[[str], Advance] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())

    def new_task(label: str) -> Advance:
        if not bars.live.is_started:  # nothing is drawn until a transfer starts (offline runs stay quiet)
            bars.start()
        task = bars.add_task(label, total=None)

        def advance(n: int, total: int | None) -> None:
            if n < 0:
                bars.reset(task, total=total)
            else:
                bars.update(task, advance=n, total=total)

        return advance

    try:
        yield new_task
    finally:
        if bars.live.is_started:
            bars.stop()


def download(
    names: Sequence[str] | str,
    dir: str | Path | None = None,  # noqa: A002 - mirrors the CLI option
    mirror: str | None = None,
    offline: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Fetch the named sources (``hmtir list sources``); return each file or extracted folder.

    ``dir`` overrides every source's default location; ``mirror`` prefers a mirror by name or kind;
    ``offline`` never touches the network and says where to put files that are missing.
    """
    registry = load_sources()
    sources: list[SourceMeta] = expand(registry, [names] if isinstance(names, str) else list(names))
    out: list[Path] = []
    with _progress_bars(progress) as bars:
        for meta in sources:
            directory = Path(dir).expanduser() if dir is not None else meta.default_dir()
            for spec in meta.files:
                out.append(
                    fetch_file(meta.name, spec, directory, mirror=mirror, offline=offline, progress=bars)
                )
    return out
