"""The one way hmtir starts worker processes: a process pool that cannot deadlock and cannot outlive us.

``fork`` copies a parent whose OpenCV, OpenMP, torch or HTTP threads may hold a lock at that instant; the
child then waits forever for a thread that does not exist in it (seen: a worker blocked in
``cv2.setNumThreads(1)``). Workers here are started by ``spawn``: a fresh interpreter that imports what it
needs, on every platform alike. (``forkserver`` would save little, every worker imports numpy and OpenCV
anyway, and its workers are children of the server, which waits for them: they cannot watch us directly.)

A worker must not linger when its parent dies without cleaning up (``kill -9``): on Linux it asks the
kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread ends it
once the parent process is gone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

#: How often a worker checks that its parent is still alive (seconds).
PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def worker_context() -> BaseContext:
    """The start method of every hmtir worker process: ``spawn``, never ``fork``."""
    return multiprocessing.get_context("spawn")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the number now belongs to another user's process: ours is gone
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"  # killed but not yet reaped
    except OSError:
        return True  # no /proc (macOS): os.kill's answer stands


def _die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if not _alive(parent):  # it died before the request above took effect
        os._exit(1)

    def watch() -> None:
        while _alive(parent):
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="hmtir-parent-watchdog", daemon=True).start()


def single_threaded() -> None:
    """Worker initializer: each worker owns one core, so library thread pools would only oversubscribe it."""
    import cv2

    cv2.setNumThreads(1)


@contextlib.contextmanager
def process_pool(
    workers: int, initializer: Callable[..., Any] | None = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` processes started safely (see the module docstring).

    Callables and arguments sent to it must be importable/picklable (top-level functions, dataclasses), as
    for any non-fork pool. On an error or interruption pending work is cancelled before the pool closes.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=worker_context(),
        initializer=_bootstrap,
        initargs=(os.getpid(), initializer, initargs),
    )
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _bootstrap(parent: int, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    _die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)
