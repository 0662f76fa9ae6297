"""Time the procedural scene generator per category (target: well under 200 ms a 640×512 frame).

Side by side in one process: rendering a frame vs. writing it as an 8-bit PNG with ``write_image``, so
the cost of ``make_scenes`` can be split between painting and encoding.

    python benchmarks/bench_scenes.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hmtir.data.scenes import SCENE_CATEGORIES, render_scene
from hmtir.io import write_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    render_scene("street", 0)  # warm up OpenCV
    print(f"{'category':12s} {'render ms':>10s} {'png write ms':>13s}")
    all_render = []
    with tempfile.TemporaryDirectory() as tmp:
        for category in SCENE_CATEGORIES:
            render_ms, write_ms = [], []
            for seed in range(args.repeats):
                start = time.perf_counter()
                frame = render_scene(category, seed)
                render_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                write_image(Path(tmp) / f"{category}_{seed}.png", frame)
                write_ms.append((time.perf_counter() - start) * 1000)
            all_render += render_ms
            print(f"{category:12s} {statistics.median(render_ms):10.1f} {statistics.median(write_ms):13.1f}")
    print(f"{'all (median)':12s} {statistics.median(all_render):10.1f}   max {max(all_render):.1f} ms")


if __name__ == "__main__":
    main()
