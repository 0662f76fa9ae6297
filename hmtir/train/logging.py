"""Scalar logging for training runs (rank 0): an append-only CSV and, when available, TensorBoard events.

The CSV is the durable record (one row per logged step, columns fixed at creation); resuming truncates
rows past the resumed step so a resumed run's log reads as one uninterrupted curve.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text

SCALARS_FILE = "scalars.csv"
COLUMNS = ("step", "tag", "value")


@contextlib.contextmanager
def writing_run(out: Path) -> Iterator[None]:
    """A failed write into the run folder (read-only file system, disk full, no permission) ends the run in
    one line naming the folder, instead of a traceback; atomic writes leave no half file behind."""
    try:
        yield
    except OSError as err:
        raise HmtirError(f"cannot write the training run in {out}: {err.strerror or err}") from None


class ScalarLogger:
    """``log(step, {"train/loss": 0.1, ...})`` → rows ``step,tag,value`` in ``scalars.csv`` (+ TensorBoard)."""

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.path, self.out = out / SCALARS_FILE, out
        rows = self._kept_rows(resume_step) if resume_step is not None and self.path.is_file() else []
        with writing_run(out):  # rewritten whole, atomically: no stale rows past the resume point
            text = io.StringIO()
            csv.writer(text).writerows([COLUMNS, *rows])
            atomic_write_text(self.path, text.getvalue())
            self._fh = self.path.open("a", newline="")
        self._csv = csv.writer(self._fh)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(out / "tensorboard"), purge_step=resume_step)
            except Exception:  # tensorboard missing or broken: the CSV is the record anyway
                self._tb = None

    def _kept_rows(self, resume_step: int) -> list[list[str]]:
        with self.path.open(newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            return [
                row for row in reader if len(row) == 3 and row[0].isdigit() and int(row[0]) <= resume_step
            ]

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        with writing_run(self.out):
            for tag, value in scalars.items():
                value = float(value)
                self._csv.writerow([step, tag, repr(value)])
                if self._tb is not None and math.isfinite(value):
                    self._tb.add_scalar(tag, value, step)
            self._fh.flush()

    def close(self) -> None:
        with writing_run(self.out):
            self._fh.close()
            if self._tb is not None:
                self._tb.close()


def read_scalars(out: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) rows of one tag from a run folder's CSV."""
    with (out / SCALARS_FILE).open(newline="") as fh:
        return [(int(r["step"]), float(r["value"])) for r in csv.DictReader(fh) if r["tag"] == tag]
