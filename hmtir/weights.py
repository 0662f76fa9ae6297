"""Finding and checking weight files without ever reaching the network.

Lookup order: an explicit path, ``$HMTIR_WEIGHTS``, ``<data home>/weights``, then any extra folders the
caller names (e.g. pyiqa's cache). A missing file is a one-line :class:`MissingWeights` error that names
the file and the ``hmtir download`` command (or folder) that provides it; :func:`build_all` turns the
missing files of several factories (``--metrics niqe,nima,musiq``) into one error naming every file and
one command, so a user fixes them all at once instead of one per run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from hmtir.errors import HmtirError
from hmtir.paths import weights_dir
from hmtir.registry import WeightsSpec

T = TypeVar("T")
R = TypeVar("R")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


class MissingWeights(HmtirError):
    """Weight files absent from every searched folder; ``missing`` holds (spec, folders searched) pairs."""

    def __init__(self, missing: Sequence[tuple[WeightsSpec, Sequence[Path]]]) -> None:
        seen: dict[str, tuple[WeightsSpec, tuple[Path, ...]]] = {}
        for spec, folders in missing:
            seen.setdefault(spec.filename, (spec, tuple(folders)))
        self.missing = list(seen.values())
        super().__init__(self._message())

    def _message(self) -> str:
        specs = [spec for spec, _ in self.missing]
        folders = _unique(folder for _, searched in self.missing for folder in searched)
        one = len(specs) == 1
        sources = _unique(spec.source for spec in specs if spec.source)
        how = [f"run `hmtir download {' '.join(sources)}`"] if sources else []
        for spec in specs:
            if not spec.source:
                what = "it" if one else spec.filename
                how.append(f"get {what} from {spec.url}" if spec.url else f"obtain {what}")
        names = ", ".join(spec.filename for spec in specs)
        return (
            f"missing weights {names}: {'; '.join(how)}, or put the file{'' if one else 's'} in {folders[0]} "
            f"(searched: {', '.join(map(str, folders))})"
        )


def build_all(items: Iterable[T], build: Callable[[T], R]) -> list[R]:
    """``[build(item) for item in items]``, but the missing weights of every item are raised together."""
    built: list[R] = []
    missing: list[tuple[WeightsSpec, Sequence[Path]]] = []
    for item in items:
        try:
            built.append(build(item))
        except MissingWeights as err:
            missing.extend(err.missing)
    if missing:
        raise MissingWeights(missing)
    return built


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
    folders = _unique([weights_dir(), *(Path(d).expanduser() for d in extra_dirs)])
    for folder in folders:
        path = folder / spec.filename
        if path.is_file():
            if verify and spec.sha256 and sha256_file(path) != spec.sha256:
                raise HmtirError(
                    f"weights file {path} has the wrong sha256 (expected {spec.sha256}); delete it and download again"
                )
            return path
    raise MissingWeights([(spec, folders)])
