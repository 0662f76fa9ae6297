"""The typed schema of an export: the ``degraded`` and ``clean`` configs' features, and manifest records
conformed to them.

Degradation parameters are typed columns (``params.ops.blur.sigma`` is a float64, ``applied`` a bool),
not a JSON string. Their schema comes from the code, not from the data: each registered op samples once
on the ranges of a preset that uses it, and the Python types of what it returns become the fields.
"""

from __future__ import annotations

import functools
from typing import Any

from hmtir.errors import HmtirError

DEGRADED, CLEAN = "degraded", "clean"  # the two configs
#: the fields of a manifest record (written by hmtir.degrade.synthesize), in column order
RECORD_FIELDS = ("source", "bit_depth", "seed", "seed_material", "params", "stats")


def split_name(subset: str) -> str:
    """``composited/normal`` → ``composited_normal`` (split names cannot hold '/')."""
    return subset.replace("/", "_")


def _feature_of(value: Any) -> Any:
    import datasets

    for kind, dtype in ((bool, "bool"), (int, "int64"), (float, "float64"), (str, "string")):
        if isinstance(value, kind):
            return datasets.Value(dtype)
    raise TypeError(f"an op sampled a {type(value).__name__}; the export knows bool, int, float and str")


@functools.lru_cache(maxsize=1)
def op_fields() -> dict[str, dict[str, Any]]:
    """op → {field: datasets.Value}, in cascade order: what each registered op's ``sample`` returns."""
    import numpy as np

    from hmtir.degrade.ops import OPS
    from hmtir.degrade.presets import load_preset, preset_names

    presets = [load_preset(name) for name in preset_names()]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(OPS.names(), key=lambda op: OPS.meta(op).order):
        ranges = next((p.ranges[name] for p in presets if name in p.ranges), None)
        if ranges is None:  # no preset uses it, so no manifest can hold it
            continue
        sample = OPS.create(name).sample(np.random.default_rng(0), ranges, (64, 64))
        out[name] = {"applied": _feature_of(True), **{k: _feature_of(v) for k, v in sample.items()}}
    return out


def degraded_features() -> Any:
    """The ``degraded`` config's schema: identity, prompts, the image and the typed synthesis record."""
    import datasets

    text, f64, i64 = datasets.Value("string"), datasets.Value("float64"), datasets.Value("int64")
    return datasets.Features(
        {
            "name": text,
            "scene": text,
            "subset": text,
            "degradation": text,
            "scenario": text,
            "preset": text,
            "image": datasets.Image(),
            "source": text,
            "bit_depth": i64,
            "seed": i64,
            "seed_material": datasets.List(datasets.Value("uint64")),
            "params": {
                "preset": text,
                "preset_version": i64,
                "gate": f64,
                "shape": datasets.List(i64),
                "ops": {op: dict(fields) for op, fields in op_fields().items()},
            },
            "stats": {"psnr": f64, "grey_shift": f64},
        }
    )


def clean_features() -> Any:
    import datasets

    return datasets.Features(
        {"name": datasets.Value("string"), "scene": datasets.Value("string"), "image": datasets.Image()}
    )


_LIMITS = {"int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def conform(value: Any, feature: Any, where: str) -> Any:
    """``value`` checked against ``feature`` (floats may be written as ints); None is always allowed."""
    import datasets

    if value is None:
        return None
    if isinstance(feature, dict):
        if not isinstance(value, dict):
            raise HmtirError(f"{where} is {type(value).__name__}, expected a mapping")
        unknown = sorted(set(value) - set(feature))
        if unknown:
            raise HmtirError(f"{where} has unknown field {ascii(unknown[0])} (not in hmtir's schema)")
        return {key: conform(value.get(key), sub, f"{where}.{key}") for key, sub in feature.items()}
    if isinstance(feature, datasets.List):
        if not isinstance(value, list):
            raise HmtirError(f"{where} is {type(value).__name__}, expected a list")
        return [conform(v, feature.feature, f"{where}[{i}]") for i, v in enumerate(value)]
    dtype = feature.dtype
    ok = {
        "bool": isinstance(value, bool),
        "string": isinstance(value, str),
        "float64": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(dtype, isinstance(value, int) and not isinstance(value, bool))
    if ok and dtype in _LIMITS:
        ok = _LIMITS[dtype][0] <= value <= _LIMITS[dtype][1]
    if not ok:
        raise HmtirError(f"{where} is {ascii(value)[:40]}, expected {dtype}")
    return float(value) if dtype == "float64" else value


def manifest_record(row: dict[str, Any]) -> dict[str, Any]:
    """The manifest record a ``degraded`` row was made from (ops a preset does not use dropped)."""
    record = {key: row[key] for key in ("name", "subset", "preset", *RECORD_FIELDS)}
    if record["params"] is not None:
        ops = {op: p for op, p in record["params"]["ops"].items() if p is not None}
        record["params"] = {**record["params"], "ops": ops}
    return record
