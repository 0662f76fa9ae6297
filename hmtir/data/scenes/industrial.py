"""Scene category ``industrial`` (plant: sawtooth halls, chimneys with warm plumes, tanks, pipes, pylons,
lines).
"""

from __future__ import annotations

import numpy as np

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import car_side, person, sky_to


def pylon(c: Canvas, x: float, base: float, height: float, metal: float) -> list[tuple[float, float]]:
    """A lattice transmission tower; returns the conductor attachment points for the power lines."""
    half_base, half_top = 0.14 * height, 0.035 * height
    levels = 7
    legs = []
    for side in (-1, 1):
        legs.append(
            [
                (
                    x + side * (half_base + (half_top - half_base) * k / levels),
                    base - height * 0.8 * k / levels,
                )
                for k in range(levels + 1)
            ]
        )
    for side in (0, 1):
        for a, b in zip(legs[side][:-1], legs[side][1:]):
            c.line(a, b, metal, 2)
    for k in range(levels):
        c.line(legs[0][k], legs[1][k + 1], metal, 1)
        c.line(legs[1][k], legs[0][k + 1], metal, 1)
        c.line(legs[0][k], legs[1][k], metal, 1)
    c.line((x - half_top, base - 0.8 * height), (x, base - height), metal, 2)
    c.line((x + half_top, base - 0.8 * height), (x, base - height), metal, 2)
    points = []
    for level, span in ((0.62, 0.3), (0.8, 0.22)):
        y = base - level * height
        c.line((x - span * height, y), (x + span * height, y), metal, 2)
        for side in (-1, 1):
            tip = (x + side * span * height * 0.92, y)
            c.line(tip, (tip[0], y + 0.05 * height), metal + 0.05, 2)
            points.append((tip[0], y + 0.05 * height))
    return points


def power_line(c: Canvas, p0: tuple[float, float], p1: tuple[float, float], sag: float, value: float) -> None:
    t = np.linspace(0, 1, 40)
    xs = p0[0] + (p1[0] - p0[0]) * t
    ys = p0[1] + (p1[1] - p0[1]) * t + sag * 4 * t * (1 - t)
    for i in range(len(t) - 1):
        c.line((xs[i], ys[i]), (xs[i + 1], ys[i + 1]), value, 1)


@SCENES.register(
    "industrial",
    order=6,
    summary="plant: sawtooth halls, chimneys with warm plumes, tanks, pipes, pylons, lines",
)
def paint_industrial(c: Canvas) -> None:
    import cv2

    horizon = sky_to(c, 0.5, 0.62)
    metal = c.uniform(0.3, 0.4)
    tower_h = c.py(c.uniform(0.35, 0.5))
    px0 = c.px(c.uniform(0.05, 0.25))
    spacing = c.px(c.uniform(0.45, 0.6))
    attach = [
        pylon(c, px, horizon, tower_h * (1 - 0.3 * i), metal) for i, px in enumerate((px0, px0 + spacing))
    ]
    for a, b in zip(attach[0], attach[1]):
        power_line(c, a, b, c.py(0.04), metal)
    for a in attach[1]:
        power_line(c, a, (c.w + 5, a[1] + c.py(0.05)), c.py(0.03), metal)
    for a in attach[0]:
        power_line(c, (-5, a[1] - c.py(0.05)), a, c.py(0.03), metal)
    ground = c.day_night(day=(0.45, 0.55), night=(0.28, 0.34))
    c.band(horizon, c.h, ground - 0.04, ground + 0.04, smooth=0.03, grain=0.02)
    hall = c.day_night(day=(0.45, 0.55), night=(0.32, 0.4))
    hx0, hx1 = c.px(c.uniform(0.0, 0.2)), c.px(c.uniform(0.55, 0.8))
    roof, floor = horizon - c.py(0.06), horizon + c.py(0.16)
    c.rect(hx0, roof, hx1, floor, hall)
    tooth = c.px(0.06)
    for tx in range(hx0, hx1 - tooth + 1, tooth):
        c.poly([(tx, roof), (tx + tooth, roof), (tx + tooth, roof - c.py(0.05))], hall + 0.04)
        c.line((tx + tooth, roof), (tx + tooth, roof - c.py(0.05)), hall - 0.12, 2)  # north-light glazing
    for gx in range(hx0 + c.px(0.03), hx1 - c.px(0.05), c.px(0.09)):
        c.rect(
            gx, roof + c.py(0.05), gx + c.px(0.05), floor - c.py(0.02), hall + (0.25 if c.night else -0.08)
        )
    stack_x = c.px(c.uniform(0.6, 0.9))
    stack_top = c.py(c.uniform(0.08, 0.2))
    stack_w = c.px(0.035)
    plume = np.zeros((c.h, c.w), np.float32)
    centres = [(stack_x + stack_w / 2 + k * c.px(0.02), stack_top - k * c.py(0.018)) for k in range(10)]
    for k, (pcx, pcy) in enumerate(centres):
        cv2.circle(
            plume, (int(pcx), int(pcy)), max(2, int(stack_w * (0.5 + 0.35 * k))), 1.0 / (1 + 0.35 * k), -1
        )
    plume = cv2.GaussianBlur(plume, (0, 0), stack_w * 0.8) * (1 + 0.3 * c.cloud)
    c.img += 0.35 * np.clip(plume, 0, 1)
    c.poly(
        [
            (stack_x, floor),
            (stack_x + stack_w, floor),
            (stack_x + 0.8 * stack_w, stack_top),
            (stack_x + 0.2 * stack_w, stack_top),
        ],
        hall + 0.05,
    )
    c.rect(stack_x + 0.2 * stack_w, stack_top, stack_x + 0.8 * stack_w, stack_top + c.py(0.03), hall + 0.35)
    tank_y = horizon + c.py(0.28)
    for k in range(int(c.rng.integers(1, 4))):  # cylindrical tanks, shaded across by the sun
        tw = c.px(c.uniform(0.1, 0.16))
        tx = c.px(0.05) + k * (tw + c.px(0.04))
        th = c.py(c.uniform(0.14, 0.22))
        shade = (np.cos(np.linspace(-1.2, 1.2, tw)) * (0.1 if c.day else 0.03)).astype(np.float32)
        tank = c.uniform(0.35, 0.45) + shade
        y0 = max(0, tank_y - th)
        c.img[y0:tank_y, tx : tx + tw] = tank[None, : max(0, min(tw, c.w - tx))]
        c.ellipse(tx + tw / 2, y0, tw / 2, c.py(0.015), float(tank.mean()) + 0.05)
    pipe_y = c.py(c.uniform(0.86, 0.93))
    pipe = c.uniform(0.7, 0.85)  # process pipes carry heat
    c.line((0, pipe_y), (c.w, pipe_y), pipe, c.py(0.02))
    for sx in range(c.px(0.04), c.w, c.px(0.12)):
        c.rect(sx - 2, pipe_y, sx + 2, c.h, ground + 0.05)
        c.glow(sx, pipe_y, c.py(0.012), 0.12)  # flanges leak heat
    if c.rng.random() < 0.6:
        person(c, c.px(c.uniform(0.3, 0.7)), c.py(0.98), c.py(0.24), 0.94)
    if c.rng.random() < 0.5:
        car_side(c, c.px(c.uniform(0.5, 0.75)), c.py(0.83), c.px(0.18), -1, c.uniform(0.4, 0.5), True)
