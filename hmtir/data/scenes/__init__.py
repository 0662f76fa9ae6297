"""Procedural thermal-infrared scenes: the embedded default data set, since no real TIR frames may ship.

A frame is painted in *apparent temperature* (0 = coldest, 1 = hottest) the way a white-hot LWIR camera
sees the world: clear sky is the coldest thing in view and is smooth; people, engines, tyres, exhausts
and heated windows at night are the hottest; sun-warmed asphalt and walls sit in between; vegetation is
cooler than pavement by day; glass reflects the cold sky. Man-made objects are drawn with hard polygon
edges, natural surfaces get multi-octave noise and a fine grain, so the degradations' blur and noise have
real detail to destroy. A small optical blur and the camera's automatic gain control (a percentile
stretch) finish the frame.

Everything is numpy + OpenCV drawing (20–60 ms a 640×512 frame on a loaded 2-core machine). Randomness
comes from one generator seeded by (category, seed, index), so a frame never depends on what was rendered
before it.

One module per category (``street.py``, ``building.py``, …) registers its painter in :data:`SCENES`;
shared things (sky, people, cars, trees, water) live in ``_parts.py``, the canvas, noise fields and camera
finish in ``_canvas.py``. Every public module of this package is a painter, found without a list to
edit: a new category is one new file with ``@SCENES.register("name", order=..., summary=...)``.
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hmtir.data.scenes._canvas import SCENES, Canvas, SceneMeta, finish, fractal_noise
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.safety import check_seed

__all__ = [
    "DEFAULT_SIZE",
    "SCENES",
    "SCENES_CSV",
    "SCENE_CATEGORIES",
    "SceneMeta",
    "fractal_noise",
    "make_scenes",
    "render_scene",
]

DEFAULT_SIZE = (512, 640)  # (height, width): the HM-TIR frame size
SCENES_CSV = "scenes.csv"

# every category, in listing order (street, building, skyline, vegetation, waterside, industrial, ...)
SCENE_CATEGORIES: tuple[str, ...] = tuple(sorted(SCENES.names(), key=lambda name: SCENES.meta(name).order))


def render_scene(
    category: str, seed: int, size: tuple[int, int] = DEFAULT_SIZE, *, index: int = 0
) -> np.ndarray:
    """One float32 frame in [0, 1] of shape ``size`` (H, W); equal arguments always give equal pixels."""
    painter: Callable[[Canvas], None] = SCENES.entry(category).factory
    h, w = size
    if h < 32 or w < 32:
        raise HmtirError(f"scene size must be at least 32×32 pixels, got {h}×{w}")
    seed, index = check_seed(seed, "seed"), check_seed(index, "index")
    rng = np.random.default_rng([zlib.crc32(category.encode()), seed, index])
    canvas = Canvas(rng, (h, w))
    painter(canvas)
    return finish(canvas)


def make_scenes(
    out_dir: str | os.PathLike[str],
    per_category: int = 2,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    *,
    categories: tuple[str, ...] = SCENE_CATEGORIES,
    progress: Callable[[str], None] | None = None,
) -> list[tuple[str, str]]:
    """Write ``<category>_<k:03d>.png`` (8-bit) and ``scenes.csv`` (name,scene) into ``out_dir``.

    Frames already on disk are kept (each was written atomically, so it is complete): an interrupted run
    resumes where it stopped. ``progress`` is called with each name once it is on disk.
    """
    from hmtir.io.image import write_image

    if per_category < 1:
        raise HmtirError(f"per_category must be at least 1, got {per_category}")
    check_seed(seed, "seed")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HmtirError(f"cannot write scenes to {out}: it exists and is not a folder")
    pairs = [(f"{category}_{k:03d}.png", category) for category in categories for k in range(per_category)]
    for name, category in pairs:
        target = out / name
        if not target.is_file():
            index = int(name.rsplit("_", 1)[1].split(".")[0])
            write_image(target, render_scene(category, seed, size, index=index), bit_depth=8)
        if progress is not None:
            progress(name)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "scene"])
    writer.writerows(pairs)
    atomic_write_text(out / SCENES_CSV, buffer.getvalue())
    return pairs
