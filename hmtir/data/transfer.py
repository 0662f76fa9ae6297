"""HTTP transfer of one file into ``<name>.part``, resumable only when the server proves it is the same file.

The bytes so far are in ``<name>.part``; what the server declared (URL, total size, ETag, Last-Modified)
is in ``<name>.part.json``, written before the first byte. A partial file is continued only when the
server proves it still has the file those bytes came from: a strong ETag (If-Range), the same total size,
and the same bytes where the new piece overlaps ours. A weak ETag or Last-Modified proves nothing, so
the file starts again; a foreign or stale partial file is discarded. Which mirror, which checksum and
where the finished file goes are :mod:`hmtir.data.download`'s business.
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
OVERLAP = 4096  # a resumed piece starts this many bytes before the end of ours, which it must repeat
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

    A partial file is resumed only when this record can prove the server still has the same file: same
    URL, a declared total size and a strong ETag (sent back as ``If-Range``). Anything else is discarded.
    """

    url: str  # the mirror's stable location (before any Drive confirmation redirect)
    total: int | None  # declared size of the whole file (Content-Length of a 200, Content-Range total)
    etag: str | None = None
    last_modified: str | None = None

    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, the one validator that names these exact bytes (RFC 9110
        13.1.5). A weak ETag or a Last-Modified date (one-second resolution) does not, so with only those
        nothing is resumed: a piece of a changed file would be spliced into the old one."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return None

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


def _resumable(part: Path, source_url: str) -> Transfer | None:
    """The record of ``part`` when it may be continued from ``source_url``, else None (discard it)."""
    if not part.is_file():
        return None
    try:
        record = Transfer(**json.loads(sidecar(part).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no sidecar, or not ours: a foreign partial file
    if record.url != source_url or record.total is None or part.stat().st_size >= record.total:
        return None
    if record.validator() is None:
        return None  # nothing proves the remote file is still the one these bytes came from
    return record


def _kept(part: Path) -> str:
    """What a failed transfer leaves in ``part``, for the error: it may be the whole file."""
    if not part.is_file() or not part.stat().st_size:
        return ""
    held = part.stat().st_size
    try:
        total = Transfer(**json.loads(sidecar(part).read_text())).total
    except (OSError, ValueError, TypeError):
        total = None
    if total is None or held >= total:
        return f"; the {held} bytes received are left in {part}"
    return (
        f"; the {held} bytes received are left in {part}, short of the {total} the server declared"
        " (a server that overstates Content-Length leaves the whole file there)"
    )


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
) -> Transfer:
    """Download ``url`` into ``part``, resuming after drops only when the server proves it is the same file.

    A resumed request asks for ``Range: bytes=START-`` with ``If-Range: <strong ETag>``, START being
    :data:`OVERLAP` bytes before the end of what we hold. The piece is appended only if the server answers
    206 with that ETag, a Content-Range for START to the end of a file of the size the partial was started
    for, and the overlapping bytes equal the ones we hold (a server that kept its ETag for new bytes is
    caught there). A 200 (If-Range: the file changed), a 416, another size, ETag or overlap restarts the
    file from zero; a Content-Range that is not the piece asked for is refused. ``source_url`` is the
    stable address recorded in the sidecar (``url`` itself by default).
    """
    import requests

    source_url = source_url or url
    dropped = (requests.ConnectionError, requests.Timeout, *_TRANSFER_ERRORS)
    last_error = "no attempt made"
    for _ in range(RESUME_ATTEMPTS):
        record = _resumable(part, source_url)
        if record is None:
            discard(part)
        held = part.stat().st_size if record else 0
        start = held - min(held, OVERLAP)
        headers = {"Range": f"bytes={start}-", "If-Range": str(record.validator())} if record else {}
        try:
            with session.get(url, stream=True, headers=headers, timeout=TIMEOUT) as resp:
                if resp.status_code == 416 and held:
                    discard(part)  # our partial file is not a prefix of the remote one
                    last_error = f"HTTP 416 for bytes={start}-"
                    continue
                if resp.status_code >= 400:
                    raise MirrorFailed(f"HTTP {resp.status_code} from {url}")
                chunks = _raw_blocks(resp)
                first = b""
                if resp.status_code == 206:
                    changed, first = _other_version(resp, record, start, held, part, chunks, url)
                    if changed:
                        discard(part)
                        last_error = f"the file changed on the server during the transfer ({changed})"
                        continue
                    transfer, offset = record, held
                else:  # the whole file, from the first byte, whatever we asked for
                    offset = 0
                    length = resp.headers.get("Content-Length")
                    transfer = Transfer(
                        source_url,
                        int(length) if length and length.isdigit() else None,
                        resp.headers.get("ETag"),
                        resp.headers.get("Last-Modified"),
                    )
                assert transfer is not None
                first = first or next(chunks, b"")
                if looks_like_html(resp.headers.get("Content-Type"), first):
                    raise MirrorFailed(f"{url} returned a web page instead of the file")
                if offset == 0:  # the sidecar is written before the first byte: no .part is without one
                    discard(part)
                    atomic_write_text(sidecar(part), json.dumps(asdict(transfer)) + "\n")
                cut = None
                with open(part, "ab" if offset else "wb") as out:
                    advance(-1, transfer.total)  # (re)start the progress bar at the current offset
                    advance(offset, transfer.total)
                    try:
                        for block in _chain(first, chunks):
                            out.write(block)
                            advance(len(block), transfer.total)
                    except dropped as err:  # what arrived is kept; the size says whether it is all
                        cut = describe(err)
                size = part.stat().st_size
                if transfer.total is not None and size > transfer.total:
                    discard(part)
                    raise MirrorFailed(f"{url} sent {size} bytes, more than the {transfer.total} it declared")
                if transfer.total is not None and size < transfer.total:
                    last_error = f"connection closed after {size} of {transfer.total} bytes"
                    continue
                if cut is not None and transfer.total is None:  # nothing says how much is missing
                    last_error = cut
                    continue
                return transfer
        except MirrorFailed:
            raise
        except dropped as err:
            last_error = describe(err)
        except requests.RequestException as err:
            raise MirrorFailed(f"{url}: {describe(err)}") from None
    raise MirrorFailed(f"{url}: {last_error} (after {RESUME_ATTEMPTS} attempts){_kept(part)}")


def _other_version(
    resp,  # noqa: ANN001
    record: Transfer | None,
    start: int,
    held: int,
    part: Path,
    chunks: Iterator[bytes],
    url: str,
) -> tuple[str | None, bytes]:
    """Why a 206 piece is of another version of the file than the bytes in ``part`` (None: it is ours),
    and the bytes read from ``chunks`` past the overlap (``start`` to ``held``), which it consumes.

    A Content-Range that is not the piece asked for is not a version question but a broken server: refused.
    """
    span = _content_range(resp.headers.get("Content-Range"))
    length = resp.headers.get("Content-Length")
    if (
        record is None
        or span is None
        or span[0] != start
        or span[1] != span[2] - 1
        or (length is not None and length != str(span[1] - span[0] + 1))
    ):
        discard(part)
        raise MirrorFailed(
            f"{url} answered bytes={start}- with the wrong part "
            f"(Content-Range {resp.headers.get('Content-Range')!r})"
        )
    if span[2] != record.total:
        return f"now {span[2]} bytes, the partial file was started for {record.total}", b""
    if not record.same_version(resp.headers):  # the server ignored If-Range
        validators = f"ETag {resp.headers.get('ETag')!r}, Last-Modified {resp.headers.get('Last-Modified')!r}"
        return f"a piece of another version ({validators})", b""
    with open(part, "rb") as held_file:
        held_file.seek(start)
        expected = held_file.read()
    got = b""
    while len(got) < len(expected) and (block := next(chunks, b"")):
        got += block
    if len(got) < len(expected):
        raise ConnectionError(f"connection closed after {len(got)} of the {len(expected)} overlapping bytes")
    if got[: len(expected)] != expected:
        return f"bytes {start} to {held - 1} differ from the ones held, under the same ETag", b""
    return None, got[len(expected) :]


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
