"""The canvas every painter draws on, the shared noise fields, the scene registry and the camera finish.

A :class:`Canvas` holds an apparent-temperature image (0 = coldest, 1 = hottest), the scene's random
stream and the fields its surfaces share; sizes are fractions of the frame so every size renders the
same composition. :func:`finish` is the optics and the camera's automatic gain control.
"""

from __future__ import annotations

import math
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmtir.registry import EntryMeta, Registry

PSF_SIGMA = 0.7  # optics: a fraction of a pixel of blur keeps edges sharp but not aliased


@dataclass(frozen=True)
class SceneMeta(EntryMeta):
    """A scene category; ``summary`` says what its frames contain, ``order`` its place in listings."""

    order: int = 0


def _painter_modules() -> list[str]:
    """Every public module of this package paints one category, so a new category is one new file."""
    folder = str(Path(__file__).parent)
    return [f"{__package__}.{m.name}" for m in pkgutil.iter_modules([folder]) if not m.name.startswith("_")]


SCENES: Registry[SceneMeta] = Registry("scene category", SceneMeta, modules=_painter_modules())


class Canvas:
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

    @property
    def day(self) -> bool:
        return not self.night

    # sizes are given as fractions of the frame so every size renders the same composition
    def px(self, fraction: float) -> int:
        return int(round(fraction * self.w))

    def py(self, fraction: float) -> int:
        return int(round(fraction * self.h))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def day_night(self, day: tuple[float, float], night: tuple[float, float]) -> float:
        """A value drawn from the ``day`` range, or from the ``night`` range in a night scene (one draw)."""
        return self.uniform(*(night if self.night else day))

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


def finish(c: Canvas) -> np.ndarray:
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
