"""``<dir>/hmtir.lock.json``: what was downloaded into a folder, from where, what it hashed to, and why that
hash can be trusted.

An entry's ``verified`` says how its sha256 was established: ``sha256`` (matched the checksum the registry
publishes), ``transfer`` (one complete, consistent transfer: the declared size arrived, and every resumed
piece carried the same ETag/Last-Modified), ``derived`` (made from a member of an archive verified by its
published checksum), ``unknown`` (written by hmtir before lock version 2). Those entries are *pinned*: a
later download of the same name must reproduce the hash, so a silently changed upstream file is caught.
``local`` (a file the user put there) and ``unverified`` (nothing proved the transfer complete) are kept
for the record but pin nothing. ``hmtir download --repair NAME`` replaces a wrong pinned entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text

LOCK_FILE = "hmtir.lock.json"
LOCK_VERSION = 2
PINNING = ("sha256", "transfer", "derived", "unknown")
VERIFICATIONS = (*PINNING, "local", "unverified")


@dataclass(frozen=True)
class LockEntry:
    source: str
    sha256: str
    size: int
    url: str
    recorded: str
    extracted_to: str | None = None
    verified: str = "unknown"  # entries from lock version 1 were pinned without saying why
    derived_from: str | None = None

    @property
    def pinned(self) -> bool:
        """Whether later downloads must reproduce this hash."""
        return self.verified in PINNING


class Lock:
    """The lock file of one download directory; every change is written atomically at once."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self.entries: dict[str, LockEntry] = {}
        if self.path.is_file():
            try:
                doc = json.loads(self.path.read_text())
                self.entries = {name: LockEntry(**entry) for name, entry in doc["files"].items()}
                bad = [n for n, e in self.entries.items() if e.verified not in VERIFICATIONS]
                if bad:
                    raise ValueError(f"entry '{bad[0]}' has an unknown verification")
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise HmtirError(
                    f"lock file {self.path} is corrupt ({err}); delete it to start over"
                ) from None

    def get(self, name: str) -> LockEntry | None:
        return self.entries.get(name)

    def record(
        self,
        name: str,
        source: str,
        sha256: str,
        size: int,
        url: str,
        *,
        verified: str,
        extracted_to: str | None = None,
        derived_from: str | None = None,
    ) -> LockEntry:
        if verified not in VERIFICATIONS:
            raise ValueError(f"unknown verification {verified!r}")
        entry = LockEntry(
            source=source,
            sha256=sha256,
            size=size,
            url=url,
            recorded=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extracted_to=extracted_to,
            verified=verified,
            derived_from=derived_from,
        )
        self.entries[name] = entry
        self.save()
        return entry

    def save(self) -> None:
        doc = {"version": LOCK_VERSION, "files": {k: asdict(v) for k, v in sorted(self.entries.items())}}
        atomic_write_text(self.path, json.dumps(doc, indent=2) + "\n")
