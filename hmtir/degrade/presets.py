"""Degradation presets: named parameter ranges loaded from the versioned ``presets.yaml``, and what they draw.

Presets are data, not code, so a range change is a reviewed diff to one file whose ``version`` is written
into every manifest line. Loading validates each preset against the op registry and each op's ``schema``
(:class:`hmtir.degrade.ops.Param`), so a typo in the YAML fails at load time with a message naming the
preset and key instead of producing silently wrong images. A parameter block read back from a manifest is
held to the same schema (:func:`params_problem`): a recorded value must be one some preset can sample.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from hmtir.degrade.ops import OPS, Param, shown
from hmtir.errors import HmtirError
from hmtir.io.yaml_file import YamlProblem, parse_yaml
from hmtir.vocabulary import STEPS

PRESETS_FILE = "presets.yaml"


def check_gate(gate: object, option: str = "--gate") -> float:
    """``gate`` as a float when it is a probability (a real number from 0 to 1), else one line naming it."""
    if isinstance(gate, bool) or not isinstance(gate, numbers.Real) or not 0.0 <= gate <= 1.0:
        raise HmtirError(f"{option} must be between 0 and 1, got {gate!r}")
    return float(gate)


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
    schema = {p.name: p for p in OPS.meta(op).schema}
    out = {}
    for key, value in ranges.items():
        if not (isinstance(value, list) and len(value) == 2):
            raise HmtirError(
                f"{PRESETS_FILE}: preset '{preset}' {op}.{key} must be [low, high], got {value!r}"
            )
        for end in value:  # each end is a value the op may sample: the schema's rule, as for a manifest
            problem = schema[key].problem(end)
            if problem is not None:
                raise HmtirError(f"{PRESETS_FILE}: preset '{preset}' {op}.{key} range end {problem}")
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise HmtirError(f"{PRESETS_FILE}: preset '{preset}' {op}.{key} has low > high ({low} > {high})")
        out[key] = (low, high)
    return out


@functools.lru_cache(maxsize=1)
def _load_all() -> dict[str, Preset]:
    return parse_presets(resources.files("hmtir.degrade").joinpath(PRESETS_FILE).read_text())


def parse_presets(text: str) -> dict[str, Preset]:
    """Every preset of a ``presets.yaml`` text, each range checked against its op's schema."""
    try:
        raw = parse_yaml(text)
    except YamlProblem as err:
        raise HmtirError(f"{PRESETS_FILE}: {err}") from None
    if not (
        isinstance(raw, dict) and type(raw.get("version")) is int and isinstance(raw.get("presets"), dict)
    ):
        raise HmtirError(f"{PRESETS_FILE}: needs a whole-number 'version' and a 'presets' mapping")
    version, specs = raw["version"], raw["presets"]
    presets: dict[str, Preset] = {}
    for name, spec in specs.items():
        ops = spec.get("ops") if isinstance(spec, dict) else None
        if not (
            isinstance(name, str) and isinstance(ops, (dict, list)) and all(isinstance(op, str) for op in ops)
        ):
            raise HmtirError(
                f"{PRESETS_FILE}: preset {ascii(name)} needs 'ops' (op: ranges, or a list of ops)"
            )
        base = spec.get("ranges_from")
        if base is not None:
            base_spec = specs.get(base) if isinstance(base, str) else None
            base_ops = base_spec.get("ops") if isinstance(base_spec, dict) else None
            if not isinstance(base_ops, dict):
                raise HmtirError(f"{PRESETS_FILE}: preset '{name}' ranges_from unknown preset {ascii(base)}")
            missing = [op for op in spec["ops"] if op not in base_ops]
            if missing:
                raise HmtirError(
                    f"{PRESETS_FILE}: preset '{name}' takes {ascii(missing[0])} from '{base}', which lacks it"
                )
            ops_ranges = {op: base_ops[op] for op in spec["ops"]}
        elif isinstance(spec["ops"], dict):
            ops_ranges = spec["ops"]
        else:
            raise HmtirError(
                f"{PRESETS_FILE}: preset '{name}' lists ops without ranges_from a preset giving ranges"
            )
        for op in ops_ranges:
            if op not in OPS:
                raise HmtirError(f"{PRESETS_FILE}: preset '{name}' names unknown op '{op}'")
        ordered = tuple(sorted(ops_ranges, key=lambda op: OPS.meta(op).order))
        gate = spec.get("gate")
        if gate is not None:
            check_gate(gate, f"{PRESETS_FILE}: preset '{name}' gate")
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
    if not isinstance(name, str) or name not in presets:
        raise HmtirError(f"unknown degradation preset {ascii(name)} (available: {', '.join(presets)})")
    return presets[name]


def sample_params(
    preset: Preset | str, rng: np.random.Generator, shape: tuple[int, int], gate: float = 0.8
) -> dict:
    """Draw one image's degradation: every sampled scalar and gate decision, JSON-serialisable.

    For each op in physical order: one uniform for the gate, then the op's parameters (drawn even when
    the gate is closed, so the stream is independent of ``gate``).
    """
    preset = load_preset(preset)
    gate = preset.effective_gate(check_gate(gate))
    ops: dict[str, dict[str, Any]] = {}
    for name in preset.ops:
        applied = bool(rng.random() < gate)
        ops[name] = {"applied": applied, **OPS.create(name).sample(rng, preset.ranges[name], shape)}
    return {
        "preset": preset.name,
        "preset_version": preset.version,
        "gate": gate,
        "shape": [int(shape[0]), int(shape[1])],
        "ops": ops,
    }


@functools.cache
def _sampled_spans(op: str, key: str) -> list[tuple[float, float]]:
    """The ranges any preset draws ``op.key`` from: a recorded value must lie in one of them."""
    merged: list[tuple[float, float]] = []
    for low, high in sorted(p.ranges[op][key] for p in _load_all().values() if op in p.ranges):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


_APPLIED = Param("applied", bool)


def _op_problem(op: str, p: dict[str, Any]) -> str | None:
    schema = (_APPLIED, *OPS.meta(op).schema)
    names = {param.name for param in schema}
    missing = [param.name for param in schema if param.name not in p]
    if missing:
        return f"{op} lacks parameter {ascii(missing[0])}"
    unknown = sorted(set(p) - names)
    if unknown:
        return f"{op} has unknown parameter {ascii(unknown[0])} ({', '.join(sorted(names))})"
    for param in schema:
        allowed = _sampled_spans(op, param.name) if param.ranged else None
        problem = param.problem(p[param.name], allowed)
        if problem is not None:
            return f"{op}.{param.name} {problem}"
    problem = OPS.create(op).relation_problem(p)
    return None if problem is None else f"{op}.{problem}"


def params_problem(params: object, preset: str) -> str | None:
    """Why ``params`` cannot be a block :func:`sample_params` wrote for the preset ``preset``, or None.

    Every op of the preset must be there with every parameter of its schema, each of the schema's type,
    finite and within what some preset samples (or, for unranged ones, physically valid): a manifest may
    come from anyone, and what passes here is applied to frames and written back as JSON.
    """
    if not isinstance(params, dict):
        return "params must be a JSON object"
    ops, shape = params.get("ops"), params.get("shape")
    if not isinstance(ops, dict) or not all(isinstance(p, dict) for p in ops.values()):
        return "'ops' must map op names to JSON objects"
    unknown = [name for name in ops if name not in OPS]
    if unknown:
        return f"unknown op {ascii(unknown[0])} (ops: {', '.join(OPS.names())})"
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(v) is int and v > 0 for v in shape)):
        return "'shape' must be [height, width]"
    gate = params.get("gate")
    if isinstance(gate, bool) or not isinstance(gate, (int, float)) or not 0 <= gate <= 1:
        return "'gate' must be a number from 0 to 1"
    if params.get("preset") != preset:
        return f"'preset' must be {shown(preset)} (the record's), got {shown(params.get('preset'))}"
    version = params.get("preset_version")
    if type(version) is not int or version < 1:
        return f"'preset_version' must be a whole number from 1, got {shown(version)}"
    expected = load_preset(preset).ops
    if set(ops) != set(expected):
        return f"'ops' must be those of preset {shown(preset)} ({', '.join(expected)}), got {', '.join(ops)}"
    for op in expected:
        problem = _op_problem(op, ops[op])
        if problem is not None:
            return problem
    return None
