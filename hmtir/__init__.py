"""hmtir: the toolkit for benchmarking thermal-infrared image enhancement.

The public API is re-exported lazily so that ``import hmtir`` is cheap and never imports torch:
``hmtir.synthesize(...)``, ``hmtir.evaluate(...)``, ``hmtir.load_method("ppfn")``, ``hmtir.read_image``…
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "read_image": "hmtir.io.image",
    "write_image": "hmtir.io.image",
    "read_raw": "hmtir.io.radiometric",
    "synthesize": "hmtir.degrade.synthesize",
    "load_preset": "hmtir.degrade.presets",
    "evaluate": "hmtir.evaluation",
    "load_results": "hmtir.evaluation",
    "load_method": "hmtir.methods",
    "create_metric": "hmtir.metrics",
    "create_model": "hmtir.models",
    "make_scenes": "hmtir.data.scenes",
    "download": "hmtir.data.download",
    "verify": "hmtir.data.verify",
    "enhance_paths": "hmtir.enhance",
    "load_estimator": "hmtir.estimate",
    "restore_auto": "hmtir.estimate",
    "TrainFrames": "hmtir.data.datasets",
    "TestSubset": "hmtir.data.datasets",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hmtir' has no attribute '{name}'")
