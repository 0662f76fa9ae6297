"""What an export reads from an HM-TIR tree: provenance, split lists, manifest records, and the rows to write.

A manifest record with an unknown field or a value of the wrong type is refused in one line naming its
line, so a row always holds exactly what the manifest recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmtir.data.export.schema import CLEAN, DEGRADED, RECORD_FIELDS, conform, degraded_features, split_name
from hmtir.data.layout import CLEAN_DIR, DATASET_FILE, MANIFEST_FILE, META_DIR, read_scenes, split_names
from hmtir.errors import HmtirError
from hmtir.vocabulary import SUBSETS


def read_manifest(root: Path) -> dict[tuple[str, str], dict[str, Any]] | None:
    """(name, subset) → the record's fields conformed to the schema; None when the tree has no manifest."""
    path = root / META_DIR / MANIFEST_FILE
    if not path.is_file():
        return None
    schema = degraded_features()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {line_no}"
        try:
            record = json.loads(line)
            key = (record["name"], record["subset"])
        except (ValueError, KeyError, TypeError):
            raise HmtirError(f"{where} is not a manifest record") from None
        if not all(isinstance(k, str) for k in key):
            raise HmtirError(f"{where}: name and subset must be text")
        unknown = sorted(set(record) - {"name", "subset", "preset", *RECORD_FIELDS})
        if unknown:
            raise HmtirError(
                f"{where}: the record has unknown field {ascii(unknown[0])} (not in hmtir's schema)"
            )
        fields = {k: conform(record.get(k), schema[k], f"{where}: {k}") for k in ("preset", *RECORD_FIELDS)}
        out[key] = fields
    return out


@dataclass
class PlannedSplit:
    config: str
    split: str
    rows: list[dict[str, Any]]  # "image" holds the file's Path until written
    size: int  # bytes of the image files


def read_provenance(root: Path) -> dict[str, Any] | None:
    path = root / META_DIR / DATASET_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise HmtirError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(doc, dict):
        raise HmtirError(f"{path} must hold a JSON object")
    return doc


def file_size(path: Path, root: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        raise HmtirError(f"{path} is missing; run `hmtir verify {root}`") from None


def split_lists(root: Path) -> tuple[list[str], list[str]]:
    """The test names (every clean frame without a list) and the train names (none without a list)."""
    test = split_names(root, "test")
    train = split_names(root, "train") if (root / META_DIR / "train.txt").is_file() else []
    both = sorted(set(test) & set(train))
    if both:
        raise HmtirError(f"{root / META_DIR}: {ascii(both[0])} is in both train.txt and test.txt")
    return test, train


def plan_splits(root: Path, chosen: list[str], manifest: dict | None) -> tuple[list[PlannedSplit], int]:
    scenes = read_scenes(root)
    test, train = split_lists(root)
    plan, missing = [], 0
    for subset in chosen:
        info, rows, size = SUBSETS[subset], [], 0
        for name in test:
            path = root / subset / name
            size += file_size(path, root)
            record = (manifest or {}).get((name, subset))
            missing += record is None
            record = record or {"preset": info.preset, **dict.fromkeys(RECORD_FIELDS)}
            rows.append(
                {
                    "name": name,
                    "scene": scenes.get(name),
                    "subset": subset,
                    "degradation": info.degradation,
                    "scenario": info.scenario,
                    **record,
                    "image": path,
                }
            )
        plan.append(PlannedSplit(DEGRADED, split_name(subset), rows, size))
    for split, names in (("test", test), ("train", train)):
        if names:
            paths = [root / CLEAN_DIR / name for name in names]
            size = sum(file_size(p, root) for p in paths)
            rows = [{"name": n, "scene": scenes.get(n), "image": p} for n, p in zip(names, paths)]
            plan.append(PlannedSplit(CLEAN, split, rows, size))
    return plan, missing
