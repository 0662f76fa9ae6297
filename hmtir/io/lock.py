"""An advisory lock on a folder, so two processes never write the same results at once.

The lock is held on an open file for as long as the work runs (``fcntl.flock`` on POSIX, ``msvcrt`` on
Windows), so it is released by the kernel when the process ends, however it ends: a crashed run never
leaves a stale lock behind. The file holds the owner's pid for the error message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from hmtir.errors import HmtirError


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` or refuse at once (one line naming ``what`` and the holder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise HmtirError(
                f"another hmtir process (pid {holder}) is writing {what}; wait for it to finish or choose another --out"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
