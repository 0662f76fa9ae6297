"""Temporal stability of a clip: how much each frame differs from the one before it.

Flicker is a property of a sequence, not of one frame against its reference, so it is not a registered
per-frame metric (:mod:`hmtir.metrics.catalog`): it is accumulated frame by frame while a clip streams.
The statistic is the mean absolute frame-to-frame difference (MAD) on display [0, 1] values::

    MAD(x) = mean over t ≥ 1 and pixels of |x[t] − x[t−1]|

and a restoration's **stability ratio** is MAD(output) / MAD(reference): the clean clip when there is one,
else the input. 1 means it moves exactly as much as the reference; above 1 it adds flicker (a prompt that
switches, an AGC that pumps, noise redrawn per frame); below 1 it removes motion or noise.
"""

from __future__ import annotations

import numpy as np


class FrameDifference:
    """Running MAD of a sequence fed one frame at a time (float64 sums; memory: one frame)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._total = 0.0
        self.pairs = 0

    def add(self, frame: np.ndarray) -> None:
        current = np.asarray(frame, dtype=np.float64)
        if self._previous is not None:
            if current.shape != self._previous.shape:
                raise ValueError(f"frame of shape {current.shape} after one of {self._previous.shape}")
            self._total += float(np.abs(current - self._previous).mean())
            self.pairs += 1
        self._previous = current

    @property
    def value(self) -> float | None:
        """The mean absolute frame-to-frame difference, None for fewer than two frames."""
        return self._total / self.pairs if self.pairs else None


def mean_frame_difference(frames: np.ndarray) -> float | None:
    """MAD of a T×H×W sequence (None for fewer than two frames)."""
    meter = FrameDifference()
    for frame in np.asarray(frames):
        meter.add(frame)
    return meter.value


def stability_ratio(output_mad: float | None, reference_mad: float | None) -> float | None:
    """MAD(output) / MAD(reference); None when either is unknown or the reference does not move at all."""
    if output_mad is None or reference_mad is None or reference_mad <= 0:
        return None
    return output_mad / reference_mad
