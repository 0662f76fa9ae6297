"""HTTP transfer of one file into ``<name>.part``, resumable only when the server proves it is the same file.

The bytes so far are in ``<name>.part``; what the server declared (URL, total size, ETag, Last-Modified)
is in ``<name>.part.json``, written before the first byte. A partial file is continued (Range + If-Range)
only when that record proves it belongs to the same source; a foreign or stale one is discarded. Which
mirror, which checksum and where the finished file goes are :mod:`hmtir.data.download`'s business.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import urllib3

from hmtir.io.atomic import atomic_write_text, sibling_name

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


# --------------------------------------------------------------------------------------- HTTP transfer
def http_session():  # noqa: ANN202 - requests is imported lazily
    """A requests session that stores bytes as sent (no transparent decompression), so offsets count."""
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept-Encoding"] = "identity"  # Range offsets must count the bytes we store
    return session


def describe(err: Exception) -> str:
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


def sidecar(part: Path) -> Path:
    return part.with_name(sibling_name(part.name, ".json"))


def discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    sidecar(part).unlink(missing_ok=True)


def _resumable(part: Path, source_url: str, pinned: bool) -> Transfer | None:
    """The record of ``part`` when it may be continued from ``source_url``, else None (discard it)."""
    if not part.is_file():
        return None
    try:
        record = Transfer(**json.loads(sidecar(part).read_text()))
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
            discard(part)
        offset = part.stat().st_size if record else 0
        headers = {}
        if record is not None:
            headers["Range"] = f"bytes={offset}-"
            if record.validator():
                headers["If-Range"] = str(record.validator())
        try:
            with session.get(url, stream=True, headers=headers, timeout=TIMEOUT) as resp:
                if resp.status_code == 416 and offset:
                    discard(part)  # our partial file is not a prefix of the remote one
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
                        discard(part)
                        raise MirrorFailed(
                            f"{url} answered bytes={offset}- with the wrong part "
                            f"(Content-Range {resp.headers.get('Content-Range')!r})"
                        )
                    if not record.same_version(resp.headers):
                        discard(part)  # the server ignored If-Range: this piece is of another version
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
                    discard(part)
                    atomic_write_text(sidecar(part), json.dumps(asdict(transfer)) + "\n")
                with open(part, "ab" if offset else "wb") as out:
                    advance(-1, transfer.total)  # (re)start the progress bar at the current offset
                    advance(offset, transfer.total)
                    for block in _chain(first, chunks):
                        out.write(block)
                        advance(len(block), transfer.total)
                size = part.stat().st_size
                if transfer.total is not None and size > transfer.total:
                    discard(part)
                    raise MirrorFailed(f"{url} sent {size} bytes, more than the {transfer.total} it declared")
                if transfer.total is not None and size < transfer.total:
                    last_error = f"connection closed after {size} of {transfer.total} bytes"
                    continue
                return transfer
        except MirrorFailed:
            raise
        except (requests.ConnectionError, requests.Timeout, *_TRANSFER_ERRORS) as err:
            last_error = describe(err)
        except requests.RequestException as err:
            raise MirrorFailed(f"{url}: {describe(err)}") from None
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
