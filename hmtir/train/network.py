"""The trained network: planned on torch's ``meta`` device first (no memory), then built for real.

The plan refuses a network over :data:`MAX_PARAMETERS` and gives the input multiple its U-Net needs
(``size_multiple``) before a single weight or frame is allocated; the schema of its config
(:mod:`hmtir.models.config_schema`) was checked when the run's config was made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hmtir.errors import HmtirError
from hmtir.models import create_model
from hmtir.models.ppfn import PromptableNet
from hmtir.models.prompts import PromptBank
from hmtir.train.config import TrainConfig

MAX_PARAMETERS = 250_000_000  # ~10× the released Restormer-PPFN; with Adam's state about 4 GB of fp32


@dataclass(frozen=True)
class NetworkPlan:
    name: str
    parameters: int
    size_multiple: int  # training windows must be a multiple of this (the U-Net's downsamplings)


def _construct(config: TrainConfig) -> tuple[str, PromptableNet]:
    name = config.model if config.spt else config.plain_model
    overrides = dict(config.model_config)
    if not name.startswith("ppfn_"):
        overrides.pop("prompt", None)
    try:
        model = create_model(name, **overrides)
    except (TypeError, ValueError) as err:
        raise HmtirError(f"--model {name}: bad model config {overrides} ({err})") from None
    if not isinstance(model, PromptableNet):
        raise HmtirError(f"--model {name} is not a trainable restoration network")
    return name, model


def plan_network(config: TrainConfig) -> NetworkPlan:
    """The network ``config`` builds, sized on the ``meta`` device; refused when over the parameter limit."""
    with torch.device("meta"):
        name, model = _construct(config)
    if model.uses_prompts != config.spt:
        raise HmtirError(
            f"--model {name} {'has' if model.uses_prompts else 'has no'} prompt units: SPT trains a ppfn_ "
            "model and --no-spt its plain backbone"
        )
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise HmtirError(
            f"--model {name} with --model-config {config.model_config} has {parameters:,} parameters, "
            f"over the limit of {MAX_PARAMETERS:,}; make it smaller (width/dim, blocks)"
        )
    return NetworkPlan(name, parameters, model.size_multiple)


def build_network(config: TrainConfig) -> tuple[str, PromptableNet, PromptBank | None]:
    """The network with its initial weights, and the prompt bank it trains with (prompted models)."""
    name, model = _construct(config)
    if not model.uses_prompts:
        return name, model, None
    return name, model, PromptBank.seeded(scenario_dim=model.prompt_config.scenario_dim)
