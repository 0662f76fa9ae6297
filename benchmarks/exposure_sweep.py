"""Score restoration models on the held-out HIT-UAV frames at several camera exposures, and on demo-v1.

The contrast step ``(1 + c)·x + β`` cannot be undone from one frame without knowing how bright the clean
frame was, so a network's gain over the input depends on how its training brightness compares with the
camera's. This scores every model on the same 48 held-out frames (groups 0_80, 1_60, 1_120) re-exposed
before degrading (``normal``/``hard``, seed 0, gate 0.8):

* ``1`` — as recorded (HIT-UAV is mid-grey, mean 0.48); ``0.7``, ``0.45`` — each clean frame × the factor
  (0.45 is the official HM-TIR examples' brightness, see hmtir/degrade/CALIBRATION.md);
* ``agc`` — each frame stretched so its 0.5th/99.5th grey percentiles become black and white, as an 8-bit
  camera whose AGC uses the full range;

then on ``demo-v1`` (``hmtir demo``'s five subsets), next to identity. ``--scenes N`` adds ``scenes-agc``: N
procedural ground-level frames per category at 640×512, rendered with seed 2 (training renders seed 1, the demo
seed 0), AGC-stretched like ``agc`` and degraded the same way — ground-level frames no model trained on.

    python benchmarks/exposure_sweep.py --work /work/runs/sweep \\
        --model shipped-ppfn=ppfn:hmtir/models/weights/ppfn_nafnet_spt.pt \\
        --model shipped-baseline=nafnet:hmtir/models/weights/nafnet_baseline.pt --exposures 1,0.7,0.45,agc

Benchmarks are built once under ``--work/bench`` and reused; each model's scores go to
``--work/sweep_<label>.json`` (kept: a later call with more models only scores the new ones).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from train_reference import demo_benchmark, split_groups, stretch_percentiles


def bench_folder(exposure: str) -> str:
    """The folder under ``--work/bench`` of the held-out frames at ``exposure``: heldout, x070, x045, xagc."""
    names = {"1": "heldout", "agc": "xagc"}
    return names.get(exposure) or f"x{round(float(exposure) * 100):03d}"


def exposure_bench(val_dir: Path, work: Path, exposure: str) -> Path:
    """The held-out frames at ``exposure`` (a factor or ``agc``), degraded with normal/hard, seed 0."""
    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import read_image, write_image

    name = bench_folder(exposure)
    bench = work / "bench" / name
    if (bench / "meta").is_dir():
        return bench
    source = val_dir
    if exposure != "1":
        source = work / "bench" / f"{name}_clean"
        source.mkdir(parents=True, exist_ok=True)
        for path in sorted(val_dir.glob("*.jpg")):
            x = read_image(path).data
            x = stretch_percentiles(x) if exposure == "agc" else x * float(exposure)
            write_image(source / f"{path.stem}.png", x)
    synthesize(source, bench, presets=["normal", "hard"], seed=0, progress=False)
    return bench


def scene_bench(work: Path, per_category: int) -> Path:
    """Unseen procedural ground-level frames (seed 2), AGC-stretched, degraded with normal/hard, seed 0."""
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import read_image, write_image

    bench = work / "bench" / f"scenes{per_category}_agc"
    if (bench / "meta").is_dir():
        return bench
    rendered, clean = work / "bench" / f"scenes{per_category}_raw", bench.with_name(f"{bench.name}_clean")
    clean.mkdir(parents=True, exist_ok=True)
    for name, _ in make_scenes(rendered, per_category=per_category, seed=2, size=(512, 640)):
        write_image(clean / name, stretch_percentiles(read_image(rendered / name).data))
    synthesize(clean, bench, presets=["normal", "hard"], seed=0, progress=False)
    return bench


def score(
    label: str, method: str, weights: str | None, benches: dict[str, Path], work: Path
) -> dict[str, Any]:
    import hmtir

    table: dict[str, Any] = {}
    for bench_name, bench in benches.items():
        result = hmtir.evaluate(
            method,
            data=bench,
            subsets="all" if bench_name == "demo-v1" else "normal,hard",
            weights=weights,
            device="cpu",
            out=work / "eval" / label / bench_name,
            overwrite=True,
            progress=False,
        )
        table[bench_name] = {
            subset.split("/")[-1]: {m: round(result.mean(m, subset), 3) for m in ("psnr", "ssim")}
            for subset in result.summary["subsets"]
        }
        print(label, bench_name, {s: v["psnr"] for s, v in table[bench_name].items()}, flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/hit-uav"))
    parser.add_argument("--work", type=Path, default=Path("/work/runs/sweep"))
    parser.add_argument("--exposures", default="1,0.7,0.45,agc", help="comma list of factors and/or agc")
    parser.add_argument("--no-demo", action="store_true", help="skip demo-v1")
    parser.add_argument("--scenes", type=int, default=0, metavar="N", help="add scenes-agc, N per category")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=METHOD[:WEIGHTS]",
        help="a method to score (repeatable); identity is always scored",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch
    from rich.console import Console
    from rich.table import Table

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    _, val_dir, _, _ = split_groups(args.data, args.work)
    benches = {}
    for exposure in args.exposures.split(","):
        bench = exposure_bench(val_dir, args.work, exposure)
        benches[f"x{exposure}"] = bench
    if args.scenes:
        benches["scenes-agc"] = scene_bench(args.work, args.scenes)
    if not args.no_demo:
        benches["demo-v1"] = demo_benchmark(args.work)
    models = {"identity": ("identity", None)}
    for spec in args.model:
        label, _, target = spec.partition("=")
        method, _, weights = target.partition(":")
        models[label] = (method, weights or None)
    results: dict[str, Any] = {}
    for label, (method, weights) in models.items():
        path = args.work / f"sweep_{label}.json"
        known = json.loads(path.read_text()) if path.is_file() else {}
        wanted = {name: bench for name, bench in benches.items() if name not in known}
        known.update(score(label, method, weights, wanted, args.work) if wanted else {})
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two sweeps on one work folder read each other's files
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(path)
        results[label] = known
    table = Table(title="PSNR normal / hard (demo-v1: average of its five subsets); gain over identity")
    table.add_column("model")
    for name in benches:
        table.add_column(name, justify="right")
    for label, scores in results.items():
        cells = []
        for name in benches:
            mine = {s: v["psnr"] for s, v in scores[name].items()}
            base = {s: v["psnr"] for s, v in results["identity"][name].items()}
            if name == "demo-v1":
                mean = sum(mine.values()) / len(mine)
                cells.append(f"{mean:.2f} ({mean - sum(base.values()) / len(base):+.2f})")
            else:
                gains = "/".join(f"{mine[s] - base[s]:+.2f}" for s in ("normal", "hard"))
                cells.append(f"{mine['normal']:.2f}/{mine['hard']:.2f} ({gains})")
        table.add_row(label, *cells)
    console = Console()
    (console if console.is_terminal else Console(width=170)).print(table)  # a log keeps whole rows


if __name__ == "__main__":
    main()
