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

The lists in ``meta/`` may come from anyone (a download, a colleague, a submission), and every reader —
evaluate, export, verify, the datasets, the leaderboard — gets its names from :func:`split_names` and
:func:`read_scenes`, so those two refuse any name that is not a plain file name in one line
(:func:`hmtir.io.safety.check_name`), and any name listed twice (:func:`distinct_names`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from hmtir.errors import HmtirError
from hmtir.io.safety import check_name
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
        if name in out:
            raise HmtirError(f"subset {name} is named twice in '{spec}'; each subset is evaluated once")
        out.append(name)
    return out


def list_images(folder: Path) -> list[str]:
    """Sorted image file names in ``folder`` (hidden and partial files excluded)."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def read_text(path: Path) -> str:
    """A list file's text (UTF-8, a BOM allowed); anything else is a one-line error naming the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise HmtirError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise HmtirError(f"cannot read {path}: {err.strerror or err}") from None


def split_names(root: Path, split: str = "test") -> list[str]:
    """Names listed in ``meta/<split>.txt``; falls back to every clean image when the list is absent.

    Every listed name must be a plain file name (no folder, ``..``, absolute path or control character).
    """
    listing = root / META_DIR / f"{split}.txt"
    if listing.is_file():
        lines = (line.strip(" \t\r") for line in read_text(listing).split("\n"))
        entries = [(number, check_name(line, listing)) for number, line in enumerate(lines, 1) if line]
        return distinct_names(entries, listing)
    return list_images(root / CLEAN_DIR)


def distinct_names(
    entries: Iterable[tuple[int, str]], origin: str | os.PathLike[str], unit: str = "line"
) -> list[str]:
    """The names of ``(line number, name)`` entries, in order, when no two name one file; else one line.

    A frame listed twice would be scored (or trained on) twice and weigh double in every mean; two names
    equal after Unicode NFC normalisation and case folding are one file on macOS and Windows file systems,
    where the same list would silently mean something else.
    """
    seen: dict[str, tuple[int, str]] = {}
    names = []
    for number, name in entries:
        key = unicodedata.normalize("NFC", name).casefold()
        if key in seen:
            first_number, first = seen[key]
            if first == name:
                raise HmtirError(
                    f"{origin}: {ascii(name)} is listed twice ({unit}s {first_number} and {number}); "
                    "each frame counts once, remove one"
                )
            raise HmtirError(
                f"{origin}: {ascii(name)} ({unit} {number}) and {ascii(first)} ({unit} {first_number}) "
                "name the same file on a case-insensitive file system; rename one"
            )
        seen[key] = (number, name)
        names.append(name)
    return names


def read_scene_list(path: Path) -> dict[str, str]:
    """name → scene label from a ``name,scene`` CSV; names must be plain file names, labels printable."""
    try:
        rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
    except csv.Error as err:
        raise HmtirError(f"{path}: not a readable CSV ({err})") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if "name" not in header or "scene" not in header:
        raise HmtirError(f"{path}: expected a CSV with columns name,scene")
    name_at, scene_at = header.index("name"), header.index("scene")
    entries: list[tuple[int, str]] = []
    labels: list[str] = []
    for row_no, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) <= max(name_at, scene_at):
            raise HmtirError(f"{path}: row {row_no} has no {'scene' if len(row) > name_at else 'name'}")
        label = row[scene_at]
        if any(unicodedata.category(ch)[0] == "C" for ch in label):
            raise HmtirError(f"{path}: scene label {ascii(label)} contains control characters")
        entries.append((row_no, check_name(row[name_at], path)))
        labels.append(label)
    return dict(zip(distinct_names(entries, path, "row"), labels, strict=True))


def read_scenes(root: Path) -> dict[str, str]:
    """name → scene category from ``meta/scenes.csv`` (empty when the layout has no scene labels)."""
    path = root / META_DIR / SCENES_FILE
    return read_scene_list(path) if path.is_file() else {}


def manifest_hash(root: Path) -> str | None:
    """sha256 of the synthesis manifest: the identity of a benchmark's degraded images."""
    path = root / META_DIR / MANIFEST_FILE
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
