"""Seed the leaderboard: rebuild the demo benchmark, run every CPU-feasible method on it, add the paper's
reported numbers, and draw the comparison figures the method pages show.

The demo benchmark is rebuilt from its definition in ``benchmarks.yaml`` (procedural scenes + the HM-TIR
presets), so anyone can re-seed and must get the same manifest hash and the same scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from hmtir.errors import HmtirError
from hmtir.leaderboard.schema import (
    RESULT_SCHEMA_ID,
    Benchmark,
    empty_metrics,
    get_benchmark,
    leaderboard_metrics,
    validate_result,
    write_entry,
)

REPORTED_FILE = "reported.yaml"
FIGURES_DIR = "figures"
#: Methods seeded on the demo benchmark when they can run here (learned ones need their shipped weights).
SEED_METHODS = ("identity", "wfaf", "lrsid", "ppfn", "nafnet")
DISPLAY_NAMES = {
    "identity": "Identity (degraded input)",
    "wfaf": "WFAF",
    "lrsid": "LRSID",
    "ppfn": "PPFN + SPT (shipped compact)",
    "nafnet": "NAFNet (no prompts)",
}


def build_demo_data(bench: Benchmark, out: str | os.PathLike[str], progress: bool = False) -> Path:
    """Materialise a procedural benchmark (scenes + every preset) under ``out``; resumable and deterministic."""
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize

    if bench.scenes is None:
        raise HmtirError(f"benchmark {bench.name} is not procedural; download it instead")
    out = Path(out)
    clean = out / "_clean"
    spec = bench.scenes
    pairs = make_scenes(
        clean,
        per_category=int(spec["per_category"]),
        seed=int(spec["seed"]),
        size=(int(spec["height"]), int(spec["width"])),
    )
    presets = [_preset_of(s) for s in bench.subsets]
    synthesize(clean, out, presets=presets, seed=bench.synthesis_seed, scenes=dict(pairs), progress=progress)
    return out


def _preset_of(subset: str) -> str:
    from hmtir.vocabulary import SUBSETS

    return SUBSETS[subset].preset


def reported_entries(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows copied from papers (``reported`` tier), one per method × benchmark, from ``reported.yaml``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise HmtirError(f"cannot read reported numbers {path}: {err}") from None
    entries = []
    for row in raw["rows"]:
        bench = get_benchmark(row["benchmark"])
        subsets = {}
        for subset, values in row["subsets"].items():
            unknown = set(values) - set(leaderboard_metrics())
            if unknown:
                raise HmtirError(
                    f"{path}: {row['method']} {subset}: unknown metric(s) {', '.join(sorted(unknown))}"
                )
            metrics = empty_metrics()
            metrics.update({k: float(v) for k, v in values.items()})
            subsets[subset] = {"images": None, "metrics": metrics, "seconds_per_image": None}
        entry = {
            "schema": RESULT_SCHEMA_ID,
            "method": {
                "name": row["method"],
                "display_name": row["display_name"],
                "kind": row["kind"],
                "parameters": row.get("parameters"),
                "paper": row.get("paper"),
            },
            "benchmark": {"name": bench.name, "version": bench.version, "manifest_sha256": None},
            "trust": "reported",
            "subsets": subsets,
            "runtime": {"seconds_per_image": None, "hardware": None, "measured_by": None},
            "records": None,
            "provenance": {"hmtir_version": None, "source": raw["source"]},
            "notes": row.get("notes", raw.get("notes", "")),
        }
        entries.append(validate_result(entry, f"{path} ({row['method']})"))
    return entries


def seed(
    leaderboard: str | os.PathLike[str] = "leaderboard",
    work: str | os.PathLike[str] | None = None,
    methods: Sequence[str] = SEED_METHODS,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Evaluate ``methods`` on the demo benchmark (verified rows), write reported rows and figures."""
    import tempfile

    from hmtir.evaluation import evaluate
    from hmtir.leaderboard.compare import compare_grid
    from hmtir.leaderboard.scoring import result_from_evaluation
    from hmtir.methods import load_method
    from hmtir.runtime import count_parameters

    root = Path(leaderboard)
    bench = get_benchmark("demo")
    # maintainer rows: re-seeding replaces them (a submission's rows live in another namespace)
    written = [
        write_entry(root, entry, None, replace=True) for entry in reported_entries(root / REPORTED_FILE)
    ]
    with tempfile.TemporaryDirectory(prefix="hmtir-seed-") as scratch:
        work_dir = Path(work) if work is not None else Path(scratch)
        data = build_demo_data(bench, work_dir / "demo")
        runnable = []
        for name in methods:
            try:
                method = load_method(name)
            except HmtirError as err:
                log(f"skipping {name}: {err}")
                continue
            runnable.append(name)
            run_dir = work_dir / "runs" / name
            if not (
                run_dir / "summary.json"
            ).is_file():  # a --work folder keeps finished runs; delete to redo
                evaluate(method, data=data, metrics="psnr,ssim", out=run_dir, progress=False, overwrite=True)
            outcome = result_from_evaluation(
                run_dir,
                "demo",
                parameters=count_parameters(method),
                display_name=DISPLAY_NAMES.get(name, name),
            )
            written.append(write_entry(root, outcome.entry, outcome.records_csv, replace=True))
            psnr = ", ".join(
                f"{s} {v['metrics']['psnr']:.2f} dB" for s, v in outcome.entry["subsets"].items()
            )
            log(f"{name}: {psnr}")
        figures = root / FIGURES_DIR / bench.key
        for subset in ("composited/normal", "composited/hard"):
            target = figures / f"{subset.replace('/', '-')}.png"
            compare_grid(data, "street_000.png", runnable, target, subset=subset, overwrite=True)
            written.append(target)
    return written
