"""Quality floor of each shipped checkpoint (ppfn, nafnet; agc default and dim weights) on set frames.

    python benchmarks/quality_floor.py            # measure and compare with the recorded floor
    python benchmarks/quality_floor.py --write    # re-measure and rewrite hmtir/models/weights/quality_floor.json

Frames (small, CPU-fast, deterministic): two frame sets, each synthesised into the five HM-TIR subsets by
``hmtir.synthesize`` (seed 0, gate 0.8) at 128×160:

* ``procedural`` — two demo scenes (``street``, ``industrial``; seed 0) rendered by ``hmtir.data.scenes``:
  always available;
* ``hit-uav`` — two held-out HIT-UAV frames (area-downscaled by 4; one day, one night, from groups the
  shipped models never saw in training) from ``../shared/data/hit-uav``: measured where that folder exists.

For every (method, frame set, subset) the gain is ``mean PSNR(restored, clean) − mean PSNR(degraded,
clean)`` in dB, the method run through its restore contract with the subset's prompts. ``--write`` records
the gains with the sha256 of the weights they were measured on; ``tests/test_quality_floor.py`` fails when
the shipped files no longer match those hashes (a new checkpoint must come with re-measured floors) or
when a gain falls more than ``margin_db`` below its record.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FLOOR_FORMAT = "hmtir-quality-floor/1"
#: The shipped checkpoints measured, by method name (a weights tag names a variant: ``ppfn.dim``).
CHECKPOINTS = ("ppfn", "nafnet", "ppfn.dim", "nafnet.dim")
SIZE = (128, 160)  # H, W: a multiple of every shipped network's size multiple, so no padding is involved
SEED = 0
GATE = 0.8
MARGIN_DB = 0.15  # cross-CPU float noise is ~1e-5 dB here; a real regression moves a gain by tenths or more
PROCEDURAL = ("street", "industrial")
HIT_UAV = ("0_80_50_0_02168.jpg", "1_60_50_0_00283.jpg")  # held-out groups 0_80 (day) and 1_60 (night)
FRAME_SETS = ("procedural", "hit-uav")


def floor_path() -> Path:
    from hmtir.methods.networks import SHIPPED_WEIGHTS_DIR

    return SHIPPED_WEIGHTS_DIR / "quality_floor.json"


def shared_hit_uav() -> Path | None:
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "hit-uav"
    return folder if folder.is_dir() else None


def write_sources(frame_set: str, folder: Path, hit_uav: Path | None = None) -> None:
    """The clean 8-bit frames of ``frame_set`` as PNGs in ``folder``."""
    from hmtir.data.scenes import render_scene
    from hmtir.io.image import read_image, write_image

    folder.mkdir(parents=True, exist_ok=True)
    if frame_set == "procedural":
        for category in PROCEDURAL:
            write_image(folder / f"{category}.png", render_scene(category, SEED, SIZE), bit_depth=8)
        return
    if frame_set != "hit-uav" or hit_uav is None:
        raise ValueError(f"frame set {frame_set!r} needs its source folder")
    import cv2

    height, width = SIZE
    for name in HIT_UAV:
        frame = read_image(hit_uav / name).data  # 640×512: the whole view, area-averaged by 4
        small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        write_image(folder / (Path(name).stem + ".png"), np.clip(small, 0.0, 1.0), bit_depth=8)


def synthesize_set(frame_set: str, root: Path, hit_uav: Path | None = None) -> Path:
    """The five-subset benchmark of ``frame_set`` under ``root`` (returns the benchmark folder)."""
    import hmtir

    source, bench = root / f"{frame_set}-clean", root / f"{frame_set}-bench"
    write_sources(frame_set, source, hit_uav)
    hmtir.synthesize(source, bench, presets="all", gate=GATE, seed=SEED, progress=False)
    return bench


def _stack(paths: list[Path]) -> Any:
    import torch

    from hmtir.io.image import read_image

    return torch.from_numpy(np.stack([read_image(p).data for p in paths]))[:, None]


def gains(method: Any, bench: Path) -> dict[str, float]:
    """Subset → mean PSNR gain over identity (dB) of ``method`` on the benchmark at ``bench``."""
    from hmtir.data.layout import CLEAN_DIR
    from hmtir.metrics import create_metric
    from hmtir.vocabulary import SUBSETS

    psnr = create_metric("psnr")
    names = sorted(p.name for p in (bench / CLEAN_DIR).iterdir() if p.suffix == ".png")
    clean = _stack([bench / CLEAN_DIR / n for n in names])
    out = {}
    for subset, info in SUBSETS.items():
        degraded = _stack([bench / subset / n for n in names])
        restored = method(degraded, info.degradation, info.scenario)
        before = psnr(degraded, clean).mean().item()
        out[subset] = round(psnr(restored, clean).mean().item() - before, 4)
    return out


def measure(root: Path, hit_uav: Path | None) -> dict[str, dict[str, dict[str, float]]]:
    """checkpoint name → frame set → subset → gain; ``hit-uav`` only when its folder is given.

    Runs on one CPU thread: 5× faster than two threads on a busy 2-core machine, and the same numbers.
    """
    import torch

    from hmtir.methods import load_method

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _measure(root, hit_uav, load_method)
    finally:
        torch.set_num_threads(threads)


def _measure(root: Path, hit_uav: Path | None, load_method: Any) -> dict[str, dict[str, dict[str, float]]]:
    benches = {"procedural": synthesize_set("procedural", root)}
    if hit_uav is not None:
        benches["hit-uav"] = synthesize_set("hit-uav", root, hit_uav)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name in CHECKPOINTS:
        method = load_method(name, device="cpu")
        result[name] = {frame_set: gains(method, bench) for frame_set, bench in benches.items()}
    return result


def shipped_path(name: str) -> Path:
    """The shipped checkpoint file behind a CHECKPOINTS name."""
    from hmtir.methods import split_weights_tag
    from hmtir.methods.networks import shipped_file

    return shipped_file(*split_weights_tag(name))


def read_floor(path: Path | None = None) -> dict[str, Any]:
    path = path or floor_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FLOOR_FORMAT:
        raise ValueError(f"{path} is not a {FLOOR_FORMAT} file")
    return data


def shortfalls(floor: dict[str, Any], method: str, frame_set: str, measured: dict[str, float]) -> list[str]:
    """Subsets whose measured gain is more than the margin below the recorded one, as readable lines."""
    recorded = floor["methods"][method]["gain_db"][frame_set]
    margin = float(floor["margin_db"])
    return [
        f"{subset}: gain {measured.get(subset)} dB < recorded {want} − {margin} dB"
        for subset, want in recorded.items()
        if measured.get(subset) is None or measured[subset] < want - margin
    ]


def main(argv: list[str] | None = None) -> int:
    import torch

    import hmtir
    from hmtir.weights import sha256_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {floor_path().name} with these gains")
    args = parser.parse_args(argv)
    hit_uav = shared_hit_uav()
    if args.write and hit_uav is None:
        raise SystemExit("--write needs ../shared/data/hit-uav, so that both frame sets are recorded")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure(Path(tmp), hit_uav)
    seconds = time.perf_counter() - started
    for method, sets in measured.items():
        for frame_set, values in sets.items():
            cells = "  ".join(f"{s.split('/')[-1]} {v:+.2f}" for s, v in values.items())
            print(f"{method:<10} {frame_set:<11} {cells}")
    print(f"measured in {seconds:.1f} s")
    if args.write:
        floor = {
            "format": FLOOR_FORMAT,
            "about": "PSNR gain (dB) over identity of each shipped model on fixed frames; "
            "tests/test_quality_floor.py requires measured >= recorded - margin_db and these sha256",
            "regenerate": "python benchmarks/quality_floor.py --write",
            "margin_db": MARGIN_DB,
            "frames": {
                "size": list(SIZE),
                "seed": SEED,
                "gate": GATE,
                "procedural": list(PROCEDURAL),
                "hit-uav": list(HIT_UAV),
            },
            "methods": {
                name: {
                    "weights": shipped_path(name).name,
                    "sha256": sha256_file(shipped_path(name)),
                    "gain_db": measured[name],
                }
                for name in CHECKPOINTS
            },
            "measured_with": {
                "hmtir": hmtir.__version__,
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
            },
        }
        floor_path().write_text(json.dumps(floor, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {floor_path()}")
        return 0
    try:
        floor = read_floor()
    except FileNotFoundError:
        print(f"no {floor_path()} yet: run with --write")
        return 1
    problems = [
        f"{method} {frame_set} {line}"
        for method, sets in measured.items()
        for frame_set, values in sets.items()
        for line in shortfalls(floor, method, frame_set, values)
    ]
    problems += [
        f"{name}: {shipped_path(name).name} sha256 differs from the recorded one (re-measure with --write)"
        for name in CHECKPOINTS
        if sha256_file(shipped_path(name)) != floor["methods"][name]["sha256"]
    ]
    print("\n".join(problems) or "every gain is at or above its floor")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
