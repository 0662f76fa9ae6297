"""Shared fixtures. ``shared_dir`` points at the developers' ../shared folder; tests using it skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmtir.paths import shared_dir as _shared_dir


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if path is None:
        pytest.skip("../shared is absent")
    return path


@pytest.fixture(scope="session")
def hit_uav_dir(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "hit-uav"
    if not path.is_dir():
        pytest.skip("../shared/data/hit-uav is absent")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real data home or weights from a test."""
    home = tmp_path_factory.mktemp("hmtir-home")
    monkeypatch.setenv("HMTIR_HOME", str(home))
    monkeypatch.delenv("HMTIR_WEIGHTS", raising=False)
