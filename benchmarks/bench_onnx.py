"""ONNX export check: the exported shipped networks under ONNX Runtime against torch, and their speed.

For each method: export (``hmtir.models.onnx_export.export_onnx``), then the max abs difference of the
``onnx`` method against the torch method for every prompt pair (composite = three SPT passes) on random
frames and on the first ``--real-frames`` HIT-UAV frames (sorted names) at their own size, then the wall
seconds per frame (median of ``--repeats``, composite, batch 1) of torch and of ONNX Runtime (CPU).

    python benchmarks/bench_onnx.py [--methods ppfn.agc,nafnet.agc] [--real DIR] [--real-frames 4]

Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault(
    "OMP_WAIT_POLICY", "PASSIVE"
)  # as the CLI sets it (spinning OpenMP crawls on a shared CPU)

import torch  # noqa: E402

from hmtir.io.image import read_image  # noqa: E402
from hmtir.methods import load_method  # noqa: E402
from hmtir.models.onnx_export import compare_with_torch, export_onnx  # noqa: E402

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "hit-uav"


def seconds_per_frame(method: object, frame: torch.Tensor, repeats: int) -> float:
    method(frame, "composite")  # warm-up (allocator, kernels, ORT's first run)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        method(frame, "composite")
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="ppfn.agc,nafnet.agc")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--real-frames", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = sorted(p for p in args.real.iterdir() if p.suffix.lower() in {".jpg", ".png", ".tif", ".tiff"})
    real = [(p.name, torch.from_numpy(read_image(p).data)[None, None]) for p in names[: args.real_frames]]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.methods.split(","):
            method = load_method(name, device="cpu")
            path = Path(folder) / f"{name}.onnx"
            report = export_onnx(method, path, check=False)
            onnx_method = load_method("onnx", weights=str(path))
            random = compare_with_torch(path, method, sizes=((37, 45), (512, 640)), tolerance=None)
            on_real = compare_with_torch(path, method, frames=real, tolerance=None)
            frame = real[0][1]
            rows.append(
                (
                    name,
                    report.seconds,
                    report.size_bytes / 1e6,
                    max(r["max_abs_diff"] for r in random),
                    max(r["max_abs_diff"] for r in on_real),
                    seconds_per_frame(method, frame, args.repeats),
                    seconds_per_frame(onnx_method, frame, args.repeats),
                    tuple(frame.shape[-2:]),
                )
            )
            print(f"{name}: done, load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(
        "| method | export s | file MB | max abs diff, random 37×45 + 512×640 | max abs diff, "
        f"{len(real)} HIT-UAV frames | frame | torch s/frame | ORT s/frame |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for name, export_s, mb, random_diff, real_diff, torch_s, ort_s, size in rows:
        print(
            f"| {name} | {export_s:.0f} | {mb:.1f} | {random_diff:.2e} | {real_diff:.2e} | "
            f"{size[1]}×{size[0]} composite | {torch_s:.2f} | {ort_s:.2f} |"
        )


if __name__ == "__main__":
    main()
