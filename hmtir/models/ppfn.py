"""PPFN as a plug-in: any backbone that names its modulation points gets prompt units, FiLM heads and prompts.

A backbone subclasses :class:`PromptableNet`, lists its :class:`FilmPoint` s (channels and which prompt
unit feeds each), calls :meth:`PromptableNet.setup_prompts` at the end of ``__init__`` and, in its
forward, passes each modulated feature through :meth:`PromptableNet.film`. With ``prompt=None`` the same
class is the plain "Baseline" backbone and ``film`` is the identity.

Prompt modules are registered on the backbone itself (``F_ext_net1..K``, ``prompt_scale<head>``,
``prompt_shift<head>``), which is exactly the key layout of the released Restormer-PPFN weights.

Call shape shared by every network here (training and inference)::

    out = net(x)                                    # plain backbone
    out = net(x, degradation_prompt, scenario_prompt)  # PPFN: prompts from a PromptBank

A backbone built with ``range_head=True`` (:mod:`hmtir.models.range_head`) also takes ``frame_stats``: the
whole-frame grey statistics its per-frame gain/offset reads (default: those of ``x``), and
``range_correction=False`` skips that correction (SPT's blur and noise passes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hmtir.models.prompts import PromptConfig, PromptUnit
from hmtir.models.range_head import RangeHead, frame_statistics


@dataclass(frozen=True)
class FilmPoint:
    """A feature map the prompts modulate: heads ``prompt_scale<head>``/``prompt_shift<head>``."""

    head: str
    channels: int
    unit: int  # 1-based index of the prompt unit (F_ext_net<unit>) whose feature drives this point


def film(feature: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Per-channel FiLM with an identity path: ``F·(1+γ)+β``, written ``F·γ + β + F`` as the release does."""
    gamma = scale.view(scale.shape[0], -1, 1, 1)
    beta = shift.view(shift.shape[0], -1, 1, 1)
    return feature * gamma + beta + feature


Modulation = dict[str, tuple[torch.Tensor, torch.Tensor]]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad bottom/right to a multiple of ``multiple`` (reflect; replicate when the image is too small)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (height, width)


class PromptableNet(nn.Module):
    """Base of every backbone: knows its config, its padding multiple and (optionally) its prompt modules."""

    film_points: tuple[FilmPoint, ...] = ()
    size_multiple: int = 1  # inputs must be padded to a multiple of this (number of downsamplings)
    config: dict[str, Any]

    def setup_prompts(self, prompt: PromptConfig | None, points: tuple[FilmPoint, ...]) -> None:
        self.prompt_config = prompt
        self.film_points = points
        if prompt is None:
            return
        for unit in sorted({p.unit for p in points}):
            self.add_module(f"F_ext_net{unit}", PromptUnit(prompt))
        for p in points:
            self.add_module(f"prompt_scale{p.head}", nn.Linear(prompt.dim, p.channels))
        for p in points:
            self.add_module(f"prompt_shift{p.head}", nn.Linear(prompt.dim, p.channels))

    def setup_range_head(self, enabled: bool) -> None:
        """Optional :class:`RangeHead` (after :meth:`setup_prompts`: a PPFN head reads its own prompt unit)."""
        self.range_head = RangeHead(self.prompt_config) if enabled else None

    @property
    def uses_prompts(self) -> bool:
        return self.prompt_config is not None

    @property
    def uses_frame_stats(self) -> bool:
        """Whether forward wants ``frame_stats`` (computed from ``x`` itself when not given)."""
        return getattr(self, "range_head", None) is not None  # a submodule: not a class attribute

    def range_correct(
        self,
        out: torch.Tensor,
        x: torch.Tensor,
        frame_stats: torch.Tensor | None,
        degradation_prompt: torch.Tensor | None,
        scenario_prompt: torch.Tensor | None,
        range_correction: bool = True,
    ) -> torch.Tensor:
        """``out`` through the range head, if any and ``range_correction``; ``frame_stats`` default to those
        of ``x`` itself."""
        if not (self.uses_frame_stats and range_correction):
            return out
        stats = frame_statistics(x) if frame_stats is None else frame_stats
        return self.range_head(out, x, stats, degradation_prompt, scenario_prompt)

    def modulation(
        self, degradation_prompt: torch.Tensor | None, scenario_prompt: torch.Tensor | None
    ) -> Modulation | None:
        """(γ, β) for every film point, or None for a plain backbone. Each unit runs once per forward."""
        if self.prompt_config is None:
            if degradation_prompt is not None or scenario_prompt is not None:
                raise ValueError(f"{type(self).__name__} was built without prompts but prompts were given")
            return None
        if degradation_prompt is None:
            raise ValueError(
                f"{type(self).__name__} is a PPFN model: pass a degradation (and scenario) prompt"
            )
        features = {
            unit: getattr(self, f"F_ext_net{unit}")(degradation_prompt, scenario_prompt)
            for unit in sorted({p.unit for p in self.film_points})
        }
        return {
            p.head: (
                getattr(self, f"prompt_scale{p.head}")(features[p.unit]),
                getattr(self, f"prompt_shift{p.head}")(features[p.unit]),
            )
            for p in self.film_points
        }

    @staticmethod
    def film(feature: torch.Tensor, modulation: Modulation | None, head: str) -> torch.Tensor:
        if modulation is None:
            return feature
        scale, shift = modulation[head]
        return film(feature, scale, shift)


def plain_backbone(name: str, build: Callable[..., PromptableNet], /, **overrides: Any) -> PromptableNet:
    """The prompt-free "Baseline" model ``name``: its catalog configuration + ``overrides``, no prompt units.

    Every backbone module builds its two registered models (``<name>`` and ``ppfn_<name>``, declared in
    :mod:`hmtir.models.catalog`) with this and :func:`prompted_backbone`, so PPFN stays a plug-in.
    """
    from hmtir.models import MODELS

    return build(**{**MODELS.meta(name).params, **overrides, "prompt": None})


def prompted_backbone(
    name: str,
    build: Callable[..., PromptableNet],
    prompt: PromptConfig | dict[str, Any] | None = None,
    /,
    **overrides: Any,
) -> PromptableNet:
    """``ppfn_<name>``: backbone ``name`` (catalog configuration + ``overrides``) with PPFN prompt units."""
    from hmtir.models import MODELS

    return build(**{**MODELS.meta(name).params, **overrides}, prompt=PromptConfig.from_any(prompt))
