"""Speed-up of sharded evaluation (``torchrun --nproc-per-node N -m hmtir evaluate``) over one process.

Side by side in one run, alternating A B C A B C ... so that load from other jobs on a shared machine hits
every arm alike, each run into a fresh folder (nothing is loaded from an earlier run's cache):

- A: ``python -m hmtir evaluate`` in one process (CPU: torch threads = all cores; cuda: one GPU);
- B: ``torchrun --standalone --nproc-per-node N -m hmtir evaluate`` (CPU: cores / N threads per rank, gloo;
  ``--device cuda``: one GPU per rank, NCCL);
- C (CPU only; ``--arms`` chooses the arms): one process with the threads of one rank, so that B vs C
  is the gain of sharding alone and A vs C the cost or gain of intra-op threading for this method.

The benchmark is built here: procedural scenes (``hmtir.make_scenes``) degraded with one preset
(``hmtir.synthesize``), one subset. Reported per run: wall time (process start to exit, so interpreter and
torch start-up and, for B, the rendezvous and the merge on rank 0 are included), CPU time of the process
tree (user + sys), the method's own time (sum of the records' ``seconds``; the slowest rank for B), and the
1-minute load average before and after. Then medians and speed-ups (median A / median B, C / B, and per
round). Records are checked in every column but ``seconds``: runs with the same threads per process as an
earlier run must be bit-identical to it, the first run of another thread count must match the first run
within ``--rtol`` (float reductions split over a different number of threads round differently); the
script exits 1 otherwise.

    python benchmarks/bench_sharded_eval.py [--method lrsid] [--frames 16] [--size 640x512] [--nproc 2]
        [--repeats 3] [--device cpu|cuda] [--work DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd


def _size(text: str) -> tuple[int, int]:
    """``640x512`` (width × height) → (height, width), the order ``make_scenes`` takes."""
    try:
        width, height = (int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 640x512, got {text!r}") from err
    return height, width


def build_data(root: Path, frames: int, size: tuple[int, int], preset: str) -> Path:
    """``frames`` procedural scenes (categories in turn) degraded with ``preset``; frames on disk are kept."""
    from hmtir import make_scenes, synthesize
    from hmtir.data.scenes import SCENE_CATEGORIES

    data = root / f"data-{preset}-{frames}-{size[1]}x{size[0]}"
    clean, layout = data / "clean", data / "layout"
    pairs: dict[str, str] = {}
    for i, category in enumerate(SCENE_CATEGORIES):
        count = frames // len(SCENE_CATEGORIES) + (i < frames % len(SCENE_CATEGORIES))
        if count:
            pairs.update(make_scenes(clean, per_category=count, size=size, categories=(category,)))
    synthesize(clean, layout, presets=preset, scenes=pairs, progress=False)
    return layout


def _env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(command: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """Run ``command`` (output to ``<out>.log``): wall and CPU seconds, 1-min load average before and after."""
    log = out.with_suffix(".log")
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    load_after = os.getloadavg()[0]
    if done.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{' '.join(command)}\nexited {done.returncode}; end of {log}:\n{tail}")
    return {"wall_s": wall, "cpu_s": cpu, "load_before": load_before, "load_after": load_after}


def compare_records(records: pd.DataFrame, reference: pd.DataFrame, rtol: float) -> str:
    """``identical``, ``equal within rtol`` (scores differ in the last bits) or ``DIFFER: ...``.

    torch splits reductions (the method's float32 arithmetic, the metrics' float64 sums) across its intra-op
    threads, so a process with 2 threads and one with 1 can differ in the last bits (measured: SSIM 1e-7
    for lrsid/ppfn, PSNR 3e-14 dB for identity) with the same frames in the same batches. Anything else
    (frames, order, names, text columns) must match exactly.
    """
    if list(records.columns) != list(reference.columns) or len(records) != len(reference):
        return f"DIFFER: columns/rows {list(records.columns)} × {len(records)}"
    floats = [c for c in reference.columns if pd.api.types.is_float_dtype(reference[c])]
    others = [c for c in reference.columns if c not in floats]
    if not records[others].equals(reference[others]):
        return "DIFFER: frames, names or text columns"
    if records[floats].equals(reference[floats]):
        return "identical"
    delta = (records[floats] - reference[floats]).abs()
    scale = reference[floats].abs().clip(lower=1e-12)
    worst = (delta / scale).max().max()
    column = (delta / scale).max().idxmax()
    detail = f"max |Δ{column}| = {delta[column].max():.1e} (relative {worst:.1e})"
    return f"equal within rtol, {detail}" if worst <= rtol else f"DIFFER: {detail}"


def method_seconds(records: pd.DataFrame, nproc: int, batch_size: int) -> float:
    """The slowest rank's summed restore+score seconds: chunks of ``batch_size`` frames go to rank
    ``chunk index % nproc`` in plan order (hmtir/evaluation/run.py); one subset here, so records' order."""
    per_rank = [0.0] * nproc
    for position, seconds in enumerate(records["seconds"]):
        per_rank[(position // batch_size) % nproc] += float(seconds)
    return max(per_rank)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="lrsid")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=_size, default=(512, 640), help="WIDTHxHEIGHT [640x512]")
    parser.add_argument("--preset", default="normal", help="degradation preset, one subset [normal]")
    parser.add_argument("--nproc", type=int, default=2, help="processes (ranks) of the sharded run")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of A B (C), alternating")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--arms",
        default="ABC",
        help="arms to run, in this order each round; B is required, C is CPU-only [ABC]",
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--metrics", default="psnr,ssim")
    parser.add_argument("--work", type=Path, help="keep data and runs here [a temporary folder]")
    parser.add_argument(
        "--rtol", type=float, default=1e-6, help="scores across thread counts: relative tolerance [1e-6]"
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    letters = set(args.arms.upper())
    if "B" not in letters or letters - set("ABC") or len(letters) < 2:
        parser.error(f"--arms takes letters of ABC, B and at least one other, got {args.arms!r}")
    if args.frames < 1 or args.nproc < 2 or args.repeats < 1 or args.batch_size < 1:
        parser.error("need --frames ≥ 1, --nproc ≥ 2, --repeats ≥ 1, --batch-size ≥ 1")
    cores = os.cpu_count() or 1
    machine = f"{cores} CPU cores"
    if args.device == "cuda":
        import torch

        if torch.cuda.device_count() < args.nproc:
            parser.error(
                f"--device cuda --nproc {args.nproc} needs {args.nproc} GPUs, found {torch.cuda.device_count()}"
            )
        machine += f", {torch.cuda.device_count()}× {torch.cuda.get_device_name(0)}"
    work = args.work or Path(tempfile.mkdtemp(prefix="hmtir-bench-sharded-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        all_equal = _bench(args, work, cores, machine)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if not all_equal:
        sys.exit(1)


def _bench(args: argparse.Namespace, work: Path, cores: int, machine: str) -> bool:
    layout = build_data(work, args.frames, args.size, args.preset)
    runs = work / f"runs-{datetime.now():%Y%m%d-%H%M%S}"
    runs.mkdir()
    evaluate = ["-m", "hmtir", "evaluate", "--method", args.method, "--data", str(layout)]
    evaluate += ["--metrics", args.metrics, "--device", args.device, "--batch-size", str(args.batch_size)]
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc)]
    rank_threads = max(1, cores // args.nproc)
    # arm: (label, command after the interpreter, threads per process, processes)
    every = {
        "A": ("1 process", evaluate, cores, 1),
        "B": (f"{args.nproc} processes", [*launcher, *evaluate], rank_threads, args.nproc),
        "C": (f"1 proc {rank_threads} thr", evaluate, rank_threads, 1),
    }
    wanted = [
        arm for arm in args.arms.upper() if arm != "C" or (args.device == "cpu" and rank_threads < cores)
    ]
    arms = {arm: every[arm] for arm in wanted}
    print(
        f"{args.method} on {args.frames} frames {args.size[1]}×{args.size[0]} ({args.preset}), "
        f"device {args.device}, {machine}, batch size {args.batch_size}, load average now "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for arm, (label, command, threads, _) in arms.items():
        shown = " ".join(["torchrun", *command[2:]] if command is not evaluate else ["python", *command])
        print(f"{arm} ({label}): {shown}  [OMP_NUM_THREADS={threads} per process]")
    # page the interpreter, torch and hmtir into memory so the first timed run does not pay for it alone
    subprocess.run([sys.executable, "-c", "import torch, hmtir.methods, hmtir.evaluation"], check=True)

    print(
        f"{'run':>4s} {'arm':>16s} {'wall s':>8s} {'cpu s':>8s} {'method s':>9s} "
        f"{'load before':>11s} {'load after':>10s}  records"
    )
    results: list[dict[str, Any]] = []
    first: dict[int, tuple[str, pd.DataFrame]] = {}  # threads per process → (run, records) of its first run
    all_equal = True
    for round_ in range(args.repeats):
        for arm, (label, command, threads, nproc) in arms.items():
            out = runs / f"{arm}{round_ + 1}"
            measured = run_once([sys.executable, *command, "--out", str(out)], _env(threads), out)
            records = pd.read_parquet(out / "records.parquet")
            world = json.loads((out / "summary.json").read_text()).get("world_size")
            content = records.drop(columns="seconds").reset_index(drop=True)
            name = f"{arm}{round_ + 1}"
            verdicts = []
            if threads in first:  # same threads per process as an earlier run: scores must be bit-identical
                verdicts.append(f"vs {first[threads][0]}: {compare_records(content, first[threads][1], 0.0)}")
            elif first:  # other thread count: the first run's scores, within --rtol
                reference = next(iter(first.values()))
                verdicts.append(f"vs {reference[0]}: {compare_records(content, reference[1], args.rtol)}")
            first.setdefault(threads, (name, content))
            if world != nproc or len(records) != args.frames:
                verdicts.append(f"DIFFER: world_size {world}, {len(records)} records")
            verdict = "; ".join(verdicts) or "reference"
            all_equal &= "DIFFER" not in verdict
            measured |= {
                "run": name,
                "arm": arm,
                "processes": nproc,
                "threads_per_process": threads,
                "method_s": method_seconds(records, nproc, args.batch_size),
                "records": verdict,
            }
            results.append(measured)
            print(
                f"{name:>4s} {label:>16s} {measured['wall_s']:8.1f} {measured['cpu_s']:8.1f} "
                f"{measured['method_s']:9.1f} {measured['load_before']:11.2f} "
                f"{measured['load_after']:10.2f}  {verdict}",
                flush=True,
            )

    walls = {arm: [r["wall_s"] for r in results if r["arm"] == arm] for arm in arms}
    medians = {arm: statistics.median(values) for arm, values in walls.items()}
    summary: dict[str, Any] = {}
    for base in [arm for arm in arms if arm != "B"]:
        ratios = [a / b for a, b in zip(walls[base], walls["B"], strict=True)]
        summary[f"speedup_{base}_over_B"] = {"median": medians[base] / medians["B"], "rounds": ratios}
        print(
            f"speed-up B vs {base}: median wall {medians[base]:.1f} s / {medians['B']:.1f} s = "
            f"{medians[base] / medians['B']:.2f}× (per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
            f"ideal {args.nproc}×)"
        )
    for arm in arms:
        rows = [r for r in results if r["arm"] == arm]
        cpu = statistics.median(r["cpu_s"] for r in rows)
        method = statistics.median(r["method_s"] for r in rows)
        print(
            f"{arm}: median CPU {cpu:.1f} s ({cpu / medians[arm]:.2f} cores busy on average), "
            f"median method time of the slowest rank {method:.1f} s"
        )
    print("records: " + ("all as required (see above)" if all_equal else "NOT all as required, see above"))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "method": args.method,
                    "frames": args.frames,
                    "size": f"{args.size[1]}x{args.size[0]}",
                    "preset": args.preset,
                    "nproc": args.nproc,
                    "device": args.device,
                    "machine": machine,
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "arms": {
                        arm: {"label": v[0], "threads": v[2], "processes": v[3]} for arm, v in arms.items()
                    },
                    "runs": results,
                    "median_wall_s": medians,
                    **summary,
                    "records_as_required": all_equal,
                },
                indent=1,
            )
        )
    return all_equal


if __name__ == "__main__":
    main()
