"""What a result file records about the code and machine that produced it."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import hmtir


def git_commit(start: Path | None = None) -> str | None:
    """HEAD of the git checkout holding the hmtir source, or None (installed wheel, no git)."""
    folder = start or Path(hmtir.__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None


def environment(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "hmtir_version": hmtir.__version__,
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "torch_version": torch.__version__,
        "device": device,
    }
    if device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return info
