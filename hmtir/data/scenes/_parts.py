"""Things that appear in more than one category: sky, people, animals, cars, buildings, trees, water.

Temperatures follow a white-hot LWIR camera (see the package docstring): skin and running engines are
hottest, glass mirrors the cold sky, foliage is cooler than sunlit pavement by day.
"""

from __future__ import annotations

import numpy as np

from hmtir.data.scenes._canvas import Canvas, fractal_noise


def sky(c: Canvas, horizon: int) -> None:
    """Clear sky: coldest at the zenith, warmer towards the horizon (longer air path), very smooth."""
    zenith = c.uniform(0.02, 0.08)
    near_horizon = zenith + c.uniform(0.12, 0.22)
    rows = np.linspace(0.0, 1.0, max(horizon, 1), dtype=np.float32) ** 1.6
    c.img[:horizon] = (zenith + (near_horizon - zenith) * rows)[:, None] + 0.012 * c.cloud[:horizon]


def sky_to(c: Canvas, low: float, high: float) -> int:
    """Clear sky down to a horizon drawn between the fractions ``low`` and ``high`` of the height; its row."""
    horizon = c.py(c.uniform(low, high))
    sky(c, horizon)
    return horizon


def person(c: Canvas, x: float, feet: float, height: float, skin: float) -> None:
    """A standing person: the face and hands hottest, clothing a little cooler, legs cooler still."""
    h = height
    clothes, legs = skin - c.uniform(0.06, 0.14), skin - c.uniform(0.12, 0.22)
    hip, shoulder = feet - 0.47 * h, feet - 0.80 * h
    stride = c.uniform(-0.08, 0.08) * h
    c.line((x - 0.05 * h, hip), (x - 0.05 * h - stride, feet), legs, 0.09 * h)
    c.line((x + 0.05 * h, hip), (x + 0.05 * h + stride, feet), legs, 0.09 * h)
    c.poly(
        [(x - 0.13 * h, shoulder), (x + 0.13 * h, shoulder), (x + 0.10 * h, hip), (x - 0.10 * h, hip)],
        clothes,
    )
    swing = c.uniform(-0.06, 0.06) * h
    c.line((x - 0.14 * h, shoulder + 0.02 * h), (x - 0.17 * h + swing, hip + 0.02 * h), clothes, 0.06 * h)
    c.line((x + 0.14 * h, shoulder + 0.02 * h), (x + 0.17 * h - swing, hip + 0.02 * h), clothes, 0.06 * h)
    c.ellipse(x - 0.17 * h + swing, hip + 0.03 * h, 0.03 * h, 0.035 * h, skin)
    c.ellipse(x + 0.17 * h - swing, hip + 0.03 * h, 0.03 * h, 0.035 * h, skin)
    c.line((x, shoulder), (x, shoulder - 0.06 * h), skin, 0.06 * h)
    c.ellipse(x, feet - 0.91 * h, 0.065 * h, 0.085 * h, skin + 0.04)


def animal(c: Canvas, x: float, ground: float, length: float, warm: float, facing: int) -> None:
    """A grazing animal seen from the side (cow, deer): warm body, hot head, thin legs."""
    body_h = 0.45 * length
    top = ground - 0.55 * length
    for dx in (0.15, 0.3, 0.7, 0.85):
        leg_x = x + facing * (dx - 0.5) * length
        c.line((leg_x, top + body_h * 0.7), (leg_x, ground), warm - 0.1, 0.06 * length)
    c.ellipse(x, top + body_h / 2, length / 2, body_h / 2, warm)
    head_x = x + facing * 0.58 * length
    c.line(
        (x + facing * 0.4 * length, top + 0.2 * body_h), (head_x, top + 0.05 * body_h), warm, 0.14 * length
    )
    c.ellipse(head_x + facing * 0.05 * length, top + 0.12 * body_h, 0.1 * length, 0.07 * length, warm + 0.05)


def car_side(
    c: Canvas, x: float, ground: float, length: float, facing: int, body: float, running: bool
) -> None:
    """A car from the side: glass mirrors the cold sky, tyres and (if running) engine and exhaust are hot."""
    L = length
    r = 0.105 * L
    belt = ground - 0.24 * L
    front, back = (x + L, x) if facing > 0 else (x, x + L)

    def along(t: float) -> float:  # 0 = rear, 1 = front
        return back + (front - back) * t

    c.poly(
        [
            (along(0), ground - 0.6 * r),
            (along(1), ground - 0.6 * r),
            (along(1), belt + 0.02 * L),
            (along(0.97), belt),
            (along(0.03), belt - 0.01 * L),
            (along(0), belt + 0.03 * L),
        ],
        body,
    )
    roof = ground - 0.36 * L
    c.poly([(along(0.08), belt), (along(0.25), roof), (along(0.62), roof), (along(0.78), belt)], body)
    glass = body - c.uniform(0.12, 0.22)
    inset = 0.025 * L

    def window(rear_low: float, rear_high: float, front_high: float, front_low: float) -> None:
        """A side window, its corners given along the car at the belt line and under the roof."""
        low, high = belt - 0.2 * inset, roof + inset
        c.poly(
            [
                (along(rear_low), low),
                (along(rear_high), high),
                (along(front_high), high),
                (along(front_low), low),
            ],
            glass,
        )

    window(0.12, 0.27, 0.42, 0.42)
    window(0.46, 0.46, 0.6, 0.73)
    if running:
        c.poly(
            [
                (along(0.8), ground - 0.7 * r),
                (along(1), ground - 0.7 * r),
                (along(1), belt + 0.02 * L),
                (along(0.8), belt + 0.01 * L),
            ],
            body + c.uniform(0.18, 0.3),
        )
        c.glow(along(-0.005), ground - 0.8 * r, 0.03 * L, 0.35)
    tyre = body + (0.2 if running else 0.05)
    for t in (0.18, 0.82):
        c.ellipse(along(t), ground - r, r, r, tyre)
        c.ellipse(along(t), ground - r, 0.5 * r, 0.5 * r, tyre - 0.12)
    c.line((along(0.5), belt + 0.01 * L), (along(0.5), ground - 0.8 * r), body - 0.04, 0.006 * L)


def window_grid(c: Canvas, x0: float, y0: float, x1: float, y1: float, wall: float, detail: bool) -> None:
    """Windows on a facade: by day cold glass; at night some rooms heated or lit, every pane leaking heat."""
    floor_h = c.uniform(0.045, 0.08) * c.h * (1.6 if detail else 1.0)
    col_w = floor_h * c.uniform(0.7, 1.2)
    rows = max(1, int((y1 - y0) / floor_h))
    cols = max(1, int((x1 - x0) / col_w))
    pad_x, pad_y = (x1 - x0 - cols * col_w) / 2, (y1 - y0 - rows * floor_h) / 2
    slab = wall + c.uniform(0.03, 0.07)  # floor slabs are thermal bridges
    for row in range(rows):
        fy = y0 + pad_y + row * floor_h
        if detail:
            c.rect(x0, fy + floor_h * 0.92, x1, fy + floor_h, slab)
        for col in range(cols):
            wx = x0 + pad_x + col * col_w
            if c.night:
                lit = c.rng.random() < 0.35
                pane = wall + (c.uniform(0.25, 0.4) if lit else c.uniform(0.06, 0.14))
            else:
                pane = wall - c.uniform(0.1, 0.2)
            ax0, ay0 = wx + 0.22 * col_w, fy + 0.22 * floor_h
            ax1, ay1 = wx + 0.78 * col_w, fy + 0.72 * floor_h
            if detail:
                c.rect(ax0 - 2, ay0 - 2, ax1 + 2, ay1 + 2, wall + 0.05)  # frame
            c.rect(ax0, ay0, ax1, ay1, pane)
            if detail and c.night and c.rng.random() < 0.5:  # radiator under the sill
                c.glow((ax0 + ax1) / 2, ay1 + 0.12 * floor_h, 0.12 * col_w, c.uniform(0.08, 0.15))


def building(c: Canvas, x0: float, x1: float, top: float, bottom: float, wall: float, detail: bool) -> None:
    mask = np.zeros((c.h, c.w), bool)
    mask[max(0, int(top)) : max(0, int(bottom)), max(0, int(x0)) : max(0, int(x1))] = True
    c.textured(mask, wall, smooth=0.015, grain=0.006)
    window_grid(
        c,
        x0 + 0.02 * (x1 - x0),
        top + 0.03 * (bottom - top),
        x1,
        bottom - 0.08 * (bottom - top),
        wall,
        detail,
    )


def tree(c: Canvas, x: float, base: float, height: float, canopy: float, trunk: float, conifer: bool) -> None:
    """A tree: a warm-ish trunk and a leafy canopy of overlapping blobs with fine texture."""
    import cv2

    width = height * (c.uniform(0.3, 0.4) if conifer else c.uniform(0.5, 0.8))
    c.line((x, base), (x, base - 0.5 * height), trunk, max(2, 0.05 * width))
    mask = np.zeros((c.h, c.w), np.uint8)
    if conifer:
        for k in range(4):
            y = base - height * (0.25 + 0.18 * k)
            half = width * (0.5 - 0.1 * k)
            tri = np.array([(x - half, y), (x + half, y), (x, y - 0.3 * height)])
            cv2.fillPoly(mask, [np.round(tri).astype(np.int32)], 1)
    else:
        for _ in range(9):
            bx = x + c.rng.normal(0, 0.22) * width
            by = base - height * (0.65 + c.rng.normal(0, 0.12))
            radius = max(2, int(width * c.uniform(0.18, 0.3)))
            cv2.circle(mask, (int(bx), int(by)), radius, 1, -1)
    c.textured(mask.view(bool), canopy, smooth=0.03, grain=0.015, clumps=0.05)


def tree_line(c: Canvas, horizon: int, depth: float, value: float) -> None:
    """A distant wood along the horizon: a bumpy silhouette filled with leafy texture."""
    bumps = fractal_noise(c.rng, (2, c.w), cells=40, octaves=3)[0]
    top = horizon - depth * c.h * (0.75 + 0.18 * bumps)
    rows = np.arange(c.h)[:, None]
    mask = (rows >= top[None, :]) & (rows < horizon)
    c.textured(mask, value, smooth=0.03, grain=0.015, clumps=0.05)


def water(c: Canvas, shore: int, base: float) -> None:
    """Water: cold and smooth, with horizontal ripple streaks and a faint mirror of the far shore."""
    import cv2

    h = c.h - shore
    if h <= 0:
        return
    coarse = c.rng.standard_normal((max(4, h // 5), 24)).astype(np.float32)
    streaks = cv2.GaussianBlur(cv2.resize(coarse, (c.w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)
    depth = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    water = base + 0.05 * depth + 0.018 * streaks + 0.008 * c.grain[shore:]
    mirror_rows = min(h, shore)
    mirror = cv2.GaussianBlur(c.img[shore - mirror_rows : shore][::-1], (0, 0), 2.5)
    water[:mirror_rows] += 0.25 * (mirror - base) * (1 - depth[:mirror_rows] * c.h / max(h, 1))
    c.img[shore:] = water
