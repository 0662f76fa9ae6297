"""Scene category ``parking`` (car park from above: asphalt, painted bays, parked/just-driven cars, trees,
people).
"""

from __future__ import annotations

import math

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import tree


def car_top(c: Canvas, cx: float, cy: float, length: float, angle: float, body: float, running: bool) -> None:
    """A car seen from above: roof and boot at body temperature, cold windscreens, hot bonnet if driven."""
    import cv2

    def box(t0: float, t1: float, width: float, value: float) -> None:
        centre = (t0 + t1) / 2 * length
        rad = math.radians(angle)
        pcx, pcy = cx + centre * math.cos(rad), cy + centre * math.sin(rad)
        pts = cv2.boxPoints(((pcx, pcy), ((t1 - t0) * length, width), angle))
        c.poly(pts, value)

    width = 0.45 * length
    box(-0.5, 0.5, width, body)
    if running:
        box(0.22, 0.5, width * 0.92, body + c.uniform(0.2, 0.3))
    glass = body - c.uniform(0.12, 0.2)
    box(0.08, 0.22, width * 0.85, glass)
    box(-0.38, -0.28, width * 0.85, glass)


@SCENES.register(
    "parking",
    order=7,
    summary="car park from above: asphalt, painted bays, parked/just-driven cars, trees, people",
)
def paint_parking(c: Canvas) -> None:
    asphalt = c.day_night(day=(0.58, 0.68), night=(0.36, 0.44))
    c.img[:] = asphalt + 0.03 * c.cloud + 0.018 * c.grain
    paint = asphalt - (0.12 if c.day else 0.04)
    bay_w, bay_l = c.px(0.075), c.py(0.2)
    angle_jitter = c.uniform(-2, 2)
    # bays hang off a painted line: one row along the top, a back-to-back double row in the middle
    for row_y, direction in ((c.py(0.03), 1), (c.py(0.64), -1), (c.py(0.64), 1)):
        c.line((0, row_y), (c.w, row_y), paint, 2)
        y_end = row_y + direction * bay_l
        for bx in range(c.px(c.uniform(0, 0.05)), c.w + bay_w, bay_w):
            c.line((bx, row_y), (bx, y_end), paint, 2)
            if c.rng.random() < 0.75:
                running = bool(c.rng.random() < 0.3)
                body = asphalt - c.day_night(day=(0.05, 0.15), night=(-0.02, 0.05))
                nose_in = c.rng.random() < 0.85  # most drivers park nose first, towards the line
                heading = (90 if direction > 0 else -90) + (0 if nose_in else 180)
                car_top(
                    c,
                    bx + bay_w / 2,
                    (row_y + y_end) / 2,
                    bay_l * 0.85,
                    heading + angle_jitter,
                    body,
                    running,
                )
    verge_y = c.py(0.88)
    grass = asphalt - (0.15 if c.day else -0.02)
    c.band(verge_y, c.h, grass, grass, smooth=0.04, grain=0.015, clumps=0.04)
    c.rect(0, verge_y - 2, c.w, verge_y + 1, asphalt + 0.06)
    for _ in range(int(c.rng.integers(2, 5))):  # tree canopies from above, with cold shadows by day
        tx, ty, rad = c.px(c.uniform(0, 1)), c.py(c.uniform(0.86, 1.0)), c.px(c.uniform(0.04, 0.07))
        if c.day:
            c.ellipse(tx + rad * 0.8, ty + rad * 0.5, rad * 1.1, rad, grass - 0.08)
        tree(c, tx, ty + rad * 1.3, rad * 2.2, grass - 0.06, grass - 0.06, False)
    for _ in range(int(c.rng.integers(2, 7))):  # people from above: hot head on warm shoulders
        px, py = c.px(c.uniform(0.02, 0.98)), c.py(c.uniform(0.28, 0.4))
        c.ellipse(px, py, c.px(0.014), c.px(0.008), 0.85, angle=c.uniform(0, 180))
        c.ellipse(px, py, c.px(0.006), c.px(0.006), 0.97)
