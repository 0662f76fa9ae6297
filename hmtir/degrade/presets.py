"""Degradation presets: named parameter ranges loaded from the versioned ``presets.yaml``.

Presets are data, not code, so a range change is a reviewed diff to one file whose ``version`` is written
into every manifest line. Loading validates each preset against the op registry, so a typo in the YAML
fails at load time with a message naming the preset and key instead of producing silently wrong images.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hmtir.degrade.ops import OPS
from hmtir.errors import HmtirError
from hmtir.io.yaml_file import parse_yaml
from hmtir.vocabulary import STEPS

PRESETS_FILE = "presets.yaml"


@dataclass(frozen=True)
class Preset:
    """A named degradation recipe: which ops (in physical order), their ranges and an optional fixed gate."""

    name: str
    summary: str
    source: str
    ops: tuple[str, ...]
    ranges: dict[str, dict[str, tuple[float, float]]]
    gate: float | None  # None: use the caller's gate; a number overrides it (single subsets use 1.0)
    version: int

    def effective_gate(self, gate: float) -> float:
        return float(gate if self.gate is None else self.gate)

    @property
    def steps(self) -> tuple[str, ...]:
        """The physical steps (contrast, blur, noise) this preset touches."""
        return tuple(s for s in STEPS if any(OPS.meta(op).step == s for op in self.ops))


def _validate_ranges(preset: str, op: str, ranges: Any) -> dict[str, tuple[float, float]]:
    expected = set(OPS.meta(op).range_keys)
    if not isinstance(ranges, dict) or set(ranges) != expected:
        got = sorted(ranges) if isinstance(ranges, dict) else ranges
        raise HmtirError(
            f"{PRESETS_FILE}: preset '{preset}' op '{op}' needs keys {sorted(expected)}, got {got}"
        )
    out = {}
    for key, value in ranges.items():
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
        ):
            raise HmtirError(
                f"{PRESETS_FILE}: preset '{preset}' {op}.{key} must be [low, high], got {value!r}"
            )
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise HmtirError(f"{PRESETS_FILE}: preset '{preset}' {op}.{key} has low > high ({low} > {high})")
        out[key] = (low, high)
    return out


@functools.lru_cache(maxsize=1)
def _load_all() -> dict[str, Preset]:
    raw = parse_yaml(resources.files("hmtir.degrade").joinpath(PRESETS_FILE).read_text())
    version = int(raw["version"])
    specs: dict[str, Any] = raw["presets"]
    presets: dict[str, Preset] = {}
    for name, spec in specs.items():
        base = spec.get("ranges_from")
        if base is not None:
            if base not in specs or not isinstance(specs[base]["ops"], dict):
                raise HmtirError(f"{PRESETS_FILE}: preset '{name}' ranges_from unknown preset '{base}'")
            ops_ranges = {op: specs[base]["ops"][op] for op in spec["ops"]}
        else:
            ops_ranges = spec["ops"]
        for op in ops_ranges:
            if op not in OPS:
                raise HmtirError(f"{PRESETS_FILE}: preset '{name}' names unknown op '{op}'")
        ordered = tuple(sorted(ops_ranges, key=lambda op: OPS.meta(op).order))
        gate = spec.get("gate")
        if gate is not None and not 0.0 <= float(gate) <= 1.0:
            raise HmtirError(f"{PRESETS_FILE}: preset '{name}' gate must be in [0, 1], got {gate}")
        presets[name] = Preset(
            name=name,
            summary=str(spec.get("summary", "")),
            source=str(spec.get("source", "")),
            ops=ordered,
            ranges={op: _validate_ranges(name, op, ops_ranges[op]) for op in ordered},
            gate=None if gate is None else float(gate),
            version=version,
        )
    return presets


def preset_names() -> list[str]:
    """Preset names in file order (hard, normal, single-contrast, single-blur, single-noise)."""
    return list(_load_all())


def load_preset(name: str | Preset) -> Preset:
    """The named preset (a :class:`Preset` passes through, so APIs accept either)."""
    if isinstance(name, Preset):
        return name
    presets = _load_all()
    if name not in presets:
        raise HmtirError(f"unknown degradation preset '{name}' (available: {', '.join(presets)})")
    return presets[name]
