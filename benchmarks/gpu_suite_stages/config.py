"""Sizes of a suite run: ``FULL`` for the GPU, ``QUICK`` for a CPU smoke run (CI, < 60 s).

``Config`` is keyword-only, so a preset names what each number means and a new field cannot shift the
others; the two presets are one table, side by side, so a new field is one line with both values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Config:
    """Every size a section reads; sections take nothing else from the command line but ``--quick``."""

    model_overrides: dict[str, Any]
    """``create_model("ppfn_restormer", **model_overrides)``; empty = the released architecture (and the
    official weights when present)."""
    infer_size: tuple[int, int]
    """(H, W) of the inference inputs, also of the metric images."""
    infer_inputs: int
    """How many distinct inputs each inference lever is timed on and checked against the reference."""
    repeats: int
    """Timed calls per inference/degradation row (the median is reported; metrics use half)."""
    train_batch: int
    """Frames per SPT training step."""
    train_size: int
    """Side of the square training crops."""
    train_repeats: int
    """Timed training steps per row."""
    degrade_size: tuple[int, int]
    """(H, W) of the frames the degradation cascade is timed on."""
    degrade_batches: tuple[int, ...]
    """Batch sizes of the degradation rows, one row each."""
    metric_batch: int
    """Images per PSNR/SSIM call."""
    metric_images: int
    """Images scored per timed metrics call (``metric_images // metric_batch`` batches)."""
    eval_frames: int
    """Procedural scenes synthesized into the five subsets for the ``evaluate`` section."""
    eval_size: tuple[int, int]
    """(H, W) of those scenes."""
    eval_batch: int
    """``hmtir.evaluate`` batch size."""
    bank_map: int = 128
    """Side of the degradation prompt maps (the release uses 128)."""


TINY_MODEL: dict[str, Any] = {
    "dim": 8,
    "num_blocks": [1, 1, 1, 1],
    "num_refinement_blocks": 1,
    "heads": [1, 1, 2, 2],
    "prompt": {"dim": 16},
}

# One row per field, the two presets side by side: (FULL on the GPU, QUICK on the CPU).
_PRESETS: dict[str, tuple[Any, Any]] = {
    "model_overrides": ({}, TINY_MODEL),
    "infer_size": ((512, 640), (64, 80)),
    "infer_inputs": (4, 2),
    "repeats": (10, 2),
    "train_batch": (4, 2),
    "train_size": (256, 32),
    "train_repeats": (5, 2),
    "degrade_size": ((512, 640), (64, 80)),
    "degrade_batches": ((16, 64, 256), (2, 4, 8)),
    "metric_batch": (32, 4),
    "metric_images": (256, 8),
    "eval_frames": (300, 8),
    "eval_size": ((512, 640), (96, 128)),
    "eval_batch": (8, 4),
    "bank_map": (128, 32),
}
FULL = Config(**{name: full for name, (full, _) in _PRESETS.items()})
QUICK = Config(**{name: quick for name, (_, quick) in _PRESETS.items()})
