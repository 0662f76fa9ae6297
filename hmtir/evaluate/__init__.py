"""Evaluation engine: ``hmtir.evaluate.evaluate(method, data, ...)`` → :class:`EvaluationResult`.

``hmtir.evaluate`` is both this package and the top-level API function ``hmtir.evaluate(...)``: once the
package is imported Python binds the name to the module, so the module itself is made callable and
forwards to :func:`hmtir.evaluate.engine.evaluate`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from hmtir.evaluate.engine import EvaluationResult, evaluate


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> EvaluationResult:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["EvaluationResult", "evaluate"]
