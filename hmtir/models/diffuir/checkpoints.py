"""Loading DiffUIR checkpoints: the released trainer file (EMA weights), or a bare wrapper/U-Net state_dict.

The release's ``model-300.pt`` is ``{"step", "model", "opt0", "ema", "scaler"}``. Inference uses the EMA
copy: ``ema`` holds ``initted``/``step`` (shape [] or [1] depending on the ema_pytorch version, both
ignored), ``online_model.*`` and ``ema_model.*``; the latter, stripped, are diffusion-wrapper keys, i.e.
``model.unet0.<U-Net key>`` plus 14 schedule buffers that :class:`ResidualSchedule` recomputes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch

from hmtir.errors import HmtirError
from hmtir.models.checkpoint import load_state_dict_strict, read_checkpoint
from hmtir.models.diffuir.unet import DiffuirUNet

# Schedule tables the release stores in its state_dict; the sampler rebuilds the two it needs.
SCHEDULE_BUFFERS = (
    "alphas",
    "alphas_cumsum",
    "delta",
    "delta_cumsum",
    "one_minus_alphas_cumsum",
    "betas2",
    "betas",
    "betas2_cumsum",
    "betas_cumsum",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
    "posterior_mean_coef3",
    "posterior_variance",
    "posterior_log_variance_clipped",
)
UNET_PREFIX = "model.unet0."
EMA_PREFIX = "ema_model."

WeightsChoice = Literal["ema", "online"]


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(torch.is_tensor(v) for v in obj.values())


def wrapper_state_dict(
    checkpoint: Mapping[str, Any], use: WeightsChoice = "ema", source: str = "checkpoint"
) -> dict[str, torch.Tensor]:
    """Diffusion-wrapper keys from a trainer checkpoint (``ema`` or ``online`` copy) or a bare state_dict."""
    if _is_state_dict(checkpoint):
        return dict(checkpoint)
    if use == "ema":
        ema = checkpoint.get("ema")
        if not isinstance(ema, Mapping):
            raise HmtirError(f"{source} has no 'ema' weights (pass use='online' to load its 'model' weights)")
        state = {k[len(EMA_PREFIX) :]: v for k, v in ema.items() if k.startswith(EMA_PREFIX)}
        if not state:
            raise HmtirError(f"{source}: its 'ema' entry holds no '{EMA_PREFIX}*' weights")
        return state
    if use == "online":
        model = checkpoint.get("model")
        if not _is_state_dict(model):
            raise HmtirError(f"{source} has no 'model' state_dict")
        return dict(model)
    raise ValueError(f"use must be 'ema' or 'online', got {use!r}")


def unet_state_dict(wrapper: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """U-Net keys: schedule buffers dropped, ``model.unet0.`` stripped (other keys kept for strict loading)."""
    return {
        (k[len(UNET_PREFIX) :] if k.startswith(UNET_PREFIX) else k): v
        for k, v in wrapper.items()
        if k not in SCHEDULE_BUFFERS
    }


def config_from_state_dict(state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> dict[str, Any]:
    """U-Net size read off the weights, so the T/S/B/L releases all load without naming their size.

    Widths: ``dim`` from the stem, each level's input width from its first block, the last level's output
    from the middle block. GroupNorm groups and attention heads are not visible in the shapes; every release
    uses 8 groups and 4×32 heads (the defaults), and strict loading rejects anything else.
    """
    try:
        dim, in_channels = state["init_conv.weight"].shape[:2]
        levels = sorted({int(m.group(1)) for k in state if (m := re.match(r"downs\.(\d+)\.", k))})
        widths = [state[f"downs.{i}.0.block1.proj.weight"].shape[0] for i in levels[1:]]
        widths.append(state["mid_block1.block1.proj.weight"].shape[0])
    except KeyError as err:
        raise HmtirError(f"{source} is not a DiffUIR U-Net (no {err.args[0]})") from None
    if not levels or any(w % dim for w in widths) or in_channels % 2:
        raise HmtirError(f"{source} is not a DiffUIR U-Net (unexpected widths {widths} for dim {dim})")
    return {"dim": int(dim), "dim_mults": [int(w // dim) for w in widths], "channels": int(in_channels // 2)}


def load_unet(
    path: str | Path, use: WeightsChoice = "ema", config: Mapping[str, Any] | None = None
) -> DiffuirUNet:
    """Build the U-Net that fits ``path`` (or ``config``) and load its weights strictly."""
    source = f"checkpoint {path}"
    state = unet_state_dict(wrapper_state_dict(read_checkpoint(path), use, source))
    unet = DiffuirUNet(**dict(config or config_from_state_dict(state, source)))
    load_state_dict_strict(unet, state, source)
    return unet.eval()
