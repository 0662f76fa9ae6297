"""Typed schemas of the trainable networks' configurations: what ``--model-config`` (or a recipe's
``model_config``) may set, checked before anything is built.

A backbone's defaults are its ``params`` in :mod:`hmtir.models.catalog`; its schema here names every
setting its constructor takes, the type and range of each, and the rules that tie settings together. A
network built from an unchecked config fails deep inside torch (a negative width, a list where a number
goes) or allocates whatever it is told; a checked one fails in one line naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hmtir.errors import HmtirError


@dataclass(frozen=True)
class Int:
    """A whole number in ``[low, high]`` (``true``/``false`` are not numbers)."""

    low: int
    high: int

    def ok(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def describe(self) -> str:
        return f"a whole number from {self.low} to {self.high}"


@dataclass(frozen=True)
class Float:
    """A finite number in ``(low, high]`` (``low_open``) or ``[low, high]``."""

    low: float
    high: float
    low_open: bool = False

    def ok(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        if self.low_open:
            return f"a number above {self.low:g} and at most {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"


@dataclass(frozen=True)
class Bool:
    def ok(self, value: object) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Choice:
    """One of ``values``, of the same type (``true`` is not ``1``)."""

    values: tuple[Any, ...]

    def ok(self, value: object) -> bool:
        return any(type(value) is type(choice) and value == choice for choice in self.values)

    def describe(self) -> str:
        shown = [repr(v) if isinstance(v, str) else str(v) for v in self.values]
        return shown[0] if len(shown) == 1 else f"one of {', '.join(shown)}"


@dataclass(frozen=True)
class IntList:
    """A list of ``min_len``..``max_len`` whole numbers, each valid for ``item``."""

    item: Int
    min_len: int
    max_len: int

    def ok(self, value: object) -> bool:
        return (
            isinstance(value, (list, tuple))
            and self.min_len <= len(value) <= self.max_len
            and all(self.item.ok(v) for v in value)
        )

    def describe(self) -> str:
        count = str(self.min_len) if self.min_len == self.max_len else f"{self.min_len} to {self.max_len}"
        return f"a list of {count} whole numbers from {self.item.low} to {self.item.high}"


@dataclass(frozen=True)
class Any_:
    """Any value (a section checked on its own)."""

    def ok(self, value: object) -> bool:
        return True

    def describe(self) -> str:
        return "any value"


ANY = Any_()

Spec = Int | Float | Bool | Choice | IntList | Any_
#: A rule across settings: the full config → (key, what it must be) when broken, else None.
Rule = Callable[[dict[str, Any]], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Schema:
    settings: dict[str, Spec]
    rules: tuple[Rule, ...] = ()


ONE_CHANNEL = Choice((1,))  # hmtir trains and restores single-channel (grey) thermal frames
BLOCKS = Int(0, 64)


def _same_levels(config: dict[str, Any]) -> tuple[str, str] | None:
    enc, dec = config.get("enc_blocks", ()), config.get("dec_blocks", ())
    if len(enc) != len(dec):
        return "dec_blocks", f"as long as 'enc_blocks' ({len(enc)}: one entry per U-Net level)"
    return None


def _heads_divide_channels(config: dict[str, Any]) -> tuple[str, str] | None:
    """Channel attention (MDTA) splits level ``i``'s ``dim·2^i`` channels into ``heads[i]`` equal heads."""
    if config.get("mixer", "mdta") != "mdta":
        return None
    dim, heads = config["dim"], config["heads"]
    for level, count in enumerate(heads):
        if (dim << level) % count:
            return (
                "heads",
                f"divisors of each level's channels (dim·2^level: {dim << level} at level {level})",
            )
    return None


def _ffn_has_channels(config: dict[str, Any]) -> tuple[str, str] | None:
    if int(config["dim"] * config["ffn_expansion_factor"]) < 1:
        return "ffn_expansion_factor", "large enough for at least one hidden channel (dim × factor ≥ 1)"
    return None


NAFNET = Schema(
    {
        "in_channels": ONE_CHANNEL,
        "out_channels": ONE_CHANNEL,
        "width": Int(1, 1024),
        "enc_blocks": IntList(BLOCKS, 1, 6),
        "middle_blocks": BLOCKS,
        "dec_blocks": IntList(BLOCKS, 1, 6),
        "global_residual": Bool(),
        "stem_downsample": Int(1, 8),
        "range_head": Bool(),
    },
    (_same_levels,),
)
_RESTORMER_SETTINGS: dict[str, Spec] = {
    "inp_channels": ONE_CHANNEL,
    "out_channels": ONE_CHANNEL,
    "dim": Int(1, 1024),
    "num_blocks": IntList(BLOCKS, 4, 4),
    "num_refinement_blocks": BLOCKS,
    "heads": IntList(Int(1, 256), 4, 4),
    "ffn_expansion_factor": Float(0.0, 16.0, low_open=True),
    "bias": Bool(),
    "LayerNorm_type": Choice(("WithBias", "BiasFree")),
    "global_residual": Bool(),
    "mixer": Choice(("mdta",)),
}
RESTORMER = Schema(_RESTORMER_SETTINGS, (_heads_divide_channels, _ffn_has_channels))
FOCALNET = Schema({**_RESTORMER_SETTINGS, "mixer": Choice(("focal",))}, (_ffn_has_channels,))

#: Schemas by backbone; ``ppfn_<name>`` adds a ``prompt`` section (:func:`prompt_schema`).
SCHEMAS: dict[str, Schema] = {"nafnet": NAFNET, "restormer": RESTORMER, "focalnet": FOCALNET}


def prompt_schema() -> Schema:
    """The ``prompt`` section of a ``ppfn_`` model (:class:`hmtir.models.prompts.PromptConfig`)."""
    from hmtir.models.prompts import ACTIVATIONS, FUSIONS

    return Schema(
        {
            "dim": Int(1, 1024),
            "map_channels": ONE_CHANNEL,  # the prompt bank's degradation maps are single-channel
            "scenario_dim": Int(1, 1024),
            "fusion": Choice(tuple(FUSIONS)),
            "activation": Choice(tuple(ACTIVATIONS)),
        }
    )


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _check(schema: Schema, given: object, defaults: dict[str, Any], where: str, prefix: str = "") -> None:
    if not isinstance(given, dict):
        raise HmtirError(
            f"{where}{f' key {prefix[:-1]!r}' if prefix else ''} must be a mapping of settings "
            f"(got {_type_name(given)}, {given!r:.40})"
        )
    for key, value in given.items():
        spec = schema.settings.get(key)
        if spec is None:
            known = ", ".join(schema.settings)
            raise HmtirError(f"{where}: unknown key {prefix + str(key)!r} (known: {known})")
        if not spec.ok(value):
            raise HmtirError(f"{where}: {prefix + str(key)!r} must be {spec.describe()} (got {value!r})")
    merged = {**defaults, **given}
    for rule in schema.rules:
        broken = rule(merged)
        if broken is not None:
            key, must = broken
            raise HmtirError(f"{where}: {prefix + key!r} must be {must} (got {merged.get(key)!r})")


def trainable_models() -> list[str]:
    """The networks ``hmtir train`` builds: every backbone with a schema here, and its ``ppfn_`` twin."""
    from hmtir.models import MODELS

    return [name for name in MODELS.names() if name.removeprefix("ppfn_") in SCHEMAS]


def check_model_config(model: str, config: object, where: str = "--model-config") -> dict[str, Any]:
    """``config`` (overrides of ``model``'s catalog defaults) when its schema accepts it, else one line."""
    from hmtir.models import MODELS

    schema = SCHEMAS.get(model.removeprefix("ppfn_"))
    if schema is None:
        raise HmtirError(f"--model {model} has no config schema (trainable: {', '.join(trainable_models())})")
    defaults = dict(MODELS.meta(model).params or {})
    prompted = model.startswith("ppfn_")
    if prompted:
        schema = Schema({**schema.settings, "prompt": ANY}, schema.rules)
    _check(schema, config, defaults, where)
    assert isinstance(config, dict)  # _check refused anything else
    if prompted and config.get("prompt") is not None:
        _check(prompt_schema(), config["prompt"], dict(defaults.get("prompt") or {}), where, "prompt.")
    return dict(config)
