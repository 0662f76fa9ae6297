"""Degradation speed: our numpy/OpenCV cascade vs an albumentations rendering of the official hard settings.

    python benchmarks/bench_degrade.py [--frames DIR] [--count 40] [--repeat 3] [--batch 16]

All pipelines run in this one process on the same 640×512 frames (HIT-UAV from ../shared when present,
otherwise synthetic smooth frames), gate 0.8, hard ranges. The albumentations pipeline mirrors what an
official-style script does: library transforms where albumentations has them (GaussianBlur, GaussNoise)
and straightforward float64 numpy for the rest (contrast, radial non-uniformity, stripes), each p = 0.8.
Also reports the batched torch cascade (``hmtir.degrade.torch_ops.degrade``) in frames/s on CPU, and on
CUDA when available. Issue goal: ours ≥ 3× faster than the official pipeline (18.9 ms/frame, 2 cores).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np


def load_frames(folder: Path | None, count: int) -> list[np.ndarray]:
    from hmtir.data.layout import list_images
    from hmtir.io.image import read_image

    if folder is not None and folder.is_dir():
        names = list_images(folder)[:count]
        if names:
            return [read_image(folder / n).data for n in names]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:640].astype(np.float32) / 640
    return [np.clip(0.3 + 0.3 * xx * rng.random() + 0.05 * rng.random((512, 640)), 0, 1).astype(np.float32)
            for _ in range(count)]  # fmt: skip


def albumentations_official() -> object:
    import albumentations as A

    rng = np.random.default_rng(0)

    def contrast(image: np.ndarray, **_: object) -> np.ndarray:
        alpha, beta = 1 + rng.uniform(-0.8, -0.2), rng.uniform(0.2, 0.4)
        return np.clip(image.astype(np.float64) * alpha + beta, 0, 1).astype(np.float32)

    def nonuniformity(image: np.ndarray, **_: object) -> np.ndarray:
        h, w = image.shape[:2]
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        yy, xx = np.mgrid[0:h, 0:w]
        r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        m = np.cos(r / r.max() * math.pi / 2) ** 4
        delta = rng.integers(15, 76) / 255
        field = delta * m if rng.random() < 0.5 else delta * (1 - m)
        return np.clip(image + field, 0, 1).astype(np.float32)

    def stripes(image: np.ndarray, **_: object) -> np.ndarray:
        h, w = image.shape[:2]
        column = rng.random() < 0.5
        n = w if column else h
        g = rng.standard_normal(n) * (0.03 + 0.07 * rng.random())
        b = rng.standard_normal(n) * 5 * rng.random() / 255
        g, b = (g[None, :], b[None, :]) if column else (g[:, None], b[:, None])
        return np.clip(image + image * g + b, 0, 1).astype(np.float32)

    return A.Compose(
        [
            A.Lambda(image=contrast, p=0.8),
            A.GaussianBlur(blur_limit=(7, 23), sigma_limit=(1.0, 3.0), p=0.8),
            A.Lambda(image=nonuniformity, p=0.8),
            A.Lambda(image=stripes, p=0.8),
            A.GaussNoise(std_range=(5 / 255, 20 / 255), p=0.8),  # σ² ∈ [25, 400] grey levels²
        ]
    )


def time_per_frame(fn, frames: list[np.ndarray], repeat: int) -> float:
    fn(frames[0])  # warm up
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for frame in frames:
            fn(frame)
        best = min(best, (time.perf_counter() - start) / len(frames))
    return best * 1000


def torch_frames_per_second(frames: list[np.ndarray], batch: int, device: str, repeat: int) -> float:
    import torch

    from hmtir.degrade.torch_ops import degrade

    stack = torch.from_numpy(np.stack(frames[:batch] * math.ceil(batch / len(frames)))[:batch, None]).to(
        device
    )
    g = torch.Generator(device=device).manual_seed(0)
    degrade(stack, "hard", g)
    best = math.inf
    for _ in range(repeat):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            degrade(stack, "hard", g)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / (5 * batch))
    return 1 / best


def main() -> None:
    from hmtir.degrade.ops import apply
    from hmtir.degrade.presets import sample_params
    from hmtir.paths import shared_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--frames", type=Path, default=shared / "data" / "hit-uav" if shared else None)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()

    frames = load_frames(args.frames, args.count)
    rng = np.random.default_rng(0)

    def ours(frame: np.ndarray) -> np.ndarray:
        return apply(frame, sample_params("hard", rng, frame.shape, 0.8))

    official = albumentations_official()
    rows = [
        (
            "albumentations (official hard)",
            time_per_frame(lambda f: official(image=f)["image"], frames, args.repeat),
        ),
        ("hmtir numpy/OpenCV (hard)", time_per_frame(ours, frames, args.repeat)),
    ]
    if not args.skip_torch:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
        for device in devices:
            fps = torch_frames_per_second(frames, args.batch, device, args.repeat)
            rows.append((f"hmtir torch batched ({device}, batch {args.batch})", 1000 / fps))

    h, w = frames[0].shape
    print(f"{len(frames)} frames {w}×{h}, gate 0.8, {os.cpu_count()} CPU cores, best of {args.repeat}")
    print(f"{'pipeline':44s} {'ms/frame':>9s} {'frames/s':>9s} {'speed-up':>9s}")
    for name, ms in rows:
        print(f"{name:44s} {ms:9.2f} {1000 / ms:9.1f} {rows[0][1] / ms:8.2f}×")


if __name__ == "__main__":
    main()
