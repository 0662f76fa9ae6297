"""Finding and checking weight files without ever reaching the network.

Lookup order: an explicit path, ``$HMTIR_WEIGHTS``, ``<data home>/weights``, then any extra folders the
caller names (e.g. pyiqa's cache). A missing file is a one-line error that names the file and the
``hmtir download`` command (or folder) that provides it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from hmtir.errors import HmtirError
from hmtir.paths import weights_dir
from hmtir.registry import WeightsSpec


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def resolve_weights(
    spec: WeightsSpec,
    explicit: str | Path | None = None,
    extra_dirs: Iterable[str | Path] = (),
    verify: bool = True,
) -> Path:
    """Return the local path of ``spec``'s file, checking its sha256 when the spec pins one."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise HmtirError(f"weights file not found: {path}")
        return path
    folders = [weights_dir(), *(Path(d).expanduser() for d in extra_dirs)]
    for folder in folders:
        path = folder / spec.filename
        if path.is_file():
            if verify and spec.sha256 and sha256_file(path) != spec.sha256:
                raise HmtirError(
                    f"weights file {path} has the wrong sha256 (expected {spec.sha256}); delete it and download again"
                )
            return path
    how = (
        f"run `hmtir download {spec.source}`"
        if spec.source
        else f"get it from {spec.url}"
        if spec.url
        else "obtain it"
    )
    raise HmtirError(
        f"missing weights {spec.filename}: {how}, or put the file in {folders[0]} (searched: {', '.join(map(str, folders))})"
    )
