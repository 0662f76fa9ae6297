"""``<dir>/hmtir.lock.json``: what was downloaded into a folder, from where, and what it hashed to.

Files whose registry entry pins no sha256 get one recorded on first download (trust on first use);
any later download of the same name must reproduce it, so a silently changed upstream file is caught.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text

LOCK_FILE = "hmtir.lock.json"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    source: str
    sha256: str
    size: int
    url: str
    recorded: str
    extracted_to: str | None = None


class Lock:
    """The lock file of one download directory; every change is written atomically at once."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self.entries: dict[str, LockEntry] = {}
        if self.path.is_file():
            try:
                doc = json.loads(self.path.read_text())
                self.entries = {name: LockEntry(**entry) for name, entry in doc["files"].items()}
            except (ValueError, KeyError, TypeError) as err:
                raise HmtirError(
                    f"lock file {self.path} is corrupt ({err}); delete it to start over"
                ) from None

    def get(self, name: str) -> LockEntry | None:
        return self.entries.get(name)

    def record(
        self, name: str, source: str, sha256: str, size: int, url: str, extracted_to: str | None = None
    ) -> LockEntry:
        entry = LockEntry(
            source=source,
            sha256=sha256,
            size=size,
            url=url,
            recorded=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extracted_to=extracted_to,
        )
        self.entries[name] = entry
        self.save()
        return entry

    def save(self) -> None:
        doc = {"version": LOCK_VERSION, "files": {k: asdict(v) for k, v in sorted(self.entries.items())}}
        atomic_write_text(self.path, json.dumps(doc, indent=2) + "\n")
