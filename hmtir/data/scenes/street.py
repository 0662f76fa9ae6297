"""Scene category ``street`` (street level: facades, pavement, road with cars/buses, pedestrians, lamps)."""

from __future__ import annotations

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import building, car_side, person, sky_to


def bus_side(c: Canvas, x: float, ground: float, length: float, body: float, running: bool) -> None:
    """A bus or lorry: a long box with a row of cold windows and a hot rear engine bay."""
    L = length
    r = 0.05 * L
    top = ground - 0.3 * L
    c.rect(x, top, x + L, ground - 0.7 * r, body)
    glass = body - c.uniform(0.1, 0.2)
    n = 6
    for i in range(n):
        wx = x + 0.04 * L + i * 0.9 * L / n
        c.rect(wx, top + 0.04 * L, wx + 0.12 * L, top + 0.12 * L, glass)
    if running:
        c.rect(x, ground - 0.14 * L, x + 0.12 * L, ground - 0.7 * r, body + 0.25)
    for t in (0.15, 0.8):
        c.ellipse(x + t * L, ground - r, r, r, body + (0.2 if running else 0.05))


@SCENES.register(
    "street", order=1, summary="street level: facades, pavement, road with cars/buses, pedestrians, lamps"
)
def paint_street(c: Canvas) -> None:
    horizon = sky_to(c, 0.08, 0.2)
    kerb, road_top = c.py(0.56), c.py(0.63)
    x = -c.px(c.uniform(0, 0.1))
    while x < c.w:
        bw = c.px(c.uniform(0.18, 0.38))
        top = horizon + c.py(c.uniform(-0.08, 0.12))
        building(c, x, x + bw - 2, top, kerb, c.day_night(day=(0.4, 0.52), night=(0.28, 0.38)), False)
        x += bw
    pavement = c.day_night(day=(0.5, 0.6), night=(0.32, 0.4))
    c.band(kerb, road_top, pavement, pavement + 0.03, smooth=0.02, grain=0.012)
    asphalt = c.day_night(day=(0.58, 0.68), night=(0.36, 0.44))
    c.band(road_top, c.h, asphalt - 0.04, asphalt + 0.02, smooth=0.025, grain=0.015)
    c.rect(0, road_top - 2, c.w, road_top + 1, pavement + 0.05)  # kerb stone
    paint = asphalt - 0.1
    lane_y = c.py(0.8)
    for dash_x in range(-c.px(c.uniform(0, 0.1)), c.w, c.px(0.16)):
        c.rect(dash_x, lane_y, dash_x + c.px(0.08), lane_y + c.py(0.008), paint)
    for _ in range(int(c.rng.integers(2, 4))):
        lx = c.px(c.uniform(0.05, 0.95))
        c.line((lx, road_top), (lx, kerb - c.py(0.3)), 0.4 if c.day else 0.3, c.px(0.006))
        c.ellipse(lx + c.px(0.015), kerb - c.py(0.3), c.px(0.018), c.py(0.008), 0.45 if c.day else 0.95)
    for lane, scale in ((0.76, 0.22), (0.97, 0.3)):
        x = c.px(c.uniform(-0.1, 0.3))
        while x < c.w:
            length = c.px(scale * c.uniform(0.9, 1.1))
            facing = 1 if lane < 0.9 else -1
            body = c.uniform(0.42, 0.55)
            running = bool(c.rng.random() < 0.8)
            if c.rng.random() < 0.2:
                bus_side(c, x, c.py(lane), length * 1.8, body, running)
                length = int(length * 1.8)
            else:
                car_side(c, x, c.py(lane), length, facing, body, running)
            x += length + c.px(c.uniform(0.05, 0.4))
    for _ in range(int(c.rng.integers(2, 6))):
        person(c, c.px(c.uniform(0.05, 0.95)), c.py(c.uniform(0.58, 0.62)), c.py(c.uniform(0.15, 0.2)), 0.92)
    if c.rng.random() < 0.5:
        person(c, c.px(c.uniform(0.1, 0.9)), c.py(0.99), c.py(0.32), 0.95)
