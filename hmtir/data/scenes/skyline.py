"""Scene category ``skyline`` (city skyline: large cold sky, two layers of towers with lit windows, river)."""

from __future__ import annotations

from hmtir.data.scenes._canvas import SCENES, Canvas
from hmtir.data.scenes._parts import sky_to, water


@SCENES.register(
    "skyline", order=3, summary="city skyline: large cold sky, two layers of towers with lit windows, river"
)
def paint_skyline(c: Canvas) -> None:
    base = sky_to(c, 0.62, 0.72)
    for layer, (low, high, haze) in enumerate(((0.15, 0.35, 0.6), (0.08, 0.25, 1.0))):
        x = -c.px(0.02)
        while x < c.w:
            bw = c.px(c.uniform(0.04, 0.11))
            top = base - c.py(c.uniform(low, high) + 0.1 * (1 - layer))
            wall = c.day_night(day=(0.35, 0.5), night=(0.22, 0.32)) * haze + 0.12 * (1 - haze)
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
    c.band(base, quay, 0.45 if c.day else 0.33, 0.45 if c.day else 0.33, grain=0.01)
    water(c, quay, c.uniform(0.15, 0.22))
