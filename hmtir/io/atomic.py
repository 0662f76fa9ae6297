"""Atomic file creation: write to a temporary sibling, then rename, so no reader ever sees half a file.

Temporary names are built from the target's name, so they are kept within ``NAME_MAX`` (255 bytes) by
:func:`temp_prefix` and :func:`sibling_name`: a valid 250-byte target name must not fail at the temporary
step, after the work is done. Every writer that names a temporary file or folder after its target uses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hmtir.io.safety import MAX_NAME_BYTES

# mkstemp creates files 0600; finished files get the permissions a plain open() would give them.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
_RANDOM_CHARS = 8  # what tempfile.mkstemp/mkdtemp put between prefix and suffix
_MAX_EXT_BYTES = 32  # a longer "extension" names no format a writer could sniff; it is left off the temp name
_HASH_CHARS = 8


def _cut(text: str, size: int) -> str:
    """The longest start of ``text`` (whole characters) that is at most ``size`` UTF-8 bytes."""
    return text.encode("utf-8")[: max(size, 0)].decode("utf-8", "ignore")


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def temp_prefix(name: str, tag: str = "", suffix: str = "") -> str:
    """``.<name>.<tag>``, a ``mkstemp``/``mkdtemp`` prefix for a temporary sibling of ``name``.

    ``name`` is shortened (whole characters) so that prefix + the random part + ``suffix`` fits in
    ``NAME_MAX``; the leading dot keeps it hidden, and it is unique through the random part.
    """
    room = MAX_NAME_BYTES - 2 - _nbytes(tag) - _RANDOM_CHARS - _nbytes(suffix)
    if room < 1:
        raise ValueError(
            f"temporary name tag {tag!r} and suffix {suffix!r} leave no room in {MAX_NAME_BYTES} bytes"
        )
    return f".{_cut(name, room)}.{tag}"


def sibling_name(name: str, suffix: str) -> str:
    """``name + suffix`` (a fixed companion such as ``x.part``) when it fits in ``NAME_MAX``.

    Otherwise ``name`` is cut and a hash of the whole name kept, so two long names that share a start
    still get different companions, and the same name always gets the same one (a resume finds it).
    """
    if _nbytes(name) + _nbytes(suffix) <= MAX_NAME_BYTES:
        return name + suffix
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    room = MAX_NAME_BYTES - _nbytes(suffix) - 1 - _HASH_CHARS
    return f"{_cut(name, room)}~{digest}{suffix}"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success it replaces ``target``, on error it is removed.

    The temporary name keeps ``target``'s extension (or ``suffix``) so format-sniffing writers such as
    OpenCV still pick the right encoder, and stays within ``NAME_MAX`` whatever the target's name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix if suffix is not None else target.suffix
    tail = f".part{ext if _nbytes(ext) <= _MAX_EXT_BYTES else ''}"
    fd, tmp_name = tempfile.mkstemp(
        prefix=temp_prefix(target.name, suffix=tail), suffix=tail, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
