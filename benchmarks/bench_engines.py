"""CPU engines side by side: official Restormer-PPFN (eager fp32) against each hmtir engine that runs here.

One run, one machine, one seeded set of weights in the release's format (hmtir's ``ppfn_restormer`` at the
release's size, seed 0, loaded strictly into the official class too), one seeded frame, SPT composite (three
passes). Each (model, engine, size) runs in its own subprocess, so its peak RSS is its own
(VmHWM of the child, read by itself); ONNX exports are made once beforehand in a
separate process (cached under ``$HMTIR_HOME/engines``) so export memory is not counted.

    python benchmarks/bench_engines.py --official /path/to/restormer_arch.py [--sizes 256x320,640x512]
        [--engines torch,onnxruntime,openvino,openvino-bf16] [--compact] [--tiling] [--timeout 900]

``--official PATH``: the official ``models/restormer_arch.py`` (not part of hmtir; fetch it from the
release's repository). Without it, hmtir's torch fp32 eager is the baseline, and the output says so.
Accuracy: fp32 engines as max abs difference from the baseline; reduced precision as PSNR against it.
``--tiling``: PSNR of tiled against whole-frame restoration on real 640×512 HIT-UAV frames.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RELEASED = (
    "ppfn_restormer"  # catalog default = the release: dim 48, blocks [4,6,6,8], 4 refinement, heads [1,2,4,8]
)
COMPACT = "ppfn_nafnet"  # the shipped compact PPFN (agc checkpoint)
ENGINE_ROWS = {  # row name → (hmtir engine, precision)
    "torch": ("torch", "fp32"),
    "torch-bf16": ("torch", "bf16"),
    "onnxruntime": ("onnxruntime", "fp32"),
    "openvino": ("openvino", "fp32"),
    "openvino-bf16": ("openvino", "bf16"),
}


def _model(name: str):  # type: ignore[no-untyped-def]
    """The released size with seed-0 weights and hmtir's seeded bank, or the shipped compact checkpoint."""
    import torch

    from hmtir.models import create_model
    from hmtir.models.prompts import PromptBank

    if name == COMPACT:
        from hmtir.methods.networks import shipped_file
        from hmtir.models.checkpoint import load_checkpoint

        loaded = load_checkpoint(shipped_file("ppfn"))
        return loaded.model.eval(), loaded.bank
    torch.manual_seed(0)
    return create_model(name).eval(), PromptBank.seeded()


def _frame(height: int, width: int):  # type: ignore[no-untyped-def]
    import torch

    return torch.rand(1, 1, height, width, generator=torch.Generator().manual_seed(1))


def _official(path: str, model):  # type: ignore[no-untyped-def]
    """The official class at the release's size, holding hmtir's seeded weights (strict load)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("official_restormer_arch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    official = module.Restormer_PPFN(inp_channels=1, out_channels=1).eval()
    official.load_state_dict(model.state_dict(), strict=True)
    return official


def worker(job: dict) -> dict:
    """One measurement in this process: SPT composite on one frame; the output is saved for comparison."""
    import numpy as np
    import torch

    torch.set_num_threads(job["threads"])
    from hmtir import engines
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import input_statistics, pass_schedule

    model, bank = _model(job["model"])
    x = _frame(*job["size"])
    stats = input_statistics(model, x)
    padded, (height, width) = pad_to_multiple(x, model.size_multiple)
    if job["row"] == "official":
        net = _official(job["official"], model)

        def run(inp):  # type: ignore[no-untyped-def]
            out = inp
            with torch.inference_mode():
                for deg, scen in pass_schedule("composite", "composite"):
                    d, s = bank.prompts(deg, scen)
                    out = net([out, d[:, 0], s]).clamp(0, 1)
            return out
    else:
        name, precision = ENGINE_ROWS[job["row"]]
        runner = engines.build_runner(name, model, bank, precision, "cpu")

        def run(inp):  # type: ignore[no-untyped-def]
            return engines.restore(runner, inp, "composite", "composite", stats)

    if job["warmup"]:
        run(padded)
    else:  # kernels and allocator on a small frame, not a second full call
        run(_frame(64, 80))
    seconds = []
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        out = run(padded)
        seconds.append(time.perf_counter() - start)
    np.save(job["out"], out[..., :height, :width].float().numpy())
    rss = peak_rss_mib()
    version = (
        "(official code)" if job["row"] == "official" else engines.engine_version(ENGINE_ROWS[job["row"]][0])
    )
    return {"seconds": sorted(seconds)[len(seconds) // 2], "rss_mib": rss, "version": version}


def peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM (per address space, so it starts afresh at exec), else ru_maxrss
    (which Linux carries over from the parent across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(model_name: str) -> None:
    """Export the model once (cached) so workers only load the file."""
    from hmtir import engines

    model, bank = _model(model_name)
    if engines.unsupported_reason("onnxruntime") is None or engines.unsupported_reason("openvino") is None:
        start = time.perf_counter()
        path = engines.exported_onnx(model, bank, engines.model_digest(model, bank))
        print(f"  export {model_name}: {path.name} ({time.perf_counter() - start:.0f} s, cached after)")


def _spawn(args: list[str], timeout: float) -> tuple[dict | None, str]:
    try:
        done = subprocess.run(
            [sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"> {timeout:.0f} s (stopped)"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return None, lines[-1][:120] if lines else f"exit {done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def _psnr(a, b) -> float:  # type: ignore[no-untyped-def]
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def lscpu() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    keep = ("Model name", "CPU(s):", "Thread(s) per core", "L2 cache", "L3 cache")
    return "\n".join(line for line in text.splitlines() if line.startswith(keep))


def bench(args: argparse.Namespace) -> None:
    import numpy as np

    from hmtir import engines

    print(lscpu())
    print(f"ISA: {engines.cpu_description()}")
    versions = {name: engines.engine_version(name) for name in engines.ENGINES}
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"threads {args.threads}; load average at start {os.getloadavg()[0]:.1f}")
    models = ([] if args.skip_released else [RELEASED]) + ([COMPACT] if args.compact else [])
    for model in models:  # in a child: the parent stays small, so no child inherits its peak
        subprocess.run([sys.executable, __file__, "--prepare", model], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    table = []
    for model in models:
        for size in args.sizes:
            rows = (["official"] if args.official and model == RELEASED else []) + args.engines
            baseline = None
            print(f"\n{model} {size[0]}×{size[1]}, SPT composite (3 passes), 1 frame")
            print(
                f"{'row':<15}{'version':<16}{'s/frame':>9}{'× base':>8}{'max abs':>10}"
                f"{'PSNR dB':>9}{'RSS MiB':>9}"
            )
            for row in rows:
                name = ENGINE_ROWS[row][0] if row in ENGINE_ROWS else None
                if name is not None:
                    reason = engines.unsupported_reason(name, ENGINE_ROWS[row][1])
                    if reason is None and row == "torch-bf16" and not engines.native_bf16():
                        reason = "no native bf16 on this CPU"
                    if reason is not None:
                        print(f"{row:<15}skipped: {reason}")
                        continue
                out = tmp / f"{model}-{size[0]}x{size[1]}-{row}.npy"
                small = model == COMPACT
                job = {
                    "model": model, "size": size, "row": row, "official": args.official,
                    "threads": args.threads, "repeats": args.repeats if small else 1, "warmup": small,
                    "out": str(out),
                }  # fmt: skip
                result, error = _spawn(["--worker", json.dumps(job)], args.timeout)
                if result is None:
                    print(f"{row:<15}{error}")
                    table.append({"model": model, "size": size, "row": row, "error": error})
                    continue
                got = np.load(out)
                if baseline is None:
                    baseline = (row, got, result["seconds"])
                diff = float(np.abs(got - baseline[1]).max())
                ratio = baseline[2] / result["seconds"]
                psnr = _psnr(baseline[1], got)
                print(
                    f"{row:<15}{str(result['version']):<16}{result['seconds']:>9.2f}{ratio:>8.2f}"
                    f"{diff:>10.2e}{psnr:>9.1f}{result['rss_mib']:>9.0f}"
                )
                table.append({"model": model, "size": size, "row": row, **result, "speedup": ratio,
                              "max_abs": diff, "psnr": psnr, "baseline": baseline[0]})  # fmt: skip
            if baseline is not None and baseline[0] != "official":
                print(f"(baseline: hmtir {baseline[0]}: no --official given, or it failed)")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1, default=str))


def tiling(args: argparse.Namespace) -> None:
    """PSNR of tiled against whole-frame restoration on real 640×512 frames (HIT-UAV), per model."""
    import torch

    from hmtir import engines
    from hmtir.io.image import read_image
    from hmtir.tiling import tiled_apply

    torch.set_num_threads(args.threads)
    frames = sorted(Path(args.hit_uav).glob("*.jpg"))[: args.tiling_frames]
    engine = "openvino" if engines.unsupported_reason("openvino") is None else "torch"
    print(f"\ntiling: tile {args.tile[0]}×{args.tile[1]}, overlap {args.overlap}, engine {engine}, "
          f"{len(frames)} HIT-UAV frames")  # fmt: skip
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import input_statistics

    def whole(model, runner, x, stats):  # type: ignore[no-untyped-def]
        padded, (h, w) = pad_to_multiple(x, model.size_multiple)
        return engines.restore(runner, padded, "composite", "composite", stats)[..., :h, :w]

    for model_name in [COMPACT, RELEASED]:
        model, bank = _model(model_name)
        runner = engines.build_runner(engine, model, bank, "fp32", "cpu")
        values, seconds = [], [0.0, 0.0]
        for path in frames:
            x = torch.from_numpy(read_image(path).data.astype("float32"))[None, None]
            stats = input_statistics(model, x)
            start = time.perf_counter()
            full = whole(model, runner, x, stats)
            seconds[0] += time.perf_counter() - start
            start = time.perf_counter()
            part = functools.partial(whole, model, runner, stats=stats)
            tiled = tiled_apply(part, x, tuple(args.tile), args.overlap)
            seconds[1] += time.perf_counter() - start
            values.append(engines.psnr(full, tiled))
        print(
            f"{model_name:<15} frames {tuple(x.shape[-2:])}: tiled vs whole PSNR min {min(values):.1f} dB, "
            f"mean {sum(values) / len(values):.1f} dB; whole {seconds[0] / len(frames):.2f} s/frame, "
            f"tiled {seconds[1] / len(frames):.2f} s/frame"
        )


def _size(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--prepare":
        prepare(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", default=None, help="path to the official models/restormer_arch.py")
    parser.add_argument("--sizes", default="256x320", help="comma list of HxW")
    parser.add_argument("--engines", default="torch,onnxruntime,openvino,openvino-bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="compact model only (the released one: 1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--compact", action="store_true", help="also the compact shipped PPFN-NAFNet")
    parser.add_argument("--skip-released", action="store_true", help="no released-size rows")
    parser.add_argument("--tiling", action="store_true", help="tiled vs whole PSNR on HIT-UAV frames")
    parser.add_argument("--only-tiling", action="store_true")
    parser.add_argument("--hit-uav", default=str(REPO.parent / "shared" / "data" / "hit-uav"))
    parser.add_argument("--tiling-frames", type=int, default=2)
    parser.add_argument("--tile", type=_size, default=(288, 352))
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--json", default=None, help="write the table here")
    args = parser.parse_args()
    args.sizes = [_size(s) for s in args.sizes.split(",") if s]
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in args.engines if e not in ENGINE_ROWS]
    if unknown:
        parser.error(f"unknown engine row(s) {', '.join(unknown)} (use {', '.join(ENGINE_ROWS)})")
    if not args.only_tiling:
        bench(args)
    if args.tiling or args.only_tiling:
        tiling(args)


if __name__ == "__main__":
    main()
