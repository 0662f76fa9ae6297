"""GPU suite (issue 8): correctness and speed of every performance lever, in one process, one device call.

Sections, in priority order (each one is skipped, not cut, when ``--budget-s`` would be exceeded):

1. ``env``        card, torch/CUDA/Triton versions, date; measured bf16 matmul and copy ceilings
2. ``infer``      Restormer-PPFN (released architecture; random init unless the official weights are in
                  the weights dir) SPT composite at 1×1×512×640: fp32 eager (reference) vs fp64 (error
                  floor), TF32, bf16, fp16, bf16+channels-last, bf16+CUDA graph; first-frame latency apart
3. ``degrade``    batched torch degradation cascade at 640×512, frames/s for batch 16/64/256; GPU vs CPU
4. ``metrics``    PSNR+SSIM images/s on the device; scores vs CPU
5. ``train``      SPT training step, batch 4 / 256², 3 passes, Adam: fp32 vs bf16 vs per-pass backward;
                  peak memory (torch.cuda.max_memory_allocated); first-step gradients vs fp32
6. ``evaluate``   ``hmtir.evaluate`` of the compact reference ``ppfn`` on a synthesized 300-frame test set
                  (procedural scenes → all five subsets), PSNR/SSIM (+NIQE when its weights are present),
                  with and without the prefetching reader
7. ``compile``    torch.compile + bf16 (default mode, then reduce-overhead = CUDA graphs), a warm-cache
                  recompile (what a second process pays), compiled training step, compile+channels-last

Every timed variant is checked against the fp32 eager path (max abs error, ‖Δ‖/‖ref‖ and ‖Δ‖/‖ref−x‖, the
error on the predicted correction) on several real-ish inputs (degraded procedural scenes). The table has
a ``predicted`` column written BEFORE any measurement from the issue's H200 anchors (official fp32
0.383 s/img, bf16 0.240, compile+bf16 0.103 after an 87 s compile, floor ≈3 ms): predictions, not results.

    python benchmarks/gpu_suite.py --out DIR [--budget-s 450] [--only infer,compile] [--skip train]
    python benchmarks/gpu_suite.py --quick          # tiny sizes on CPU in well under a minute (CI)

Each section lives in ``gpu_suite_stages/<section>.py`` with the predictions for its rows;
``gpu_suite_stages/core.py`` holds the rows, the timing helpers and the report writer, ``config.py`` the sizes.

Writes ``gpu_suite.md`` and ``gpu_suite.json`` to ``--out`` (default ``$OUT``, else ``gpu-suite-out``),
rewritten after every row, so a run stopped from outside still leaves every finished number behind.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from gpu_suite_stages import compile as compile_stage
from gpu_suite_stages import degrade, env, evaluate, infer, metrics, train
from gpu_suite_stages.config import FULL, QUICK
from gpu_suite_stages.core import Row, Suite

SECTIONS = ("env", "infer", "degrade", "metrics", "train", "evaluate", "compile")

# Predictions, written before measuring (H200 unless a row says otherwise; expect memory-bound rows about
# 1.3x slower on an H100, 3.35 vs 4.8 TB/s). Anchors from issue 8 are marked "anchor".
PREDICTIONS: dict[str, str] = {
    **infer.PREDICTIONS,
    **compile_stage.PREDICTIONS,
    **degrade.PREDICTIONS,
    **metrics.PREDICTIONS,
    **train.PREDICTIONS,
    **evaluate.PREDICTIONS,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; --only/--skip become lists of known section names (a typo is a usage error)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes on CPU (< 60 s): exercises every section"
    )
    parser.add_argument(
        "--out", default=os.environ.get("OUT") or "gpu-suite-out", help="folder for the table"
    )
    parser.add_argument("--device", default=None, help="default: cuda when available (cpu with --quick)")
    parser.add_argument(
        "--budget-s", type=float, default=450.0, help="skip what would end past this many seconds"
    )
    parser.add_argument("--only", default="", help=f"comma list of sections ({','.join(SECTIONS)})")
    parser.add_argument("--skip", default="", help="comma list of sections to leave out")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: torch's; 1 with --quick)"
    )
    parser.add_argument(
        "--with-compile", action="store_true", help="also run the compile rows in --quick mode"
    )
    args = parser.parse_args(argv)
    for name in ("only", "skip"):
        chosen = [s.strip() for s in getattr(args, name).split(",") if s.strip()]
        unknown = sorted(set(chosen) - set(SECTIONS))
        if unknown:
            parser.error(
                f"--{name}: unknown section(s) {', '.join(unknown)} (choose from {', '.join(SECTIONS)})"
            )
        setattr(args, name, chosen)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the sections in priority order; each failure is an ERROR row, never the end of the run."""
    args = parse_args(argv)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() and not args.quick else "cpu"
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("--device cuda requested but CUDA is not available", file=sys.stderr)
        return 2
    if device.type == "cuda":
        if device.index is None:  # set_device (and memory stats per card) need an index
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
        suite_tf32 = {
            "cudnn_allow_tf32_default": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32,
        }
    else:
        suite_tf32 = {}
    threads = args.threads or (1 if args.quick else None)  # tiny ops on a shared CPU: more threads only spin
    if threads:
        torch.set_num_threads(threads)
    config = QUICK if args.quick else FULL
    suite = Suite(args, config, device, PREDICTIONS)
    suite.header.update(suite_tf32)
    env.section_env(suite)
    bench = None
    if suite.wants("infer") or suite.wants("compile"):
        with suite.guard("infer", "setup"):
            bench = infer.section_infer(suite) if suite.wants("infer") else infer.bench_with_refs(suite)
    if suite.wants("degrade"):
        with suite.guard("degrade", "setup"):
            degrade.section_degrade(suite)
    if suite.wants("metrics"):
        with suite.guard("metrics", "setup"):
            metrics.section_metrics(suite)
    compile_rows = suite.wants("compile") and (not args.quick or args.with_compile)
    if suite.wants("train"):
        with suite.guard("train", "setup"):
            train.section_train(suite, train.TRAIN_EAGER)
    if suite.wants("evaluate"):
        with suite.guard("evaluate", "setup"):
            evaluate.section_evaluate(suite)
    if compile_rows:
        compile_stage.section_compile(suite, bench)
    elif suite.wants("compile"):
        suite.add(
            Row(
                "infer",
                "compile bf16",
                note="skipped in --quick (CPU inductor builds take minutes); --with-compile runs it",
            )
        )
    suite.header["elapsed_s"] = round(suite.elapsed(), 1)
    suite.write()
    print()
    print(suite.markdown())
    print(f"wrote {suite.out / 'gpu_suite.md'} and {suite.out / 'gpu_suite.json'} in {suite.elapsed():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
