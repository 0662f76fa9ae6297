"""Scene category ``building`` (close facade: window grid, thermal-bridge floor slabs, heat leaks, door)."""

from __future__ import annotations

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import building, person, sky


@SCENES.register(
    "building", order=2, summary="close facade: window grid, thermal-bridge floor slabs, heat leaks, door"
)
def paint_building(c: Canvas) -> None:
    horizon = c.py(c.uniform(0.0, 0.15))
    sky(c, max(horizon, 1))
    ground = c.py(c.uniform(0.85, 0.93))
    split = c.px(c.uniform(0.45, 0.75))
    walls = [c.day_night(day=(0.4, 0.55), night=(0.25, 0.35)) for _ in range(2)]
    building(c, 0, split - 3, horizon + c.py(0.03), ground, walls[0], True)
    building(c, split + 3, c.w, horizon + c.py(c.uniform(0.0, 0.25)), ground, walls[1], True)
    c.rect(split - 3, horizon, split + 3, ground, min(walls) - 0.05)  # shadowed gap between blocks
    c.band(ground, c.h, 0.5 if c.day else 0.3, 0.55 if c.day else 0.33, smooth=0.02, grain=0.012)
    door_x = c.px(c.uniform(0.1, 0.3))
    door_w, door_h = c.px(0.08), c.py(0.15)
    c.rect(door_x, ground - door_h, door_x + door_w, ground, walls[0] + 0.22)
    c.glow(door_x + door_w / 2, ground - door_h, door_w * 0.6, 0.12)
    pipe_x = c.px(c.uniform(0.3, 0.42))
    c.line((pipe_x, horizon + c.py(0.03)), (pipe_x, ground), walls[0] + 0.08, c.px(0.008))
    for _ in range(int(c.rng.integers(1, 4))):  # air-conditioning units: warm boxes on the wall
        ax, ay = c.px(c.uniform(0.05, 0.9)), c.py(c.uniform(0.3, 0.7))
        c.rect(ax, ay, ax + c.px(0.06), ay + c.py(0.05), walls[0] + 0.25)
        c.rect(ax + c.px(0.01), ay + c.py(0.01), ax + c.px(0.05), ay + c.py(0.04), walls[0] + 0.15)
    if c.rng.random() < 0.6:
        person(c, door_x + door_w * 1.6, c.py(0.97), c.py(0.3), 0.95)
