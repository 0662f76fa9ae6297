"""Reading a user's small text file with a bound: a regular file, at most ``max_bytes``, one-line errors.

Shared by the JSON and YAML rules (:mod:`hmtir.io.json_file`, :mod:`hmtir.io.yaml_file`): a FIFO or a link to
``/dev/zero`` must not block or fill memory, and a file that grows after ``stat`` is still cut at the bound.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hmtir.errors import HmtirError


def read_bounded(path: str | os.PathLike[str], what: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes``; else one :class:`HmtirError` line
    "``what`` ``path``: problem"."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise HmtirError(f"{what} {path}: not a regular file")
        if info.st_size > max_bytes:
            raise HmtirError(f"{what} {path}: {info.st_size} bytes; the limit is {max_bytes} bytes")
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as err:
        raise HmtirError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if len(raw) > max_bytes:
        raise HmtirError(f"{what} {path}: larger than {max_bytes} bytes")
    return raw


def decode_utf8(raw: bytes, path: str | os.PathLike[str], what: str) -> str:
    """``raw`` (read from ``path``) as UTF-8 text; else one :class:`HmtirError` line naming the file."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HmtirError(f"{what} {path}: not UTF-8 text") from None
