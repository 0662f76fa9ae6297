"""Enhance a user's own TIR frames (any size; 8/16-bit, raw radiometric counts or Kelvin) with a method.

:func:`plan_outputs` maps inputs to outputs and checks the write rules; :func:`enhance_paths` does the
work; ``hmtir enhance`` adds parsing, progress bars and the summary table. Folders are walked recursively
and their layout is mirrored.

* **Units.** Each frame is read in its own units and mapped to display by :mod:`hmtir.io.radiometric`
  (``range``: ``auto`` | ``full`` | ``LOW,HIGH``); the output is mapped back and written in the input's
  sample type — 8/16-bit PNG, or TIFF when the input is a TIFF (so int16, float Kelvin … stay so).
* **Prompts.** ``degradation="auto"`` (the default) asks the estimator (:mod:`hmtir.estimate`) per frame:
  ``composite`` → the three SPT passes, one step → one pass with its prompt, ``clean`` → the frame's own
  pixels, unchanged. Every frame is judged before anything is written, so a frame that cannot be judged
  stops the run with one line and no output.
* **Record.** Next to each output, ``<output>.json`` holds the mapping, the prompts (and the estimator's
  scores), the method and the weights' sha256.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.data.layout import IMAGE_SUFFIXES
from hmtir.errors import HmtirError
from hmtir.io.atomic import sibling_name
from hmtir.io.safety import (
    OUTPUT_MARKER,
    check_new_file,
    check_output_folder,
    mark_output_folder,
    output_folder,
    refuse_inputs,
)
from hmtir.methods.base import Method
from hmtir.vocabulary import DEGRADATIONS, scenario_of

if TYPE_CHECKING:
    from hmtir.estimate import Estimate, Estimator
    from hmtir.io.radiometric import RangeMapping, RangeSpec

AUTO = "auto"
#: What ``--degradation`` accepts: the estimator's choice per frame, or one prompt for every frame.
DEGRADATION_CHOICES: tuple[str, ...] = (AUTO, *DEGRADATIONS)


@dataclass(frozen=True)
class EnhanceJob:
    source: Path
    target: Path
    #: the --out folder, marked as hmtir's (:func:`hmtir.io.safety.mark_output_folder`) at the first write
    out_dir: Path | None = None

    @property
    def sidecar(self) -> Path:
        return sidecar_path(self.target)


@dataclass(frozen=True)
class EnhanceResult:
    source: Path
    target: Path
    size: tuple[int, int]
    bit_depth: int
    seconds: float
    dtype: str = "uint8"
    degradation: str = "composite"  # what was applied: clean (unchanged), a step, or composite
    mapping: RangeMapping | None = None
    estimate: Estimate | None = None  # the estimator's verdict when degradation was auto


def sidecar_path(target: Path) -> Path:
    """The JSON record written next to each output (``a.png`` → ``a.png.json``)."""
    return target.with_name(sibling_name(target.name, ".json"))  # within NAME_MAX for any valid output name


def plan_outputs(
    inputs: Sequence[str | Path], out_dir: str | Path, overwrite: bool = False
) -> list[EnhanceJob]:
    """Input files (folders expanded recursively) → output paths under ``out_dir``, checked before any write.

    The shared write rules (:mod:`hmtir.io.safety`) apply to the whole plan at once, so a refused output
    means nothing at all was written: ``out_dir`` must be a folder (not a file, nor below one); no output
    may be one of the inputs, whatever the spelling (symlinks, ``./``, hard links, case folding) and even
    with ``overwrite``; an existing output (or its ``.json`` record) is replaced only with ``overwrite``.
    Folders are searched with :func:`find_inputs`, which never takes an output of hmtir as an input.
    """
    # the output-folder rule is applied once the plan is known: the refusals below are more precise
    requested = out_dir
    out_dir = output_folder(out_dir)
    jobs: list[EnhanceJob] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = find_inputs(item, out_dir)
            jobs += [
                EnhanceJob(p, out_dir / item.name / _output_name(p.relative_to(item)), out_dir) for p in found
            ]
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_SUFFIXES:
                raise HmtirError(f"{item} is not an image file (expected one of {', '.join(IMAGE_SUFFIXES)})")
            jobs.append(EnhanceJob(item, out_dir / _output_name(Path(item.name)), out_dir))
        else:
            raise HmtirError(f"input not found: {item}")
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise HmtirError(
                f"{seen[job.target]} and {job.source} would both be written to {job.target}; enhance them separately"
            )
        seen[job.target] = job.source
    written = [path for job in jobs for path in (job.target, job.sidecar)]
    refuse_inputs(written, [job.source for job in jobs])
    for path in written:
        check_new_file(path, overwrite)
    check_output_folder(requested, overwrite=overwrite)
    return jobs


def find_inputs(folder: Path, out_dir: Path) -> list[Path]:
    """The image files below ``folder`` to enhance into ``out_dir``, sorted; outputs are never inputs.

    Skipped: hidden files; everything inside ``out_dir`` (and ``out_dir/<folder name>``, where this run
    writes) when it lies below ``folder``; every folder below ``folder`` that hmtir marked as an output
    folder (:data:`~hmtir.io.safety.OUTPUT_MARKER`: an earlier ``--out`` of enhance, evaluate …); and every
    file an earlier enhance run wrote (its ``.json`` record beside it says so), wherever that run's
    ``--out`` was. So ``enhance DIR --out DIR/a`` then ``--out DIR/b`` enhances DIR's own frames twice,
    never DIR/a's results. ``folder`` itself may carry the marker (an ``--out`` that also held the user's
    frames): there only the files with a record are skipped.
    """
    base = os.path.realpath(folder)
    entries = sorted(folder.rglob("*"))
    skip = _own_output_roots(folder, out_dir) + [
        os.path.realpath(marker.parent)
        for marker in entries
        if marker.name == OUTPUT_MARKER
        and marker.is_file()
        and not marker.is_symlink()
        and _inside(marker.parent, base)
    ]
    found, earlier = [], 0
    for path in entries:
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        if any(_inside(path, root) for root in skip) or _written_by_enhance(path):
            earlier += 1
            continue
        found.append(path)
    if not found:
        outputs = f" (skipped {earlier} output(s) of earlier hmtir runs; name such files to enhance them)"
        outputs = outputs if earlier else ""
        raise HmtirError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}{outputs}")
    return found


#: The largest output record read when deciding whether an image is an earlier output (they are ~2 KB).
_MAX_RECORD_BYTES = 1 << 20


def _written_by_enhance(image: Path) -> bool:
    """True when ``image`` has the record enhance writes beside each output (naming it as its output)."""
    sidecar = sidecar_path(image)
    try:
        if not sidecar.is_file() or sidecar.stat().st_size > _MAX_RECORD_BYTES:
            return False
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False  # not a record enhance wrote: the image is the user's
    return isinstance(record, dict) and record.get("output") == image.name and "hmtir_version" in record


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


def judge(
    jobs: Sequence[EnhanceJob],
    estimator: Estimator,
    range: RangeSpec | str = "auto",
    on_done: Callable[[EnhanceJob, Estimate], None] | None = None,
) -> list[Estimate]:
    """The estimator's verdict on every job's frame, read as it will be enhanced; the first frame that
    cannot be judged is a one-line error (nothing has been written yet)."""
    from hmtir.io.radiometric import read_raw

    estimates = []
    for job in jobs:
        estimate = estimator([read_raw(job.source, range).display])[0]
        if not estimate.judged:
            raise HmtirError(
                f"cannot choose prompts for {job.source}: {estimate.reason} "
                "(pass --degradation to enhance it anyway)"
            )
        estimates.append(estimate)
        if on_done is not None:
            on_done(job, estimate)
    return estimates


def enhance_paths(
    jobs: Iterable[EnhanceJob],
    method: str | Method = "ppfn",
    degradation: str = AUTO,
    weights: str | None = None,
    device: str = "auto",
    on_done: Callable[[EnhanceResult], None] | None = None,
    method_options: dict[str, object] | None = None,
    range: RangeSpec | str = "auto",
    estimator: Estimator | None = None,
    estimates: Sequence[Estimate] | None = None,
) -> list[EnhanceResult]:
    """Enhance each job's frame and write it in the input's own units and sample type (atomic writes).

    ``method`` is a registered name (built here with ``weights``, ``device`` and ``method_options``, e.g.
    ``{"precision": "bf16", "compile": True}``) or an already loaded :class:`Method`. With
    ``degradation="auto"`` the prompts come from ``estimates`` (one per job, e.g. from :func:`judge`) or
    from ``estimator`` (default: the shipped one); a frame judged clean is written unchanged.
    """
    import torch

    from hmtir import __version__
    from hmtir.io.atomic import atomic_write_text
    from hmtir.io.image import write_pixels
    from hmtir.io.radiometric import RangeSpec, read_raw
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    if degradation not in DEGRADATION_CHOICES:
        raise HmtirError(f"unknown --degradation '{degradation}' (use {', '.join(DEGRADATION_CHOICES)})")
    spec = RangeSpec.parse(range)
    jobs = list(jobs)
    if isinstance(method, Method):
        runner = method
    else:
        kwargs = {"weights": weights} if weights is not None else {}
        runner = load_method(method, device=resolve_device(device), **kwargs, **(method_options or {}))
    judged: list[Estimate | None] = [None] * len(jobs)
    estimator_info: dict[str, Any] | None = None
    if degradation == AUTO:
        if estimates is None:
            from hmtir.estimate import load_estimator

            estimator = estimator or load_estimator(device=runner.device)
            estimates = judge(jobs, estimator, spec)
        if len(estimates) != len(jobs):
            raise HmtirError(f"{len(estimates)} estimates for {len(jobs)} frames")
        judged = list(estimates)
        estimator_info = estimator.describe() if estimator is not None else None
    results = []
    for job, estimate in zip(jobs, judged):
        raw = read_raw(job.source, spec)
        chosen = degradation if estimate is None else str(estimate.degradation)
        start = time.perf_counter()
        if chosen == "clean":
            pixels = raw.pixels  # left exactly as it came, in its own units
        else:
            batch = torch.from_numpy(raw.display)[None, None].to(runner.device)
            restored = runner(batch, chosen, scenario_of(chosen), names=[str(job.source)])
            pixels = raw.mapping.from_display(restored[0, 0].cpu().numpy())
        seconds = time.perf_counter() - start
        if job.out_dir is not None:
            mark_output_folder(job.out_dir)
        write_pixels(job.target, pixels)
        record = {
            "hmtir_version": __version__,
            "source": str(job.source),
            "output": job.target.name,
            "size": list(raw.pixels.shape),
            "dtype": str(raw.dtype),
            "mapping": raw.mapping.as_dict(),
            "requested": degradation,
            "degradation": chosen,
            "scenario": None if chosen == "clean" else scenario_of(chosen),
            "estimate": None if estimate is None else estimate.as_dict(),
            "estimator": estimator_info,
            "method": runner.name,
            "method_weights_sha256": runner.weights_sha256,
            "seconds": round(seconds, 4),
        }
        atomic_write_text(job.sidecar, json.dumps(record, indent=2) + "\n")
        result = EnhanceResult(
            job.source,
            job.target,
            tuple(raw.pixels.shape),
            raw.dtype.itemsize * 8,
            seconds,
            str(raw.dtype),
            chosen,
            raw.mapping,
            estimate,
        )
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
