"""Read-ahead and write-behind around a model: the wall time per frame approaches the model's own.

:func:`pipeline` runs three stages at once, in order: a reader thread pulls items from ``source``
(decoding a frame, reading a file), the calling thread runs ``work`` on each (the model: torch releases
the GIL while it computes), and a writer thread hands each result to ``sink`` (encoding, writing). The
queues between them hold at most ``depth`` items, so memory stays bounded however long the clip; the
order of items is kept (one reader, one writer, FIFO queues).

The first error in any stage stops all three and is raised in the calling thread (a one-line
:class:`~hmtir.errors.HmtirError` stays one line); the threads are joined before it returns or raises,
so the source and the sink are never used after :func:`pipeline` is over.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_DEPTH = 4
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full or empty
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` unless the pipeline stops first; False when it stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            if stop.is_set():
                return _END


def pipeline(
    source: Iterable[T],
    work: Callable[[T], U],
    sink: Callable[[U], None],
    depth: int = DEFAULT_DEPTH,
) -> int:
    """Run ``sink(work(item))`` for every item of ``source``, reading ahead and writing behind (module
    docstring); returns how many items reached the sink."""
    if depth < 1:
        raise ValueError("pipeline depth must be at least 1")
    stop = threading.Event()
    inbox: queue.Queue[Any] = queue.Queue(maxsize=depth)
    outbox: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failures: list[BaseException] = []
    written = [0]

    def read() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not _put(inbox, item, stop):
                    return
            _put(inbox, _END, stop)
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            _put(inbox, _Failed(error), stop)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator (a decoder) is finished in the thread that ran it
                close()

    def write() -> None:
        try:
            while True:
                item = _get(outbox, stop)
                if item is _END:
                    return
                sink(item)
                written[0] += 1
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            failures.append(error)
            stop.set()

    reader = threading.Thread(target=read, name="hmtir-read-ahead", daemon=True)
    writer = threading.Thread(target=write, name="hmtir-write-behind", daemon=True)
    reader.start()
    writer.start()
    try:
        while True:
            item = _get(inbox, stop)
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            result = work(item)
            if not _put(outbox, result, stop):
                break  # the writer failed: its error is raised below
        _put(outbox, _END, stop)
        writer.join()
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        reader.join()
        writer.join()
    if failures:
        raise failures[0]
    return written[0]
