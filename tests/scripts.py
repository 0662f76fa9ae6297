"""Benchmark scripts (``benchmarks/*.py``, not a package) imported by tests as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as module ``hmtir_<name>``, registered in ``sys.modules`` (dataclasses need it)."""
    spec = importlib.util.spec_from_file_location(f"hmtir_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
