"""Shared fixtures and the CI skip policy.

``shared_dir`` is the developers' ``../shared`` folder beside *this checkout* (found from the tests' own
path, so it works whether hmtir is installed editable or not); tests using it skip without it.

Under ``HMTIR_CI=1`` (set by ``.ci/run``) a skipped test is a failure, because CI is where everything must
run: only skips whose reason starts with ``machine:`` (no CUDA device, running as root, a case-sensitive
file system) are allowed, since they depend on the machine, not on the checkout or the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
STRICT_ENV = "HMTIR_CI"
MACHINE_PREFIX = "machine:"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def shared_reference(shared_dir: Path) -> Callable[[str], Path]:
    """``shared_reference(name)``: the folder ``../shared/reference/<name>`` (facts and golden outputs of an
    official release); the test skips without it."""

    def folder(name: str) -> Path:
        path = shared_dir / "reference" / name
        if not path.is_dir():
            pytest.skip(f"../shared/reference/{name} is absent")
        return path

    return folder


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Tiny tensors on a shared 2-core box: extra threads only spin (measured 8 s vs 0.1 s per SPT call)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def hit_uav_dir(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "hit-uav"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real data home or weights from a test."""
    home = tmp_path_factory.mktemp("hmtir-home")
    monkeypatch.setenv("HMTIR_HOME", str(home))
    monkeypatch.delenv("HMTIR_WEIGHTS", raising=False)


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get(STRICT_ENV) and report.skipped and not hasattr(report, "wasxfail"):
        reason = skip_reason(report).removeprefix("Skipped: ")
        if not reason.startswith(MACHINE_PREFIX):
            report.outcome = "failed"
            report.longrepr = f"skipped under {STRICT_ENV}=1, but CI must run this test: {reason}"
