"""Resumable evaluation: finished per-image rows, keyed by everything that determines their scores.

The cache is an append-only JSON-lines log next to the results. One line is written per finished image,
so an interrupted run loses at most the image in flight; a torn last line (power cut mid-write) is
ignored on reading, as is any line that breaks the JSON rule of :mod:`hmtir.io.json_file` (scores may
be ``Infinity``: the PSNR of identical frames). Each process of a sharded run appends to its own file
(``cache.rank<r>.jsonl``) and every process reads them all, so a resumed run, with any number of
processes, reuses every finished frame. The key covers the method (name + weights sha256), the exact
input and target bytes,
the prompts, the metric definitions, the scoring convention and the seed, so a changed method, weight
file, image or metric can never be served a stale score.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hmtir.io.json_file import read_json_lines

CACHE_FILE = "cache.jsonl"
CACHE_GLOB = "cache*.jsonl"
MAX_CACHE_BYTES = 1 << 30  # one line per frame: a million frames still fit


def cache_file(rank: int, world_size: int) -> str:
    """The file this process appends to: ``cache.jsonl`` alone, ``cache.rank<r>.jsonl`` when sharded."""
    return CACHE_FILE if world_size == 1 else f"cache.rank{rank}.jsonl"


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def config_digest(
    method: str,
    weights_sha256: str | None,
    metric_definitions: Mapping[str, Any],
    convention: str,
    seed: int,
    prompts: Any = "oracle",
    raw_range: str = "auto",
    source: Mapping[str, Any] | None = None,
) -> str:
    """The per-run half of every image key: what is the same for all images of one evaluation.

    ``prompts``: ``"oracle"`` (the subset's) or the estimator that chose them (its weights' identity);
    ``raw_range``: how real frames were mapped to display. Both change what the method sees.
    ``source``: a method from outside hmtir (:mod:`hmtir.external`), whose code can change under
    the same name: its sha256 and distribution version are part of the key.
    """
    return _digest(
        {
            "method": method,
            "weights_sha256": weights_sha256,
            "metrics": metric_definitions,
            "convention": convention,
            "seed": seed,
            **({} if prompts == "oracle" else {"prompts": prompts}),
            **({} if raw_range == "auto" else {"raw_range": raw_range}),
            **({} if source is None else {"source": dict(source)}),
        }
    )


def image_key(
    config: str, degradation: str, scenario: str, input_sha256: str, target_sha256: str | None
) -> str:
    """The cache key of one image under one run configuration."""
    return _digest([config, degradation, scenario, input_sha256, target_sha256])


class ResultCache:
    """Key → finished row, read from every cache file in ``folder``; new rows go to ``folder/name``."""

    def __init__(self, folder: Path, name: str = CACHE_FILE) -> None:
        self.path = folder / name
        self._rows: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob(CACHE_GLOB)):
            for record in read_json_lines(
                path, "result cache", max_bytes=MAX_CACHE_BYTES, skip_bad=True, non_finite=True
            ):
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    if isinstance(record.get("row"), dict):
                        self._rows[record["key"]] = record["row"]
                # anything else is a torn or foreign line: that image is simply recomputed

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key)

    def put(self, key: str, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "row": row}) + "\n")
            fh.flush()
        self._rows[key] = row
