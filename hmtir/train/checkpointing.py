"""Training checkpoints: the model format of :mod:`hmtir.models.checkpoint` plus everything needed to resume.

``out/checkpoints/last.pt`` is an ordinary hmtir model checkpoint (``hmtir evaluate --weights`` and
``hmtir enhance`` load it) that also carries ``optimizer``, ``scheduler``, ``rng`` and ``step``. RNG
states are stored as tensors and plain containers so the file loads with ``weights_only=True``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmtir.errors import HmtirError
from hmtir.models.checkpoint import read_checkpoint, save_checkpoint
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank

TRAIN_STATE_FORMAT = "hmtir-train/1"
CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"


def capture_rng() -> dict[str, Any]:
    """python, numpy, torch CPU and every CUDA generator, as weights_only-safe values."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_adam_state(optimizer: torch.optim.Optimizer) -> None:
    """Adam's ``load_state_dict`` copies moments of any shape (or none): a mismatch would only surface inside
    ``optimizer.step()``. Every parameter with a state needs both moments in its shape, and a step count."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param)
            if not state:
                continue
            for key in ("exp_avg", "exp_avg_sq"):
                moment = state.get(key)
                if not isinstance(moment, torch.Tensor) or moment.shape != param.shape:
                    raise ValueError(
                        f"optimizer state {key!r} does not fit a parameter of shape {tuple(param.shape)}"
                    )
            if "step" not in state:
                raise KeyError("optimizer state 'step'")


def last_checkpoint(out: Path) -> Path:
    return out / CHECKPOINT_DIR / LAST


def save_training_state(
    path: Path,
    name: str,
    model: PromptableNet,
    bank: PromptBank | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    config: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Atomic write of model + optimizer + scheduler + RNG + step (rank 0 only)."""
    extra = {
        "train_format": TRAIN_STATE_FORMAT,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": capture_rng(),
        "step": step,
        "train_config": config,
    }
    return save_checkpoint(path, name, model, bank, meta=meta, extra=extra)


def load_training_state(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Read a resume checkpoint and check it belongs to a run with the same configuration."""
    state = read_checkpoint(path)
    if state.get("train_format") != TRAIN_STATE_FORMAT:
        raise HmtirError(
            f"{path} is not a training checkpoint (no optimizer/RNG state); cannot --resume from it"
        )
    saved = dict(state.get("train_config") or {})
    ignored = {
        "steps",
        "epochs",
        "workers",
        "threads",
        "log_every",
        "val_every",
        "ckpt_every",
    }  # may change on resume
    differing = sorted(
        k for k in set(saved) | set(config) if k not in ignored and saved.get(k) != config.get(k)
    )
    if differing:
        shown = ", ".join(f"{k}: {saved.get(k)!r}→{config.get(k)!r}" for k in differing[:4])
        raise HmtirError(f"--resume: {path} was trained with a different config ({shown}); use a new --out")
    return state
