"""Section ``env``: card, torch/CUDA/Triton versions and date in the header; on CUDA the measured bf16
matmul and copy ceilings every later row is read against."""

from __future__ import annotations

import datetime
import platform

import torch

from .core import Row, Suite, time_calls


def section_env(suite: Suite) -> None:
    """Fill the header; on CUDA, measure the bf16 matmul and copy ceilings later rows are read against."""
    from hmtir.evaluation.provenance import git_commit

    h = suite.header
    h.update(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        mode="quick" if suite.args.quick else "full",
        device=str(suite.device),
        device_name=torch.cuda.get_device_name(suite.device)
        if suite.cuda
        else f"CPU ({platform.processor() or platform.machine()})",
        torch=torch.__version__,
        cuda=torch.version.cuda,
        python=platform.python_version(),
        cpu_threads=torch.get_num_threads(),
        git_commit=git_commit(),
        budget_s=suite.args.budget_s,
    )
    try:
        import triton

        h["triton"] = triton.__version__
    except ImportError:
        h["triton"] = None
    if suite.cuda:
        props = torch.cuda.get_device_properties(suite.device)
        h.update(
            capability=f"{props.major}.{props.minor}",
            multiprocessors=props.multi_processor_count,
            memory_gib=round(props.total_memory / 2**30, 1),
        )
    suite.say(
        f"device: {h['device_name']} | torch {h['torch']} | CUDA {h['cuda']} | Triton {h['triton']} | {h['date']}"
    )
    if not suite.cuda:
        suite.write()
        return
    with suite.guard("env", "bf16 matmul ceiling"):
        n = 8192
        a, b = (
            torch.randn(n, n, device=suite.device, dtype=torch.bfloat16),
            torch.randn(n, n, device=suite.device, dtype=torch.bfloat16),
        )
        _, seconds = time_calls(lambda _: a @ b, suite.device, repeats=10, warmup=3)
        h["bf16_tflops"] = 2 * n**3 / seconds / 1e12
        suite.add(Row("env", "bf16 matmul ceiling", h["bf16_tflops"], "TFLOP/s", note="8192³, random data"))
    with suite.guard("env", "copy bandwidth"):
        src = torch.randn(2**28, device=suite.device)  # 1 GiB, well past the 50-60 MB L2
        dst = torch.empty_like(src)
        _, seconds = time_calls(lambda _: dst.copy_(src), suite.device, repeats=10, warmup=3)
        h["copy_tb_s"] = 2 * src.numel() * 4 / seconds / 1e12
        suite.add(
            Row("env", "copy bandwidth", h["copy_tb_s"], "TB/s", note="device-to-device, read+write counted")
        )
