"""Model checkpoints: hmtir's self-describing format, the official PPFN format, and strict loading.

hmtir checkpoint (``torch.save`` of a dict, loadable with ``weights_only=True``)::

    {
      "format": "hmtir-model/1",
      "model": "ppfn_nafnet",            # name in hmtir.models.MODELS
      "config": {...},                   # create_model(model, **config) rebuilds the network
      "state_dict": {...},               # strict: every key and shape must match
      "prompt_bank": {"degradation": {"contrast": T, "blur": T, "noise": T},
                      "scenario": {"single": T, "composite": T}, "origin": "seeded:..."},  # None if prompt-free
      "meta": {...},                     # training recipe, data, metrics, hmtir version …
      ...                                # trainers may add optimizer/scheduler/RNG/step; loading ignores them
    }

Official / third-party format: a bare state_dict, or one wrapped as ``{"state_dict": ...}`` (also
``"params"``/``"params_ema"`` as BasicSR writes), keys possibly prefixed ``module.`` (DataParallel). It
carries no architecture, so the network and its size are inferred from the tensors and accepted only
when they fit one registered network exactly (:mod:`hmtir.models.infer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank

CHECKPOINT_FORMAT = "hmtir-model/1"
_WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model_state_dict")
_MAX_LISTED = 8


@dataclass
class LoadedModel:
    """A network ready to run plus what it needs and where it came from."""

    name: str
    model: PromptableNet
    bank: PromptBank | None
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: One line: the network and size loaded, and whether the checkpoint recorded it or it was inferred.
    architecture: str = ""
    inferred: bool = False


def extract_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensor dict inside ``obj``: unwraps ``state_dict``/``params_ema``/``params`` and strips ``module.``."""
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise HmtirError(
            f"{source} holds no state_dict (expected a dict of tensors, optionally under 'state_dict')"
        )
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    return shown + (f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else "")


def load_state_dict_strict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)}≠{tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {_listing(mismatched)}")
    if problems:
        raise HmtirError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` restricted to tensors and plain containers (no arbitrary unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise HmtirError(f"checkpoint not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive; the legacy format starts with a pickle protocol byte (0x80)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise HmtirError(f"cannot read checkpoint {path}: not a PyTorch checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or pickled-object files
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HmtirError(f"cannot read checkpoint {path}: {first_line}") from None
    if not isinstance(obj, dict):
        raise HmtirError(f"checkpoint {path} holds a {type(obj).__name__}, not a dict")
    return obj


def save_checkpoint(
    path: str | Path,
    name: str,
    model: PromptableNet,
    bank: PromptBank | None = None,
    meta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write an hmtir checkpoint atomically; ``extra`` (optimizer, step …) is stored alongside."""
    if model.uses_prompts and bank is None:
        raise ValueError("a PPFN checkpoint must carry its prompt bank")
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "model": name,
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "prompt_bank": bank.to_dict() if bank is not None and model.uses_prompts else None,
        "meta": dict(meta or {}),
        **(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def build_model(name: str, config: Mapping[str, Any]) -> PromptableNet:
    from hmtir.models import create_model

    try:
        return create_model(name, **dict(config))
    except TypeError as err:
        raise HmtirError(f"model '{name}' cannot be built from the checkpoint config: {err}") from None


def _check_recorded(name: str, model: PromptableNet, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """The config an hmtir checkpoint records wins, but only if its tensors are that network, key for key."""
    from hmtir.models.infer import Fit, describe_config, differ, nearest

    fit = differ(Fit(name, model.config), model.state_dict(), sd)
    if fit.exact:
        return
    best = nearest(sd)
    tensors = (
        f"its tensors are {best.name} ({describe_config(best.name, best.config)})"
        if best.exact
        else f"its tensors fit no registered architecture (nearest {best.name})"
    )
    raise HmtirError(
        f"{source} records {name} ({describe_config(name, model.config)}) but {tensors}: {fit.differences()}"
    )


def load_checkpoint(path: str | Path, bank: PromptBank | None = None) -> LoadedModel:
    """Load an hmtir checkpoint (its recorded config, checked against its tensors), or a bare/official
    state_dict, whose architecture is inferred from its tensors (:mod:`hmtir.models.infer`).

    ``bank`` overrides the checkpoint's prompt bank; official PPFN weights carry none, so their caller
    gives the release's. ``LoadedModel.architecture`` says in one line what was loaded and how it was known.
    """
    from hmtir.models.infer import describe_config, fit_architecture

    path = Path(path)
    source = f"checkpoint {path}"
    obj = read_checkpoint(path)
    sd = extract_state_dict(obj, source=source)
    recorded = "model" in obj and "config" in obj
    if recorded:
        name, config = str(obj["model"]), dict(obj["config"])
        if bank is None and obj.get("prompt_bank") is not None:
            bank = PromptBank.from_dict(obj["prompt_bank"])
        meta = dict(obj.get("meta") or {})
    else:
        name, config = fit_architecture(sd, source)
        meta = {"format": "state_dict"}
    model = build_model(name, config)
    if recorded:
        _check_recorded(name, model, sd, source)
    load_state_dict_strict(model, sd, source=source)
    model.eval()
    how = "recorded in the checkpoint" if recorded else "inferred"
    architecture = f"weights {path.name}: {describe_config(name, model.config)} ({how}, {len(sd)} tensors)"
    return LoadedModel(
        name=name,
        model=model,
        bank=bank if model.uses_prompts else None,
        config=model.config,
        meta=meta,
        path=path,
        architecture=architecture,
        inferred=not recorded,
    )


def check_bank(loaded: LoadedModel) -> None:
    """A PPFN model's prompt bank must fit its prompt units (map channels, scenario length), else one line."""
    if loaded.bank is None or not loaded.model.uses_prompts:
        return
    prompt = loaded.model.config["prompt"]
    maps = {tuple(t.shape[:1]) for t in loaded.bank.degradation.values()}
    vectors = {tuple(t.shape) for t in loaded.bank.scenario.values()}
    wanted_vectors = {(prompt["scenario_dim"],)} if prompt.get("fusion") != "degradation" else vectors
    if maps != {(prompt["map_channels"],)} or vectors != wanted_vectors:
        raise HmtirError(
            f"prompt bank '{loaded.bank.origin}' does not fit checkpoint {loaded.path}: its prompt units take "
            f"{prompt['map_channels']}-channel maps and {prompt['scenario_dim']}-long scenario vectors, the "
            f"bank holds maps of {sorted(m[0] for m in maps)} channel(s) and vectors of length "
            f"{sorted(v[0] for v in vectors)}"
        )
