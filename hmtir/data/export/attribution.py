"""Where an export's clean frames come from, and under what licence.

``meta/dataset.json`` names the folder the clean frames were synthesised from, which is matched against
the download registry (:mod:`hmtir.data.sources`: HM-TIR, HIT-UAV, ...) and hmtir's procedural scenes; a
tree without ``dataset.json`` has the layout of the official HM-TIR release. ``source=`` states it instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from hmtir.data.export.tree import split_lists
from hmtir.data.layout import read_scenes
from hmtir.errors import HmtirError

PROCEDURAL = "hmtir-scenes"  # the procedural scenes of hmtir.data.scenes, as a ``source``
_HF_LICENSES = {"cc by 4.0": "cc-by-4.0", "cc-by-4.0": "cc-by-4.0", "mit": "mit", "apache-2.0": "apache-2.0"}


@dataclass(frozen=True)
class Attribution:
    """Where the clean frames come from, under what licence, and how that was found out."""

    source: str | None  # a source registry name, PROCEDURAL, or None (unknown)
    summary: str
    license: str
    citation: str | None
    how: str  # how the source was identified
    official: bool = False  # the degraded frames are the official HM-TIR release's, not hmtir's

    @property
    def hf_license(self) -> str:
        """The Hub's licence id: a known SPDX-like id, ``other`` (terms elsewhere) or ``unknown``."""
        if self.source is None:
            return "unknown"
        return _HF_LICENSES.get(self.license.split("(")[0].strip().lower(), "other")

    @property
    def license_link(self) -> str | None:
        found = re.search(r"github\.com/[\w.-]+/[\w.-]+", self.license)
        return f"https://{found.group(0)}" if found else None


def _registry_attribution(name: str, how: str, official: bool = False) -> Attribution:
    from hmtir.data.sources import load_sources

    meta = load_sources().meta(name)
    return Attribution(
        meta.name, meta.summary, meta.license or "not stated", meta.citation, how, official=official
    )


def _procedural(how: str) -> Attribution:
    return Attribution(
        PROCEDURAL,
        "procedural TIR scenes rendered by hmtir.data.scenes, no real data",
        "MIT (hmtir, the code that renders them)",
        None,
        how,
    )


def attribution(root: Path, provenance: dict[str, Any] | None, source: str | None = None) -> Attribution:
    """Identify the source of ``root``'s clean frames (``source`` names it instead: a registry entry or
    ``hmtir-scenes``)."""
    from hmtir.data.sources import load_sources

    registry = load_sources()
    datasets_ = [meta for meta in (e.meta for e in registry) if meta.kind == "dataset"]
    if source is not None:
        if source == PROCEDURAL:
            return _procedural("stated by the exporter (--source)")
        names = [m.name for m in datasets_]
        if source not in names:
            raise HmtirError(f"unknown source '{source}' (datasets: {', '.join([*names, PROCEDURAL])})")
        return _registry_attribution(source, "stated by the exporter (--source)")
    if provenance is None:
        return _registry_attribution(
            "hm-tir", "the tree has no meta/dataset.json: the layout of the official HM-TIR release", True
        )
    recorded = str(provenance.get("source") or "")
    parts = set(PurePath(recorded).parts)
    for meta in datasets_:
        folders = {meta.name} | {f.folder for f in meta.files if f.extract}
        hit = sorted(parts & folders)
        if hit:
            return _registry_attribution(
                meta.name,
                f"meta/dataset.json: the frames were read from a folder named {hit[0]},"
                " as hmtir download unpacks it",
            )
    scenes = read_scenes(root)
    names = [name for split in split_lists(root) for name in split]
    if names and _all_procedural({name: scenes.get(name, "") for name in names}):
        return _procedural("meta/scenes.csv: every frame is a procedural scene named after its category")
    folder = PurePath(recorded).name or "?"
    return Attribution(None, f"frames from a folder '{folder}'", "not recorded", None, "not recorded")


def _all_procedural(scenes: dict[str, str]) -> bool:
    from hmtir.data.scenes import SCENE_CATEGORIES

    return all(
        label in SCENE_CATEGORIES and re.fullmatch(rf"{re.escape(label)}_\d{{3}}\.png", name)
        for name, label in scenes.items()
    )
