"""Terminal output that also reads well in a log file (SLURM, nohup, CI).

On a terminal: rich progress bars and tables fitted to the window. Without one: progress becomes a
plain line every few seconds (and at the end), and tables are printed at full width instead of being
squeezed to rich's 80-column default, so a log says what a screen would have shown.
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


class _LineProgress:
    """The log-file form of a progress bar: ``label: done/total (pct) rate ETA`` every few seconds."""

    def __init__(self, stream: IO[str], every: float) -> None:
        self.stream, self.every = stream, every
        self.tasks: dict[int, dict[str, Any]] = {}

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **_: Any) -> int:
        task = len(self.tasks)
        now = time.monotonic()
        self.tasks[task] = {
            "label": description,
            "total": total,
            "done": completed,
            "start": now,
            "shown": now,
        }
        return task

    def update(
        self,
        task: int,
        *,
        description: str | None = None,
        total: float | None = None,
        advance: float = 0,
        **_: Any,
    ) -> None:
        state = self.tasks[task]
        if description is not None:
            state["label"] = description
        if total is not None:
            state["total"] = total
        state["done"] += advance
        now = time.monotonic()
        if now - state["shown"] >= self.every:
            self._show(state, now)

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def _show(self, state: dict[str, Any], now: float) -> None:
        state["shown"] = now
        done, total = state["done"], state["total"]
        rate = done / max(now - state["start"], 1e-9)
        text = f"{state['label']}: {done:.0f}"
        if total:
            text += f"/{total:.0f} ({100 * done / total:.0f}%)"
            if rate > 0 and done < total:
                text += f", ETA {_duration((total - done) / rate)}"
        text += f", {rate:.3g}/s"
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        now = time.monotonic()
        for state in self.tasks.values():
            self._show(state, now)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


@contextmanager
def progress(enabled: bool = True, label: str = "", every: float = LOG_EVERY_SECONDS) -> Iterator[Any]:
    """A progress object with rich's ``add_task/update/advance`` API: a bar on a terminal, lines in a log."""
    if not enabled:
        from rich.progress import Progress

        with Progress(disable=True) as quiet:
            yield quiet
        return
    if is_terminal(sys.stderr):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
        )
        with bar:
            yield bar
        return
    lines = _LineProgress(sys.stderr, every)
    yield lines  # on an error nothing more is printed: the error's own line is the last word
    lines.close()
