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
"""

from __future__ import annotations

import csv
import io
import math
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.registry import EntryMeta, Registry

DEFAULT_SIZE = (512, 640)  # (height, width): the HM-TIR frame size
SCENES_CSV = "scenes.csv"
PSF_SIGMA = 0.7  # optics: a fraction of a pixel of blur keeps edges sharp but not aliased


@dataclass(frozen=True)
class SceneMeta(EntryMeta):
    """A scene category; ``summary`` says what its frames contain."""


SCENES: Registry[SceneMeta] = Registry("scene category", SceneMeta)


# ------------------------------------------------------------------------------------------ the canvas


class _Canvas:
    """An apparent-temperature image plus the scene's random stream and the fields its surfaces share."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int]) -> None:
        import cv2

        self.rng = rng
        self.h, self.w = size
        self.img = np.zeros(size, np.float32)
        self.night = bool(rng.random() < 0.4)
        self.cloud = fractal_noise(rng, size, cells=3, octaves=5)  # soft, large-scale variation
        self.detail = fractal_noise(rng, size, cells=48, octaves=3)  # clumps of leaves, grass, gravel
        grain = rng.standard_normal(size).astype(np.float32)
        self.grain = cv2.GaussianBlur(grain, (0, 0), 0.8) * 2.2  # fine texture, ~unit std

    # sizes are given as fractions of the frame so every size renders the same composition
    def px(self, fraction: float) -> int:
        return int(round(fraction * self.w))

    def py(self, fraction: float) -> int:
        return int(round(fraction * self.h))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def textured(
        self, mask: np.ndarray, base: float, smooth: float = 0.0, grain: float = 0.0, clumps: float = 0.0
    ) -> None:
        """Fill ``mask`` with ``base`` plus the shared large-scale, fine-grain and clump fields."""
        values = base + smooth * self.cloud[mask] + grain * self.grain[mask]
        if clumps:
            values += clumps * self.detail[mask]
        self.img[mask] = values

    def band(
        self,
        y0: int,
        y1: int,
        top: float,
        bottom: float,
        smooth: float = 0.0,
        grain: float = 0.0,
        clumps: float = 0.0,
    ) -> None:
        """Rows y0..y1 with a vertical gradient (soft distance or sun-angle change) and texture."""
        y0, y1 = max(0, y0), min(self.h, y1)
        if y1 <= y0:
            return
        ramp = np.linspace(top, bottom, y1 - y0, dtype=np.float32)[:, None]
        self.img[y0:y1] = ramp + smooth * self.cloud[y0:y1] + grain * self.grain[y0:y1]
        if clumps:
            self.img[y0:y1] += clumps * self.detail[y0:y1]

    def poly_mask(self, *polygons: np.ndarray) -> np.ndarray:
        import cv2

        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 1)
        return mask.view(bool)

    def poly(self, points: np.ndarray | list, value: float) -> None:
        import cv2

        cv2.fillPoly(self.img, [np.round(np.asarray(points, float)).astype(np.int32)], float(value))

    def rect(self, x0: float, y0: float, x1: float, y1: float, value: float) -> None:
        import cv2

        cv2.rectangle(self.img, (int(x0), int(y0)), (int(x1), int(y1)), float(value), -1)

    def line(
        self, p0: tuple[float, float], p1: tuple[float, float], value: float, thickness: float = 1
    ) -> None:
        import cv2

        a = (int(round(p0[0])), int(round(p0[1])))
        b = (int(round(p1[0])), int(round(p1[1])))
        cv2.line(self.img, a, b, float(value), max(1, int(round(thickness))))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, value: float, angle: float = 0) -> None:
        import cv2

        axes = (max(1, int(round(rx))), max(1, int(round(ry))))
        cv2.ellipse(self.img, (int(round(cx)), int(round(cy))), axes, angle, 0, 360, float(value), -1)

    def glow(self, cx: float, cy: float, radius: float, heat: float) -> None:
        """A soft hot spot (heat leak, exhaust, lamp): a Gaussian bump added to what is there."""
        r = max(2.0, radius)
        x0, x1 = max(0, int(cx - 3 * r)), min(self.w, int(cx + 3 * r) + 1)
        y0, y1 = max(0, int(cy - 3 * r)), min(self.h, int(cy + 3 * r) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        yy, xx = np.ogrid[y0:y1, x0:x1]
        bump = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)).astype(np.float32)
        self.img[y0:y1, x0:x1] += heat * bump


def fractal_noise(rng: np.random.Generator, size: tuple[int, int], cells: int, octaves: int) -> np.ndarray:
    """Zero-mean, unit-std multi-octave value noise: ``cells`` across the width at the coarsest octave."""
    import cv2

    h, w = size
    out = np.zeros(size, np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        gw = cells * 2**octave + 1
        gh = max(2, int(math.ceil(gw * h / w)))
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        out += amplitude * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amplitude *= 0.5
    out -= out.mean()
    return out / max(float(out.std()), 1e-6)


# -------------------------------------------------------------------------------- things in the scenes


def _sky(c: _Canvas, horizon: int) -> None:
    """Clear sky: coldest at the zenith, warmer towards the horizon (longer air path), very smooth."""
    zenith = c.uniform(0.02, 0.08)
    near_horizon = zenith + c.uniform(0.12, 0.22)
    rows = np.linspace(0.0, 1.0, max(horizon, 1), dtype=np.float32) ** 1.6
    c.img[:horizon] = (zenith + (near_horizon - zenith) * rows)[:, None] + 0.012 * c.cloud[:horizon]


def _person(c: _Canvas, x: float, feet: float, height: float, skin: float) -> None:
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


def _animal(c: _Canvas, x: float, ground: float, length: float, warm: float, facing: int) -> None:
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


def _car_side(
    c: _Canvas, x: float, ground: float, length: float, facing: int, body: float, running: bool
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
    c.poly(
        [
            (along(0.12), belt - 0.2 * inset),
            (along(0.27), roof + inset),
            (along(0.42), roof + inset),
            (along(0.42), belt - 0.2 * inset),
        ],
        glass,
    )
    c.poly(
        [
            (along(0.46), belt - 0.2 * inset),
            (along(0.46), roof + inset),
            (along(0.6), roof + inset),
            (along(0.73), belt - 0.2 * inset),
        ],
        glass,
    )
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


def _bus_side(c: _Canvas, x: float, ground: float, length: float, body: float, running: bool) -> None:
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


def _car_top(
    c: _Canvas, cx: float, cy: float, length: float, angle: float, body: float, running: bool
) -> None:
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


def _window_grid(c: _Canvas, x0: float, y0: float, x1: float, y1: float, wall: float, detail: bool) -> None:
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


def _building(c: _Canvas, x0: float, x1: float, top: float, bottom: float, wall: float, detail: bool) -> None:
    mask = np.zeros((c.h, c.w), bool)
    mask[max(0, int(top)) : max(0, int(bottom)), max(0, int(x0)) : max(0, int(x1))] = True
    c.textured(mask, wall, smooth=0.015, grain=0.006)
    _window_grid(
        c,
        x0 + 0.02 * (x1 - x0),
        top + 0.03 * (bottom - top),
        x1,
        bottom - 0.08 * (bottom - top),
        wall,
        detail,
    )


def _tree(
    c: _Canvas, x: float, base: float, height: float, canopy: float, trunk: float, conifer: bool
) -> None:
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


def _tree_line(c: _Canvas, horizon: int, depth: float, value: float) -> None:
    """A distant wood along the horizon: a bumpy silhouette filled with leafy texture."""
    bumps = fractal_noise(c.rng, (2, c.w), cells=40, octaves=3)[0]
    top = horizon - depth * c.h * (0.75 + 0.18 * bumps)
    rows = np.arange(c.h)[:, None]
    mask = (rows >= top[None, :]) & (rows < horizon)
    c.textured(mask, value, smooth=0.03, grain=0.015, clumps=0.05)


def _water(c: _Canvas, shore: int, base: float) -> None:
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


def _pylon(c: _Canvas, x: float, base: float, height: float, metal: float) -> list[tuple[float, float]]:
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


def _power_line(
    c: _Canvas, p0: tuple[float, float], p1: tuple[float, float], sag: float, value: float
) -> None:
    t = np.linspace(0, 1, 40)
    xs = p0[0] + (p1[0] - p0[0]) * t
    ys = p0[1] + (p1[1] - p0[1]) * t + sag * 4 * t * (1 - t)
    for i in range(len(t) - 1):
        c.line((xs[i], ys[i]), (xs[i + 1], ys[i + 1]), value, 1)


# ---------------------------------------------------------------------------------------------- scenes


@SCENES.register(
    "street", summary="street level: facades, pavement, road with cars/buses, pedestrians, lamps"
)
def _street(c: _Canvas) -> None:
    day = not c.night
    horizon = c.py(c.uniform(0.08, 0.2))
    _sky(c, horizon)
    kerb, road_top = c.py(0.56), c.py(0.63)
    x = -c.px(c.uniform(0, 0.1))
    while x < c.w:
        bw = c.px(c.uniform(0.18, 0.38))
        top = horizon + c.py(c.uniform(-0.08, 0.12))
        _building(c, x, x + bw - 2, top, kerb, c.uniform(0.4, 0.52) if day else c.uniform(0.28, 0.38), False)
        x += bw
    pavement = c.uniform(0.5, 0.6) if day else c.uniform(0.32, 0.4)
    c.band(kerb, road_top, pavement, pavement + 0.03, smooth=0.02, grain=0.012)
    asphalt = c.uniform(0.58, 0.68) if day else c.uniform(0.36, 0.44)
    c.band(road_top, c.h, asphalt - 0.04, asphalt + 0.02, smooth=0.025, grain=0.015)
    c.rect(0, road_top - 2, c.w, road_top + 1, pavement + 0.05)  # kerb stone
    paint = asphalt - 0.1
    lane_y = c.py(0.8)
    for dash_x in range(-c.px(c.uniform(0, 0.1)), c.w, c.px(0.16)):
        c.rect(dash_x, lane_y, dash_x + c.px(0.08), lane_y + c.py(0.008), paint)
    for _ in range(int(c.rng.integers(2, 4))):
        lx = c.px(c.uniform(0.05, 0.95))
        c.line((lx, road_top), (lx, kerb - c.py(0.3)), 0.4 if day else 0.3, c.px(0.006))
        c.ellipse(lx + c.px(0.015), kerb - c.py(0.3), c.px(0.018), c.py(0.008), 0.45 if day else 0.95)
    for lane, scale in ((0.76, 0.22), (0.97, 0.3)):
        x = c.px(c.uniform(-0.1, 0.3))
        while x < c.w:
            length = c.px(scale * c.uniform(0.9, 1.1))
            facing = 1 if lane < 0.9 else -1
            body = c.uniform(0.42, 0.55)
            running = bool(c.rng.random() < 0.8)
            if c.rng.random() < 0.2:
                _bus_side(c, x, c.py(lane), length * 1.8, body, running)
                length = int(length * 1.8)
            else:
                _car_side(c, x, c.py(lane), length, facing, body, running)
            x += length + c.px(c.uniform(0.05, 0.4))
    for _ in range(int(c.rng.integers(2, 6))):
        _person(c, c.px(c.uniform(0.05, 0.95)), c.py(c.uniform(0.58, 0.62)), c.py(c.uniform(0.15, 0.2)), 0.92)
    if c.rng.random() < 0.5:
        _person(c, c.px(c.uniform(0.1, 0.9)), c.py(0.99), c.py(0.32), 0.95)


@SCENES.register(
    "building", summary="close facade: window grid, thermal-bridge floor slabs, heat leaks, door"
)
def _building_facade(c: _Canvas) -> None:
    day = not c.night
    horizon = c.py(c.uniform(0.0, 0.15))
    _sky(c, max(horizon, 1))
    ground = c.py(c.uniform(0.85, 0.93))
    split = c.px(c.uniform(0.45, 0.75))
    walls = [c.uniform(0.4, 0.55) if day else c.uniform(0.25, 0.35) for _ in range(2)]
    _building(c, 0, split - 3, horizon + c.py(0.03), ground, walls[0], True)
    _building(c, split + 3, c.w, horizon + c.py(c.uniform(0.0, 0.25)), ground, walls[1], True)
    c.rect(split - 3, horizon, split + 3, ground, min(walls) - 0.05)  # shadowed gap between blocks
    c.band(ground, c.h, 0.5 if day else 0.3, 0.55 if day else 0.33, smooth=0.02, grain=0.012)
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
        _person(c, door_x + door_w * 1.6, c.py(0.97), c.py(0.3), 0.95)


@SCENES.register(
    "skyline", summary="city skyline: large cold sky, two layers of towers with lit windows, river"
)
def _skyline(c: _Canvas) -> None:
    day = not c.night
    base = c.py(c.uniform(0.62, 0.72))
    _sky(c, base)
    for layer, (low, high, haze) in enumerate(((0.15, 0.35, 0.6), (0.08, 0.25, 1.0))):
        x = -c.px(0.02)
        while x < c.w:
            bw = c.px(c.uniform(0.04, 0.11))
            top = base - c.py(c.uniform(low, high) + 0.1 * (1 - layer))
            wall = (c.uniform(0.35, 0.5) if day else c.uniform(0.22, 0.32)) * haze + 0.12 * (1 - haze)
            c.rect(x, top, x + bw, base, wall)
            if layer == 1 or c.night:
                for wy in range(int(top) + 4, base - 3, max(3, c.py(0.022))):
                    for wx in range(int(x) + 3, int(x + bw) - 3, max(3, c.px(0.014))):
                        if c.rng.random() < (0.3 if c.night else 0.6):
                            heat = c.uniform(0.2, 0.4) if c.night else -c.uniform(0.05, 0.12)
                            c.rect(
                                wx, wy, wx + max(1, c.px(0.006)), wy + max(1, c.py(0.01)), wall + heat * haze
                            )
            if c.rng.random() < 0.25:  # rooftop mast with a warm beacon
                mx = x + bw / 2
                c.line((mx, top), (mx, top - c.py(0.06)), wall, 2)
                c.glow(mx, top - c.py(0.06), 2.5, 0.3 if c.night else 0.1)
            x += bw + c.px(c.uniform(0.0, 0.03))
    quay = base + c.py(0.03)
    c.band(base, quay, 0.45 if day else 0.33, 0.45 if day else 0.33, grain=0.01)
    _water(c, quay, c.uniform(0.15, 0.22))


@SCENES.register(
    "vegetation", summary="park or wood edge: trees and conifers, bushes, grass, path, people/deer"
)
def _vegetation(c: _Canvas) -> None:
    day = not c.night
    horizon = c.py(c.uniform(0.15, 0.35))
    _sky(c, horizon)
    grass = c.uniform(0.42, 0.52) if day else c.uniform(0.26, 0.34)
    c.band(horizon, c.h, grass - 0.05, grass + 0.05, smooth=0.04, grain=0.015, clumps=0.04)
    _tree_line(c, horizon + c.py(0.02), 0.14, grass + (-0.12 if day else 0.06))
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
    c.textured(path, grass + (0.12 if day else 0.04), smooth=0.02, grain=0.02)
    trees = sorted(
        (c.uniform(horizon / c.h + 0.15, 1.0), c.px(c.uniform(0.0, 1.0)), bool(c.rng.random() < 0.4))
        for _ in range(int(c.rng.integers(4, 9)))
    )
    for depth, tx, conifer in trees:
        height = c.py(0.2 + 0.45 * depth)
        # leaves stay cooler than sunlit grass by day; at night grass radiates to the sky and ends up colder
        canopy = grass + (-c.uniform(0.1, 0.18) if day else c.uniform(0.05, 0.12))
        _tree(c, tx, c.py(depth), height, canopy, grass + 0.06, conifer)
    for _ in range(int(c.rng.integers(2, 6))):  # low bushes
        bx, by = c.px(c.uniform(0, 1)), c.py(c.uniform(0.6, 1.0))
        _tree(c, bx, by, c.py(0.12), grass - 0.08, grass - 0.05, False)
    if c.rng.random() < 0.5:
        _animal(c, c.px(c.uniform(0.2, 0.8)), c.py(0.8), c.px(0.12), 0.85, 1 if c.rng.random() < 0.5 else -1)
    for _ in range(int(c.rng.integers(0, 3))):
        _person(c, path_x + c.px(c.uniform(-0.05, 0.08)), c.py(c.uniform(0.7, 0.95)), c.py(0.22), 0.93)


@SCENES.register(
    "waterside", summary="river or harbour: cold rippled water, far shore, quay with railing, boat, people"
)
def _waterside(c: _Canvas) -> None:
    day = not c.night
    horizon = c.py(c.uniform(0.25, 0.4))
    _sky(c, horizon)
    shore = horizon + c.py(c.uniform(0.04, 0.08))
    land = c.uniform(0.38, 0.48) if day else c.uniform(0.25, 0.32)
    c.band(horizon, shore, land, land, smooth=0.02, grain=0.02)
    _tree_line(c, horizon + c.py(0.01), 0.07, land - (0.08 if day else 0.0))
    for _ in range(int(c.rng.integers(2, 6))):  # houses on the far shore
        hx, hw = c.px(c.uniform(0, 0.95)), c.px(c.uniform(0.04, 0.09))
        top = shore - c.py(c.uniform(0.06, 0.12))
        c.rect(hx, top, hx + hw, shore, land + 0.08)
        c.poly([(hx - 2, top), (hx + hw + 2, top), (hx + hw / 2, top - c.py(0.03))], land + 0.02)
        if c.night:
            c.rect(hx + hw * 0.3, top + c.py(0.02), hx + hw * 0.5, top + c.py(0.035), land + 0.4)
    quay = c.py(c.uniform(0.82, 0.9))
    _water(c, shore, c.uniform(0.14, 0.22))
    c.img[quay:] = 0  # repaint below the quay edge
    concrete = c.uniform(0.5, 0.6) if day else c.uniform(0.32, 0.4)
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
        c.rect(bx + 0.35 * bl, by - 0.11 * bl, bx + 0.55 * bl, by - 0.06 * bl, 0.3 if day else 0.75)
        c.glow(bx + 0.05 * bl, by + 0.06 * bl, 0.04 * bl, 0.4)
    for _ in range(int(c.rng.integers(1, 4))):
        _person(c, c.px(c.uniform(0.05, 0.95)), c.py(c.uniform(0.93, 0.99)), c.py(0.26), 0.94)


@SCENES.register(
    "industrial", summary="plant: sawtooth halls, chimneys with warm plumes, tanks, pipes, pylons, lines"
)
def _industrial(c: _Canvas) -> None:
    import cv2

    day = not c.night
    horizon = c.py(c.uniform(0.5, 0.62))
    _sky(c, horizon)
    metal = c.uniform(0.3, 0.4)
    tower_h = c.py(c.uniform(0.35, 0.5))
    px0 = c.px(c.uniform(0.05, 0.25))
    spacing = c.px(c.uniform(0.45, 0.6))
    attach = [
        _pylon(c, px, horizon, tower_h * (1 - 0.3 * i), metal) for i, px in enumerate((px0, px0 + spacing))
    ]
    for a, b in zip(attach[0], attach[1]):
        _power_line(c, a, b, c.py(0.04), metal)
    for a in attach[1]:
        _power_line(c, a, (c.w + 5, a[1] + c.py(0.05)), c.py(0.03), metal)
    for a in attach[0]:
        _power_line(c, (-5, a[1] - c.py(0.05)), a, c.py(0.03), metal)
    ground = c.uniform(0.45, 0.55) if day else c.uniform(0.28, 0.34)
    c.band(horizon, c.h, ground - 0.04, ground + 0.04, smooth=0.03, grain=0.02)
    hall = c.uniform(0.45, 0.55) if day else c.uniform(0.32, 0.4)
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
        shade = (np.cos(np.linspace(-1.2, 1.2, tw)) * (0.1 if day else 0.03)).astype(np.float32)
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
        _person(c, c.px(c.uniform(0.3, 0.7)), c.py(0.98), c.py(0.24), 0.94)
    if c.rng.random() < 0.5:
        _car_side(c, c.px(c.uniform(0.5, 0.75)), c.py(0.83), c.px(0.18), -1, c.uniform(0.4, 0.5), True)


@SCENES.register(
    "parking", summary="car park from above: asphalt, painted bays, parked/just-driven cars, trees, people"
)
def _parking(c: _Canvas) -> None:
    day = not c.night
    asphalt = c.uniform(0.58, 0.68) if day else c.uniform(0.36, 0.44)
    c.img[:] = asphalt + 0.03 * c.cloud + 0.018 * c.grain
    paint = asphalt - (0.12 if day else 0.04)
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
                body = asphalt - (c.uniform(0.05, 0.15) if day else c.uniform(-0.02, 0.05))
                nose_in = c.rng.random() < 0.85  # most drivers park nose first, towards the line
                heading = (90 if direction > 0 else -90) + (0 if nose_in else 180)
                _car_top(
                    c,
                    bx + bay_w / 2,
                    (row_y + y_end) / 2,
                    bay_l * 0.85,
                    heading + angle_jitter,
                    body,
                    running,
                )
    verge_y = c.py(0.88)
    grass = asphalt - (0.15 if day else -0.02)
    c.band(verge_y, c.h, grass, grass, smooth=0.04, grain=0.015, clumps=0.04)
    c.rect(0, verge_y - 2, c.w, verge_y + 1, asphalt + 0.06)
    for _ in range(int(c.rng.integers(2, 5))):  # tree canopies from above, with cold shadows by day
        tx, ty, rad = c.px(c.uniform(0, 1)), c.py(c.uniform(0.86, 1.0)), c.px(c.uniform(0.04, 0.07))
        if day:
            c.ellipse(tx + rad * 0.8, ty + rad * 0.5, rad * 1.1, rad, grass - 0.08)
        _tree(c, tx, ty + rad * 1.3, rad * 2.2, grass - 0.06, grass - 0.06, False)
    for _ in range(int(c.rng.integers(2, 7))):  # people from above: hot head on warm shoulders
        px, py = c.px(c.uniform(0.02, 0.98)), c.py(c.uniform(0.28, 0.4))
        c.ellipse(px, py, c.px(0.014), c.px(0.008), 0.85, angle=c.uniform(0, 180))
        c.ellipse(px, py, c.px(0.006), c.px(0.006), 0.97)


@SCENES.register(
    "field", summary="open country: sky, distant wood, furrowed field in perspective, fence, animals"
)
def _field(c: _Canvas) -> None:
    day = not c.night
    horizon = c.py(c.uniform(0.25, 0.42))
    _sky(c, horizon)
    soil = c.uniform(0.45, 0.58) if day else c.uniform(0.22, 0.3)
    c.band(horizon, c.h, soil - 0.06, soil + 0.06, smooth=0.05, grain=0.015, clumps=0.03)
    vanish_x = c.px(c.uniform(0.2, 0.8))
    rows = np.arange(horizon, c.h, dtype=np.float32)[:, None]
    cols = np.arange(c.w, dtype=np.float32)[None, :]
    depth = (rows - horizon + 1) / (c.h - horizon)  # 0 far … 1 near
    period = c.px(c.uniform(0.05, 0.08))  # furrow spacing at the bottom edge, in pixels
    furrow = np.sin((cols - vanish_x) / depth * (2 * np.pi / period))
    visible = np.clip((period * depth - 4.0) / 8.0, 0, 1)  # fade out where furrows would alias
    c.img[horizon:] += (0.045 * furrow * visible).astype(np.float32)
    _tree_line(c, horizon + 1, c.uniform(0.04, 0.1), soil - (0.12 if day else -0.04))
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
        c.rect(post, fence_y - c.py(0.12), post + c.px(0.008), fence_y, soil + (0.06 if day else -0.04))
    for _ in range(int(c.rng.integers(1, 5))):
        depth_y = c.uniform(horizon / c.h + 0.08, 0.68)
        scale = (depth_y - horizon / c.h) / (1 - horizon / c.h)
        _animal(
            c,
            c.px(c.uniform(0.05, 0.95)),
            c.py(depth_y),
            c.px(0.05 + 0.15 * scale),
            0.85,
            1 if c.rng.random() < 0.5 else -1,
        )
    if c.rng.random() < 0.5:
        _person(c, c.px(c.uniform(0.1, 0.9)), c.py(0.96), c.py(0.3), 0.94)


SCENE_CATEGORIES: tuple[str, ...] = (
    "street",
    "building",
    "skyline",
    "vegetation",
    "waterside",
    "industrial",
    "parking",
    "field",
)


# -------------------------------------------------------------------------------------------- the API


def _finish(c: _Canvas) -> np.ndarray:
    """Optics blur, then the camera's AGC: a percentile stretch to a display range with a little headroom."""
    import cv2

    img = cv2.GaussianBlur(c.img, (0, 0), PSF_SIGMA)
    flat = img.ravel()
    n = flat.size
    lo_k, hi_k = int(0.002 * (n - 1)), int(0.998 * (n - 1))
    part = np.partition(flat, (lo_k, hi_k))
    lo, hi = float(part[lo_k]), float(part[hi_k])
    out_lo, out_hi = c.uniform(0.02, 0.08), c.uniform(0.9, 0.97)
    scaled = (img - lo) * ((out_hi - out_lo) / max(hi - lo, 1e-6)) + out_lo
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def render_scene(
    category: str, seed: int, size: tuple[int, int] = DEFAULT_SIZE, *, index: int = 0
) -> np.ndarray:
    """One float32 frame in [0, 1] of shape ``size`` (H, W); equal arguments always give equal pixels."""
    painter: Callable[[_Canvas], None] = SCENES.entry(category).factory
    h, w = size
    if h < 32 or w < 32:
        raise HmtirError(f"scene size must be at least 32×32 pixels, got {h}×{w}")
    rng = np.random.default_rng([zlib.crc32(category.encode()), int(seed), int(index)])
    canvas = _Canvas(rng, (h, w))
    painter(canvas)
    return _finish(canvas)


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
