"""Scene category ``waterside`` (river or harbour: cold rippled water, far shore, quay with railing, boat,
people).
"""

from __future__ import annotations

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import person, sky_to, tree_line, water


@SCENES.register(
    "waterside",
    order=5,
    summary="river or harbour: cold rippled water, far shore, quay with railing, boat, people",
)
def paint_waterside(c: Canvas) -> None:
    horizon = sky_to(c, 0.25, 0.4)
    shore = horizon + c.py(c.uniform(0.04, 0.08))
    land = c.day_night(day=(0.38, 0.48), night=(0.25, 0.32))
    c.band(horizon, shore, land, land, smooth=0.02, grain=0.02)
    tree_line(c, horizon + c.py(0.01), 0.07, land - (0.08 if c.day else 0.0))
    for _ in range(int(c.rng.integers(2, 6))):  # houses on the far shore
        hx, hw = c.px(c.uniform(0, 0.95)), c.px(c.uniform(0.04, 0.09))
        top = shore - c.py(c.uniform(0.06, 0.12))
        c.rect(hx, top, hx + hw, shore, land + 0.08)
        c.poly([(hx - 2, top), (hx + hw + 2, top), (hx + hw / 2, top - c.py(0.03))], land + 0.02)
        if c.night:
            c.rect(hx + hw * 0.3, top + c.py(0.02), hx + hw * 0.5, top + c.py(0.035), land + 0.4)
    quay = c.py(c.uniform(0.82, 0.9))
    water(c, shore, c.uniform(0.14, 0.22))
    c.img[quay:] = 0  # repaint below the quay edge
    concrete = c.day_night(day=(0.5, 0.6), night=(0.32, 0.4))
    c.band(quay, c.h, concrete, concrete + 0.04, smooth=0.02, grain=0.015)
    c.rect(0, quay, c.w, quay + c.py(0.012), concrete + 0.06)
    rail_top = quay - c.py(0.09)
    c.line((0, rail_top), (c.w, rail_top), concrete - 0.05, c.py(0.008))
    for post in range(0, c.w, c.px(0.09)):
        c.line((post, rail_top), (post, quay), concrete - 0.05, c.px(0.006))
    if c.rng.random() < 0.7:  # a boat with a warm cabin and engine
        bx, by = c.px(c.uniform(0.1, 0.6)), c.py(c.uniform(0.55, 0.7))
        bl = c.px(c.uniform(0.2, 0.3))
        c.poly(
            [(bx, by), (bx + bl, by), (bx + 0.85 * bl, by + 0.12 * bl), (bx + 0.1 * bl, by + 0.12 * bl)], 0.42
        )
        c.rect(bx + 0.3 * bl, by - 0.14 * bl, bx + 0.6 * bl, by, 0.5)
        c.rect(bx + 0.35 * bl, by - 0.11 * bl, bx + 0.55 * bl, by - 0.06 * bl, 0.3 if c.day else 0.75)
        c.glow(bx + 0.05 * bl, by + 0.06 * bl, 0.04 * bl, 0.4)
    for _ in range(int(c.rng.integers(1, 4))):
        person(c, c.px(c.uniform(0.05, 0.95)), c.py(c.uniform(0.93, 0.99)), c.py(0.26), 0.94)
