"""Where hmtir keeps data and weights; every location can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Root for downloaded datasets and weights: ``$HMTIR_HOME`` or ``~/.cache/hmtir``."""
    return Path(os.environ.get("HMTIR_HOME") or Path.home() / ".cache" / "hmtir").expanduser()


def weights_dir() -> Path:
    """Directory searched for model and metric weights: ``$HMTIR_WEIGHTS`` or ``<data home>/weights``."""
    return Path(os.environ.get("HMTIR_WEIGHTS") or data_home() / "weights").expanduser()


def dataset_dir(name: str) -> Path:
    """Default location of a downloaded dataset, e.g. ``<data home>/datasets/hm-tir``."""
    return data_home() / "datasets" / name


def shared_dir() -> Path | None:
    """The developers' ``../shared`` folder beside the checkout, if present (tests and calibration only)."""
    candidate = Path(__file__).resolve().parents[2] / "shared"
    return candidate if candidate.is_dir() else None
