"""Scene category ``field`` (open country: distant wood, furrowed field in perspective, fence, animals)."""

from __future__ import annotations

import numpy as np

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import animal, person, sky_to, tree_line


@SCENES.register(
    "field", order=8, summary="open country: sky, distant wood, furrowed field in perspective, fence, animals"
)
def paint_field(c: Canvas) -> None:
    horizon = sky_to(c, 0.25, 0.42)
    soil = c.day_night(day=(0.45, 0.58), night=(0.22, 0.3))
    c.band(horizon, c.h, soil - 0.06, soil + 0.06, smooth=0.05, grain=0.015, clumps=0.03)
    vanish_x = c.px(c.uniform(0.2, 0.8))
    rows = np.arange(horizon, c.h, dtype=np.float32)[:, None]
    cols = np.arange(c.w, dtype=np.float32)[None, :]
    depth = (rows - horizon + 1) / (c.h - horizon)  # 0 far … 1 near
    period = c.px(c.uniform(0.05, 0.08))  # furrow spacing at the bottom edge, in pixels
    furrow = np.sin((cols - vanish_x) / depth * (2 * np.pi / period))
    visible = np.clip((period * depth - 4.0) / 8.0, 0, 1)  # fade out where furrows would alias
    c.img[horizon:] += (0.045 * furrow * visible).astype(np.float32)
    tree_line(c, horizon + 1, c.uniform(0.04, 0.1), soil - (0.12 if c.day else -0.04))
    if c.rng.random() < 0.6:  # a farm shed on the horizon
        sx, sw = c.px(c.uniform(0.05, 0.8)), c.px(c.uniform(0.08, 0.14))
        c.rect(sx, horizon - c.py(0.06), sx + sw, horizon + 1, soil + 0.04)
        c.poly(
            [
                (sx - 3, horizon - c.py(0.06)),
                (sx + sw + 3, horizon - c.py(0.06)),
                (sx + sw / 2, horizon - c.py(0.1)),
            ],
            soil,
        )
    fence_y = c.py(c.uniform(0.7, 0.8))
    wire = soil - 0.1
    c.line((0, fence_y - c.py(0.05)), (c.w, fence_y - c.py(0.04)), wire, 1)
    c.line((0, fence_y - c.py(0.1)), (c.w, fence_y - c.py(0.085)), wire, 1)
    for post in range(c.px(c.uniform(0, 0.1)), c.w, c.px(0.11)):
        c.rect(post, fence_y - c.py(0.12), post + c.px(0.008), fence_y, soil + (0.06 if c.day else -0.04))
    for _ in range(int(c.rng.integers(1, 5))):
        depth_y = c.uniform(horizon / c.h + 0.08, 0.68)
        scale = (depth_y - horizon / c.h) / (1 - horizon / c.h)
        animal(
            c,
            c.px(c.uniform(0.05, 0.95)),
            c.py(depth_y),
            c.px(0.05 + 0.15 * scale),
            0.85,
            1 if c.rng.random() < 0.5 else -1,
        )
    if c.rng.random() < 0.5:
        person(c, c.px(c.uniform(0.1, 0.9)), c.py(0.96), c.py(0.3), 0.94)
