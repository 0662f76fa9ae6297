"""Peak memory and time of one SPT training step: summed backward vs per-pass backward (``hmtir train``).

SPT's passes are detached from each other, so back-propagating each pass's loss as soon as it exists
(``SPTObjective(..., backward=True)``, what ``hmtir train`` does) gives the same gradients as one
backward of the summed loss while only one pass's activations are alive. Prediction before measuring: the step's extra
memory drops to about a third for an all-composite batch (3 passes), time unchanged.

Each variant runs in its own fresh process (so peak RSS is its own): one warm-up step, then timed steps;
"step peak" is the process's peak RSS minus its RSS just before the first step (model, optimiser state and
batch already allocated). CPU only; the GPU suite measures the same on a card with the CUDA allocator.

    python benchmarks/bench_train_memory.py [--model ppfn_nafnet] [--batch 4] [--crop 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

VARIANTS = ("summed", "per-pass")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def one_variant(args: argparse.Namespace) -> dict[str, float]:
    import torch

    from hmtir.degrade.torch_ops import degrade
    from hmtir.models import create_model
    from hmtir.models.prompts import PromptBank
    from hmtir.train.objective import SPTObjective

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.model).train()
    objective = SPTObjective(model, PromptBank.seeded(), spt=True, precision=args.precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    clean = torch.rand(args.batch, 1, args.crop, args.crop, generator=torch.Generator().manual_seed(1))
    batch = degrade(clean, "hard", torch.Generator().manual_seed(2), gate=1.0, return_steps=True)

    def step() -> None:
        optimizer.zero_grad(set_to_none=False)  # keep .grad allocated: equal footing for both variants
        if args.variant == "per-pass":
            objective(batch.degraded, clean, batch.steps, None, backward=True)
        else:
            objective(batch.degraded, clean, batch.steps, None)[0].backward()
        optimizer.step()

    # allocate gradients and Adam state once, so the measured step only adds activations
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    before = rss_mib()
    step()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"step_peak_mib": peak - before, "base_mib": before, "seconds": sorted(times)[len(times) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ppfn_nafnet")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(one_variant(args)))
        return
    print(
        f"{args.model}, batch {args.batch}×{args.crop}², all-composite SPT (3 passes), Adam, "
        f"{args.precision}, {args.threads} thread(s)"
    )
    print(f"{'backward':<10}{'step peak MiB':>15}{'base MiB':>10}{'s/step':>9}")
    results = {}
    for variant in VARIANTS:
        command = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(f"{variant:<10}{r['step_peak_mib']:>15.0f}{r['base_mib']:>10.0f}{r['seconds']:>9.2f}")
    ratio = results["per-pass"]["step_peak_mib"] / results["summed"]["step_peak_mib"]
    print(f"per-pass / summed step peak: {ratio:.2f}")


if __name__ == "__main__":
    main()
