"""Training of PPFN/SPT and plain backbones: ``hmtir train`` or ``torchrun -m hmtir.train``.

Heavy modules (torch) load only when :func:`train` is called, so importing the package stays cheap.
"""

from __future__ import annotations

from typing import Any

from hmtir.train.config import TrainConfig, load_config


def train(*args: Any, **kwargs: Any) -> Any:
    """See :func:`hmtir.train.loop.train`."""
    from hmtir.train.loop import train as run

    return run(*args, **kwargs)


__all__ = ["TrainConfig", "load_config", "train"]
