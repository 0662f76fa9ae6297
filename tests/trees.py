"""Snapshots of a whole folder, for "nothing was touched" and "the same files" assertions."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_digest(root: Path) -> str:
    """One sha256 over every path below ``root`` and every file's bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file's bytes by relative path, but ``dataset.json`` (the provenance of a synthesised tree)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "dataset.json"
    }
