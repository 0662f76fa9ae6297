"""Terminal output that also reads well in a log file (SLURM, nohup, CI).

On a terminal: rich progress bars and tables fitted to the window. Without one: progress becomes a
plain line every few seconds (:envvar:`HMTIR_PROGRESS_SECONDS`, default 10; and at the end), and tables
are printed at full width instead of being squeezed to rich's 80-column default, so a log says what a
screen would have shown. Either way, once an error is raised the progress says nothing more (a bar is
cleared), so the error's one line is the last word.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

LOG_WIDTH = 200  # columns for tables written to a file
LOG_EVERY_SECONDS = 10.0
EVERY_ENV = "HMTIR_PROGRESS_SECONDS"  # seconds between progress lines in a log
UNITS = ("items", "bytes")


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def console(stderr: bool = False) -> Any:
    """A rich Console: the terminal's width on a terminal, :data:`LOG_WIDTH` columns in a log."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream) or os.environ.get("COLUMNS", "").isdigit():  # a terminal, or a width asked for
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=LOG_WIDTH)


def _every_from_env() -> float:
    value = os.environ.get(EVERY_ENV, "")
    try:
        seconds = float(value)
    except ValueError:
        return LOG_EVERY_SECONDS
    return seconds if seconds >= 0 else LOG_EVERY_SECONDS


class _LineProgress:
    """The log-file form of a progress bar: ``label: done/total (pct), ETA, rate`` every few seconds."""

    def __init__(
        self, stream: IO[str], every: float, unit: str = "items", rate_unit: str | None = None
    ) -> None:
        self.stream, self.every, self.unit, self.rate_unit = stream, every, unit, rate_unit
        self.tasks: dict[int, dict[str, Any]] = {}

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **_: Any) -> int:
        task = len(self.tasks)
        now = time.monotonic()
        self.tasks[task] = {
            "label": description,
            "total": total,
            "done": completed,
            "first": completed,  # done before this run (resumed work): not part of the rate
            "start": now,
            "shown": now,
        }
        return task

    def reset(self, task: int, *, total: float | None = None, completed: float = 0, **_: Any) -> None:
        """Start a task over (a transfer restarted from ``completed``), as rich's ``Progress.reset``."""
        state = self.tasks[task]
        state.update(total=total, done=completed, first=completed, start=time.monotonic())

    def update(
        self,
        task: int,
        *,
        description: str | None = None,
        total: float | None = None,
        advance: float = 0,
        completed: float | None = None,
        **_: Any,
    ) -> None:
        state = self.tasks[task]
        if description is not None:
            state["label"] = description
        if total is not None:
            state["total"] = total
        state["done"] = (state["done"] if completed is None else completed) + advance
        now = time.monotonic()
        if now - state["shown"] >= self.every:
            self._show(state, now)

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def _show(self, state: dict[str, Any], now: float) -> None:
        state["shown"], state["printed"] = now, state["done"]
        done, total = state["done"], state["total"]
        rate = (done - state["first"]) / max(now - state["start"], 1e-9)
        text = f"{state['label']}: {self._amount(done)}"
        if total:
            text += f"/{self._amount(total)} ({100 * done / total:.0f}%)"
            if rate > 0 and done < total:
                text += f", ETA {_duration((total - done) / rate)}"
        text += f", {self._amount(rate, rate=True)}{' ' + self.rate_unit if self.rate_unit else ''}/s"
        print(text, file=self.stream, flush=True)

    def _amount(self, value: float, rate: bool = False) -> str:
        if self.unit == "bytes":
            return f"{value / 1e6:.1f} MB"
        return f"{value:.3g}" if rate else f"{value:.0f}"

    def close(self) -> None:
        now = time.monotonic()
        for state in self.tasks.values():
            if state.get("printed") != state["done"]:  # the last word on each task, said once
                self._show(state, now)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def _item_rate(rate_unit: str) -> Any:
    """A rich column showing a task's items per second (``3.4 frames/s``); rich has one only for bytes."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class ItemRate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.speed
            return Text("" if speed is None else f"{speed:.2f} {rate_unit}/s", style="progress.data.speed")

    return ItemRate()


@contextmanager
def progress(
    enabled: bool = True,
    label: str = "",
    every: float | None = None,
    unit: str = "items",
    rate_unit: str | None = None,
) -> Iterator[Any]:
    """Progress with rich's ``add_task/update/advance/reset`` API: a bar on a terminal, lines in a log.

    ``every``: seconds between log lines (default :envvar:`HMTIR_PROGRESS_SECONDS`, else 10); ``unit``:
    ``items`` (counts) or ``bytes`` (transfers: sizes and speeds in MB); ``rate_unit`` (e.g. ``frames``):
    items also show their rate, ``12.3 frames/s``.
    """
    if unit not in UNITS:
        raise ValueError(f"progress unit {unit!r} is not one of {', '.join(UNITS)}")
    if not enabled:
        from rich.progress import Progress

        with Progress(disable=True) as quiet:
            yield quiet
        return
    if is_terminal(sys.stderr):
        from rich import progress as rp

        amount = (
            (rp.DownloadColumn(), rp.TransferSpeedColumn())
            if unit == "bytes"
            else (rp.MofNCompleteColumn(), rp.TimeRemainingColumn())
        )
        if rate_unit and unit == "items":
            amount = (*amount, _item_rate(rate_unit))
        bar = rp.Progress(
            rp.TextColumn("[bold]{task.description}"), rp.BarColumn(), *amount, console=console(stderr=True)
        )
        with bar:
            try:
                yield bar
            except BaseException:
                bar.live.transient = True  # the bar is cleared: the error's own line is the last word
                raise
        return
    lines = _LineProgress(sys.stderr, _every_from_env() if every is None else every, unit, rate_unit)
    yield lines  # on an error nothing more is printed: the error's own line is the last word
    lines.close()
