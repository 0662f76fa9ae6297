"""Fixtures shared by the hostile tests: two small source frames and a genuine manifest to edit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hmtir.degrade.synthesize import synthesize
from hmtir.io.image import write_image


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(folder / name, rng.random((24, 32)).astype(np.float32), 8)
    return folder


@pytest.fixture()
def manifest(source: Path, tmp_path: Path) -> Path:
    """A genuine manifest (hard preset) copied outside any output folder, for editing."""
    synthesize(source, tmp_path / "ref", presets=["hard"], progress=False)
    copy = tmp_path / "shared" / "manifest.jsonl"
    copy.parent.mkdir()
    copy.write_text((tmp_path / "ref" / "meta" / "manifest.jsonl").read_text())
    return copy
