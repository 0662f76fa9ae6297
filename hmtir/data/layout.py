"""The HM-TIR directory layout, shared by synthesize, download, verify, evaluate and the leaderboard.

    ROOT/imgs/                    clean frames
    ROOT/composited/normal/       composite degradation, normal preset
    ROOT/composited/hard/         composite degradation, hard preset
    ROOT/single/{contrast,blur,noise}/
    ROOT/meta/train.txt, test.txt one image file name per line (the official split files)
    ROOT/meta/scenes.csv          name,scene   (optional; enables per-scene breakdowns)
    ROOT/meta/manifest.jsonl      one JSON record per (image, subset): every sampled parameter
    ROOT/meta/dataset.json        provenance: generator, seed, presets, hmtir version

A degraded image has the same file name as its clean target in ``imgs/``. What each subset *is* (its
preset, degradation and scenario) is defined once, in :mod:`hmtir.vocabulary`.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from hmtir.errors import HmtirError
from hmtir.vocabulary import SUBSETS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CLEAN_DIR = "imgs"
META_DIR = "meta"
MANIFEST_FILE = "manifest.jsonl"
SCENES_FILE = "scenes.csv"
DATASET_FILE = "dataset.json"


def parse_subsets(spec: str | None) -> list[str]:
    """``"all"``/None → every subset; else a comma list of subset names (short forms like ``normal`` accepted)."""
    if spec is None or spec.strip() in ("", "all"):
        return list(SUBSETS)
    short = {name.split("/")[1]: name for name in SUBSETS}
    out = []
    for part in (p.strip() for p in spec.split(",")):
        name = part if part in SUBSETS else short.get(part)
        if name is None:
            raise HmtirError(f"unknown subset '{part}' (available: {', '.join(SUBSETS)})")
        out.append(name)
    return out


def list_images(folder: Path) -> list[str]:
    """Sorted image file names in ``folder`` (hidden and partial files excluded)."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def split_names(root: Path, split: str = "test") -> list[str]:
    """Names listed in ``meta/<split>.txt``; falls back to every clean image when the list is absent."""
    listing = root / META_DIR / f"{split}.txt"
    if listing.is_file():
        return [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return list_images(root / CLEAN_DIR)


def read_scenes(root: Path) -> dict[str, str]:
    """name → scene category from ``meta/scenes.csv`` (empty when the layout has no scene labels)."""
    path = root / META_DIR / SCENES_FILE
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {row["name"]: row["scene"] for row in csv.DictReader(fh)}


def manifest_hash(root: Path) -> str | None:
    """sha256 of the synthesis manifest: the identity of a benchmark's degraded images."""
    path = root / META_DIR / MANIFEST_FILE
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
