"""Pinned images for golden tests: an exact hash, plus a coarse signature that survives other CPUs.

numpy and OpenCV pick SIMD kernels at run time, so float results differ in the last bit between CPUs
(measured here by disabling dispatch: AVX2 vs AVX-512 renders differ by ≤1.2e-7 at up to 8,400 of
327,680 pixels of a scene; an SSE-only run moves ≤5 of 327,680 8-bit levels and ≤5 of 1,920 16-bit
synthesis levels, each by one level, never an 8-bit synthesised image). So a pin holds both:

* ``sha256`` of the exact data — must match on the CPU that made the fixture, or wherever
  ``HMTIR_GOLDEN_EXACT=1`` is set (a refactor that must be byte-identical sets it);
* ``blocks``: the integer-level sums of a 4×4 grid of blocks. Where the hash differs, the total
  absolute change of these sums may be at most ``TOLERANCE`` levels (a few last-level roundings);
  any real change of the output (a parameter, a shape, a stroke) moves them by hundreds or more.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from typing import Any

import numpy as np

GRID = 4
TOLERANCE = 16  # levels, summed over the grid: 3x the largest cross-CPU change measured (5)


def levels(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """A [0, 1] float image as the integer levels it is stored with at ``bit_depth``."""
    return np.rint(image.astype(np.float64) * (2**bit_depth - 1)).astype(np.int64)


def pin(exact: np.ndarray, ints: np.ndarray) -> dict[str, Any]:
    """The pin of an image: sha256 of ``exact`` (dtype, shape and bytes) and the block sums of ``ints``."""
    data = np.ascontiguousarray(exact)
    header = f"{data.dtype.str}:{'x'.join(map(str, data.shape))}:".encode()
    blocks = [
        int(cell.sum())
        for rows in np.array_split(ints, GRID, axis=0)
        for cell in np.array_split(rows, GRID, 1)
    ]
    return {"sha256": hashlib.sha256(header + data.tobytes()).hexdigest(), "blocks": blocks}


def mismatches(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> list[str]:
    """Keys whose image is not the pinned one (warns about keys accepted only within the tolerance)."""
    exact = os.environ.get("HMTIR_GOLDEN_EXACT") == "1"
    wrong, rounded = [], []
    for key, pinned in want.items():
        seen = got.get(key)
        if seen is None:
            wrong.append(f"{key}: missing")
            continue
        if seen["sha256"] == pinned["sha256"]:
            continue
        change = sum(abs(a - b) for a, b in zip(seen["blocks"], pinned["blocks"]))
        if exact or len(seen["blocks"]) != len(pinned["blocks"]) or change > TOLERANCE:
            wrong.append(f"{key}: block sums moved by {change} levels")
        else:
            rounded.append(f"{key} ({change})")
    wrong += [f"{key}: not pinned" for key in got.keys() - want.keys()]
    if rounded and not wrong:
        warnings.warn(
            f"accepted within {TOLERANCE} levels (last-bit rounding of this CPU): {', '.join(rounded)}",
            stacklevel=2,
        )
    return wrong
