"""Scalar logging for training runs (rank 0): an append-only CSV and, when available, TensorBoard events.

The CSV is the durable record (one row per logged step, columns fixed at creation); resuming truncates
rows past the resumed step so a resumed run's log reads as one uninterrupted curve.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

SCALARS_FILE = "scalars.csv"
COLUMNS = ("step", "tag", "value")


class ScalarLogger:
    """``log(step, {"train/loss": 0.1, ...})`` → rows ``step,tag,value`` in ``scalars.csv`` (+ TensorBoard)."""

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.path = out / SCALARS_FILE
        out.mkdir(parents=True, exist_ok=True)
        rows = self._kept_rows(resume_step) if resume_step is not None and self.path.is_file() else []
        with self.path.open("w", newline="") as fh:  # rewritten whole: no stale rows past the resume point
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
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
            return [row for row in reader if len(row) == 3 and int(row[0]) <= resume_step]

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        for tag, value in scalars.items():
            value = float(value)
            self._csv.writerow([step, tag, repr(value)])
            if self._tb is not None and math.isfinite(value):
                self._tb.add_scalar(tag, value, step)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_scalars(out: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) rows of one tag from a run folder's CSV."""
    with (out / SCALARS_FILE).open(newline="") as fh:
        return [(int(r["step"]), float(r["value"])) for r in csv.DictReader(fh) if r["tag"] == tag]
