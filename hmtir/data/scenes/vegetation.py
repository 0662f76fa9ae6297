"""Scene category ``vegetation`` (park or wood edge: trees and conifers, bushes, grass, path, people/deer)."""

from __future__ import annotations

import numpy as np

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import animal, person, sky_to, tree, tree_line


@SCENES.register(
    "vegetation", order=4, summary="park or wood edge: trees and conifers, bushes, grass, path, people/deer"
)
def paint_vegetation(c: Canvas) -> None:
    horizon = sky_to(c, 0.15, 0.35)
    grass = c.day_night(day=(0.42, 0.52), night=(0.26, 0.34))
    c.band(horizon, c.h, grass - 0.05, grass + 0.05, smooth=0.04, grain=0.015, clumps=0.04)
    tree_line(c, horizon + c.py(0.02), 0.14, grass + (-0.12 if c.day else 0.06))
    path_x = c.px(c.uniform(0.3, 0.7))
    path = c.poly_mask(
        np.array(
            [
                (path_x - c.px(0.02), horizon + c.py(0.03)),
                (path_x + c.px(0.02), horizon + c.py(0.03)),
                (path_x + c.px(0.25), c.h),
                (path_x - c.px(0.2), c.h),
            ]
        )
    )
    c.textured(path, grass + (0.12 if c.day else 0.04), smooth=0.02, grain=0.02)
    trees = sorted(
        (c.uniform(horizon / c.h + 0.15, 1.0), c.px(c.uniform(0.0, 1.0)), bool(c.rng.random() < 0.4))
        for _ in range(int(c.rng.integers(4, 9)))
    )
    for depth, tx, conifer in trees:
        height = c.py(0.2 + 0.45 * depth)
        # leaves stay cooler than sunlit grass by day; at night grass radiates to the sky and ends up colder
        canopy = grass + (-c.uniform(0.1, 0.18) if c.day else c.uniform(0.05, 0.12))
        tree(c, tx, c.py(depth), height, canopy, grass + 0.06, conifer)
    for _ in range(int(c.rng.integers(2, 6))):  # low bushes
        bx, by = c.px(c.uniform(0, 1)), c.py(c.uniform(0.6, 1.0))
        tree(c, bx, by, c.py(0.12), grass - 0.08, grass - 0.05, False)
    if c.rng.random() < 0.5:
        animal(c, c.px(c.uniform(0.2, 0.8)), c.py(0.8), c.px(0.12), 0.85, 1 if c.rng.random() < 0.5 else -1)
    for _ in range(int(c.rng.integers(0, 3))):
        person(c, path_x + c.px(c.uniform(-0.05, 0.08)), c.py(c.uniform(0.7, 0.95)), c.py(0.22), 0.93)
