"""Seed the leaderboard: rebuild the demo benchmark, run every CPU-feasible method on it, add the paper's
reported numbers, and draw the comparison figures the method pages show.

The demo benchmark is rebuilt from its definition in ``benchmarks.yaml`` (procedural scenes + the HM-TIR
presets), so anyone can re-seed and must get the same manifest hash and the same scores. It is the very
benchmark ``hmtir demo`` builds, so the demo's numbers and the README's "demo" rows are comparable.

**When shipped weights change** (a new ``ppfn``/``nafnet`` checkpoint), one command regenerates every
maintainer row of the demo benchmark, their per-image records and the figures::

    hmtir leaderboard seed            # from the repository root; writes into leaderboard/

``ppfn`` / ``nafnet`` (default weights) are seeded as ``hmtir evaluate`` runs them: with the shipped pair
their data chooses (:func:`hmtir.methods.networks.choose_variant`), named in the row; ``ppfn.agc`` /
``nafnet.agc`` keep the camera pair's rows beside them. A ``--work`` folder keeps finished runs between seeds,
but a run whose weights differ from the ones the method uses on the demo data now is recomputed, never
reused. Then ``hmtir leaderboard build --out site`` renders the site
and ``site/LEADERBOARD.md``, whose demo table is the README's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.yaml_file import read_yaml
from hmtir.leaderboard.benchmarks import Benchmark, get_benchmark
from hmtir.leaderboard.columns import empty_metrics, leaderboard_metrics
from hmtir.leaderboard.schema import RESULT_SCHEMA_ID, validate_result
from hmtir.leaderboard.store import write_entry

REPORTED_FILE = "reported.yaml"
FIGURES_DIR = "figures"
#: Methods seeded on the demo benchmark when they can run here (learned ones need their shipped weights):
#: ``ppfn`` / ``nafnet`` as ``hmtir evaluate`` runs them (the shipped pair chosen from the data), and the camera
#: pair by name (``.agc``), so that every row is a different network and says which.
SEED_METHODS = ("identity", "wfaf", "lrsid", "ppfn", "nafnet", "ppfn.agc", "nafnet.agc")
#: Row titles; ``{weights}`` is filled by :func:`display_name` from the choice the run recorded.
DISPLAY_NAMES = {
    "identity": "Identity (degraded input)",
    "wfaf": "WFAF",
    "lrsid": "LRSID",
    "ppfn": "PPFN + SPT (shipped compact, {weights})",
    "nafnet": "NAFNet (no prompts, {weights})",
    "ppfn.agc": "PPFN + SPT (shipped compact, agc weights)",
    "nafnet.agc": "NAFNet (no prompts, agc weights)",
    "ppfn.dim": "PPFN + SPT (shipped compact, dim weights)",
    "nafnet.dim": "NAFNet (no prompts, dim weights)",
}


def display_name(name: str, choice: dict[str, Any] | None = None) -> str:
    """The row title of seeded method ``name``; ``choice``: the ``weights_choice`` its summary recorded."""
    template = DISPLAY_NAMES.get(name, name)
    if "{weights}" not in template:
        return template
    weights = (
        "default weights" if choice is None else f"weights chosen per data set: {choice['variant']} here"
    )
    return template.format(weights=weights)


def choice_note(choice: dict[str, Any] | None) -> str | None:
    """A row's note on the weights its data chose (None for a method that did not choose)."""
    if choice is None:
        return None
    return (
        f"Shipped weights chosen per data set, as hmtir evaluate does: rule {choice['rule']}; read "
        f"{choice['value']} from {choice['frames']} {choice['source']} → the {choice['variant']} pair."
    )


def build_demo_data(
    bench: Benchmark, out: str | os.PathLike[str], progress: bool = False, workers: int = 1
) -> Path:
    """Materialise a procedural benchmark (scenes + every preset) under ``out``; resumable and deterministic."""
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize

    if bench.scenes is None:
        raise HmtirError(f"benchmark {bench.name} is not procedural; download it instead")
    from hmtir.io.safety import check_output_folder, mark_output_folder

    # the clean scenes go inside the tree, so it is marked hmtir's before synthesize checks it (resumable)
    out = check_output_folder(out, own=lambda tree: (tree / "_clean").is_dir())
    mark_output_folder(out)
    clean = out / "_clean"
    spec = bench.scenes
    pairs = make_scenes(
        clean,
        per_category=int(spec["per_category"]),
        seed=int(spec["seed"]),
        size=(int(spec["height"]), int(spec["width"])),
    )
    presets = [_preset_of(s) for s in bench.subsets]
    synthesize(clean, out, presets=presets, seed=bench.synthesis_seed, scenes=dict(pairs), progress=progress,
               workers=workers)  # fmt: skip
    return out


def _preset_of(subset: str) -> str:
    from hmtir.vocabulary import SUBSETS

    return SUBSETS[subset].preset


def reported_entries(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows copied from papers (``reported`` tier), one per method × benchmark, from ``reported.yaml``."""
    path = Path(path)
    raw = read_yaml(path, "reported numbers")
    if not isinstance(raw, dict) or not isinstance(raw.get("rows"), list):
        raise HmtirError(f"reported numbers {path}: must be a mapping with a 'rows' list")
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


@dataclass
class SeedOutcome:
    """What a seed wrote: files, the verified rows by method, and the methods it could not run (why)."""

    written: list[Path] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def weights_for_data(method: Any, data: Path) -> str | None:
    """The weights sha256 ``method`` runs with on the benchmark at ``data``: a method with default shipped
    weights first takes the pair that data chooses (``fit_to_data``, as ``hmtir evaluate`` does, which then
    finds it already chosen), every other method keeps its own."""
    if hasattr(method, "fit_to_data"):
        method.fit_to_data(Path(data))
    return method.weights_sha256


def stale_run(run_dir: Path, weights_sha256: str | None) -> bool:
    """A kept run (``--work``, a demo's results) made with other weights than ``weights_sha256`` — the ones
    the method uses on that data now (:func:`weights_for_data`): recompute it."""
    from hmtir.evaluation.results import read_summary

    summary = read_summary(run_dir) if run_dir.is_dir() else None
    return summary is not None and summary.get("method", {}).get("weights_sha256") != weights_sha256


def seed(
    leaderboard: str | os.PathLike[str] = "leaderboard",
    work: str | os.PathLike[str] | None = None,
    methods: Sequence[str] = SEED_METHODS,
    log: Callable[[str], None] = print,
    progress: bool = False,
) -> SeedOutcome:
    """Evaluate ``methods`` on the demo benchmark (verified rows), write reported rows and figures."""
    import tempfile

    from hmtir.console import progress as progress_bar
    from hmtir.evaluation import evaluate
    from hmtir.leaderboard.compare import compare_grid
    from hmtir.leaderboard.scoring import hardware_description, result_from_evaluation
    from hmtir.methods import load_method
    from hmtir.runtime import count_parameters

    root = Path(leaderboard)
    bench = get_benchmark("demo")
    outcome = SeedOutcome()
    # maintainer rows: re-seeding replaces them (a submission's rows live in another namespace)
    outcome.written += [
        write_entry(root, entry, None, replace=True) for entry in reported_entries(root / REPORTED_FILE)
    ]
    with tempfile.TemporaryDirectory(prefix="hmtir-seed-") as scratch:
        work_dir = Path(work) if work is not None else Path(scratch)
        data = build_demo_data(bench, work_dir / "demo")
        runnable = []
        with progress_bar(progress, label="seed") as bar:
            task = bar.add_task(f"seeding {bench.key}", total=len(methods))
            for name in methods:
                bar.update(task, description=f"seeding {bench.key} · {name}")
                try:
                    method = load_method(name)
                except HmtirError as err:
                    log(f"skipping {name}: {err}")
                    outcome.skipped[name] = str(err)
                    bar.advance(task)
                    continue
                runnable.append(name)
                run_dir = work_dir / "runs" / (method.name if ":" in name else name)  # file.py:f → f-slug
                # a finished identical run (same weights, data, metrics, seed) is loaded by evaluate itself
                weights = weights_for_data(method, data)  # default weights: the pair the demo data chooses
                run = evaluate(method, data=data, metrics="psnr,ssim", out=run_dir, progress=False,
                               overwrite=stale_run(run_dir, weights))  # fmt: skip
                choice = run.summary["method"].get("weights_choice")
                scored = result_from_evaluation(
                    run_dir,
                    "demo",
                    trust="verified",  # hmtir ran it, just now
                    parameters=count_parameters(method),
                    display_name=display_name(name, choice),
                    hardware=hardware_description(method.device),
                )
                note = choice_note(choice)
                if note is not None:
                    scored.entry["notes"] = note
                outcome.written.append(write_entry(root, scored.entry, scored.records_csv, replace=True))
                outcome.rows[name] = scored.entry
                bar.advance(task)
        figures = root / FIGURES_DIR / bench.key
        for subset in ("composited/normal", "composited/hard"):
            target = figures / f"{subset.replace('/', '-')}.png"
            compare_grid(data, "street_000.png", runnable, target, subset=subset, overwrite=True)
            outcome.written.append(target)
    return outcome


def seed_table(outcome: SeedOutcome) -> Any:
    """The seeded rows: weights, PSNR per subset and its average, seconds per image."""
    from rich.table import Table

    bench = get_benchmark("demo")
    table = Table(title=f"Verified rows on {bench.key} (PSNR, dB, higher is better)", title_justify="left")
    table.add_column("method")
    table.add_column("weights sha256")
    for subset in bench.subsets:
        table.add_column(subset, justify="right")
    table.add_column("avg", justify="right")
    table.add_column("s/img", justify="right")
    for name, entry in outcome.rows.items():
        psnr = [entry["subsets"][s]["metrics"]["psnr"] for s in bench.subsets]
        sha = entry["method"].get("weights_sha256")
        seconds = entry["runtime"]["seconds_per_image"]
        table.add_row(
            name, sha[:12] if sha else "—", *(f"{v:.2f}" for v in psnr), f"{sum(psnr) / len(psnr):.2f}",
            f"{seconds:.3f}" if seconds is not None else "",
        )  # fmt: skip
    for name, why in outcome.skipped.items():
        table.add_row(name, f"skipped: {why}"[:60], *[""] * (len(bench.subsets) + 2))
    return table
