"""Where networks run and how big they are: one device rule and one parameter count for every layer.

``resolve_device`` is strict: a GPU that was asked for and is missing is an error, never a silent CPU
fallback, so a result file never claims a device it did not use. Under ``torchrun`` (``LOCAL_RANK`` set),
a bare ``cuda`` means this process's own GPU.
"""

from __future__ import annotations

import os
from typing import Any

from hmtir.errors import HmtirError

DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def resolve_device(device: Any = "auto") -> str:
    """``auto``/``cpu``/``cuda``/``cuda:N`` (text or a ``torch.device``) → a concrete device string, checked
    against what is present. The message names ``device`` so it reads right from the CLI and the API."""
    import torch

    if not isinstance(device, (str, torch.device)):
        raise HmtirError(f"device: expected text ({DEVICE_HELP}), got {type(device).__name__}")
    name = str(device).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise HmtirError(f"device {device} requested but CUDA is not available; use device cpu or auto")
        if name == "cuda":
            local_rank = os.environ.get("LOCAL_RANK")
            return f"cuda:{int(local_rank)}" if local_rank is not None else "cuda"
        index = name.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise HmtirError(f"device {device}: no such GPU (this machine has {torch.cuda.device_count()})")
        return name
    raise HmtirError(f"unknown device '{device}' (use {DEVICE_HELP})")


def count_parameters(obj: Any) -> int:
    """Parameters of a network, or of every network a method holds (directly or one attribute deep).

    Shared parameters are counted once; a classical method holding no network has 0.
    """
    import torch

    modules: list[torch.nn.Module] = []
    if isinstance(obj, torch.nn.Module):
        modules.append(obj)
    else:
        for value in vars(obj).values():
            if isinstance(value, torch.nn.Module):
                modules.append(value)
            elif hasattr(value, "__dict__") and not isinstance(value, type):
                modules.extend(v for v in vars(value).values() if isinstance(v, torch.nn.Module))
    seen: set[int] = set()
    total = 0
    for module in modules:
        for param in module.parameters():
            if id(param) not in seen:
                seen.add(id(param))
                total += param.numel()
    return total
