"""Enhance a user's own TIR frames (any size, 8/16-bit) with a method, keeping the bit depth.

:func:`plan_outputs` maps inputs to outputs and :func:`enhance_paths` does the work; ``hmtir enhance`` adds
parsing, a progress bar and the summary table. Outputs are lossless: PNG (8/16-bit), or TIFF when the input is a TIFF
(so 32-bit float frames stay float). Folders are walked recursively and their layout is mirrored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hmtir.data.layout import IMAGE_SUFFIXES
from hmtir.errors import HmtirError
from hmtir.io.safety import check_new_file, output_folder, refuse_inputs
from hmtir.methods.base import Method
from hmtir.vocabulary import DEGRADATIONS, scenario_of


@dataclass(frozen=True)
class EnhanceJob:
    source: Path
    target: Path


@dataclass(frozen=True)
class EnhanceResult:
    source: Path
    target: Path
    size: tuple[int, int]
    bit_depth: int
    seconds: float


def plan_outputs(
    inputs: Sequence[str | Path], out_dir: str | Path, overwrite: bool = False
) -> list[EnhanceJob]:
    """Input files (folders expanded recursively) → output paths under ``out_dir``, checked before any write.

    The shared write rules (:mod:`hmtir.io.safety`) apply to the whole plan at once, so a refused output
    means nothing at all was written: ``out_dir`` must be a folder (not a file, nor below one); no output
    may be one of the inputs, whatever the spelling (symlinks, ``./``, hard links, case folding) and even
    with ``overwrite``; an existing output is replaced only with ``overwrite``. Files already inside
    ``out_dir`` are never taken as inputs, so re-running into a folder below the input folder does not
    enhance its own earlier outputs.
    """
    out_dir = output_folder(out_dir)
    jobs: list[EnhanceJob] = []
    for item in map(Path, inputs):
        if item.is_dir():
            skip = _own_output_roots(item, out_dir)
            found = sorted(
                p
                for p in item.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not p.name.startswith(".")
                and not any(_inside(p, root) for root in skip)
            )
            if not found:
                raise HmtirError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {item}")
            jobs += [EnhanceJob(p, out_dir / item.name / _output_name(p.relative_to(item))) for p in found]
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_SUFFIXES:
                raise HmtirError(f"{item} is not an image file (expected one of {', '.join(IMAGE_SUFFIXES)})")
            jobs.append(EnhanceJob(item, out_dir / _output_name(Path(item.name))))
        else:
            raise HmtirError(f"input not found: {item}")
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise HmtirError(
                f"{seen[job.target]} and {job.source} would both be written to {job.target}; enhance them separately"
            )
        seen[job.target] = job.source
    written = [job.target for job in jobs]
    refuse_inputs(written, [job.source for job in jobs])
    for path in written:
        check_new_file(path, overwrite)
    return jobs


def _inside(path: str | Path, root: str) -> bool:
    real = os.path.realpath(path)
    return real != root and os.path.commonpath([root, real]) == root


def _own_output_roots(folder: Path, out_dir: Path) -> list[str]:
    """Folders strictly inside input ``folder`` where enhance writes: their files are outputs, not inputs."""
    base = os.path.realpath(folder)
    roots = [os.path.realpath(out_dir), os.path.realpath(out_dir / folder.name)]
    return [root for root in roots if _inside(root, base)]


def _output_name(relative: Path) -> Path:
    suffix = relative.suffix.lower()
    return relative if suffix in (".png", ".tif", ".tiff") else relative.with_suffix(".png")


def enhance_paths(
    jobs: Iterable[EnhanceJob],
    method: str | Method = "ppfn",
    degradation: str = "composite",
    weights: str | None = None,
    device: str = "auto",
    on_done: Callable[[EnhanceResult], None] | None = None,
    method_options: dict[str, object] | None = None,
) -> list[EnhanceResult]:
    """Enhance each job's frame with ``method`` and write it in the input's bit depth (atomic writes).

    ``method`` is a registered name (built here with ``weights``, ``device`` and ``method_options``, e.g.
    ``{"precision": "bf16", "compile": True}``) or an already loaded :class:`Method`.
    """
    import torch

    from hmtir.io.image import read_image, write_image
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    if degradation not in DEGRADATIONS:
        raise HmtirError(f"unknown --degradation '{degradation}' (use {', '.join(DEGRADATIONS)})")
    scenario = scenario_of(degradation)
    if isinstance(method, Method):
        runner = method
    else:
        kwargs = {"weights": weights} if weights is not None else {}
        runner = load_method(method, device=resolve_device(device), **kwargs, **(method_options or {}))
    results = []
    for job in jobs:
        frame = read_image(job.source)
        start = time.perf_counter()
        batch = torch.from_numpy(frame.data)[None, None].to(runner.device)
        restored = runner(batch, degradation, scenario, names=[str(job.source)])
        data = restored[0, 0].cpu().numpy()
        seconds = time.perf_counter() - start
        write_image(job.target, data, bit_depth=frame.bit_depth)
        result = EnhanceResult(job.source, job.target, tuple(frame.data.shape), frame.bit_depth, seconds)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
