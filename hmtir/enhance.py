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
* **Clips** (``.mp4``, ``.avi``, ``.mkv``, ``.mov``; :mod:`hmtir.clips`, :mod:`hmtir.io.video`) are
  checked whole before anything is written, get one decision and a smoothed AGC per clip, and are
  written with the same frame count, rate and timestamps (FFV1 by default, ``codec`` otherwise).
* **Streaming.** Frames and clips go through :func:`hmtir.stream.pipeline`: the next frame is read and
  the last one written while the model runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
from hmtir.io.video import VIDEO_SUFFIXES, is_video, output_suffix
from hmtir.methods.base import Method
from hmtir.vocabulary import DEGRADATIONS, scenario_of

if TYPE_CHECKING:
    from hmtir.clips import ClipOutcome, ClipPlan
    from hmtir.estimate import Estimate, Estimator
    from hmtir.io.radiometric import RangeMapping, RangeSpec

AUTO = "auto"
#: Everything enhance takes as input: frames and clips.
INPUT_SUFFIXES: tuple[str, ...] = (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES)
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
    clip: ClipOutcome | None = None  # for a clip: frames, frames/s, stability (size and seconds: per clip)
    clip_plan: ClipPlan | None = None


def sidecar_path(target: Path) -> Path:
    """The JSON record written next to each output (``a.png`` → ``a.png.json``)."""
    return target.with_name(sibling_name(target.name, ".json"))  # within NAME_MAX for any valid output name


def plan_outputs(
    inputs: Sequence[str | Path], out_dir: str | Path, overwrite: bool = False, codec: str | None = None
) -> list[EnhanceJob]:
    """Input files (folders expanded recursively) → output paths under ``out_dir``, checked before any write.

    The shared write rules (:mod:`hmtir.io.safety`) apply to the whole plan at once, so a refused output
    means nothing at all was written: ``out_dir`` must be a folder (not a file, nor below one); no output
    may be one of the inputs, whatever the spelling (symlinks, ``./``, hard links, case folding) and even
    with ``overwrite``; an existing output (or its ``.json`` record) is replaced only with ``overwrite``.
    Folders are searched with :func:`find_inputs`, which never takes an output of hmtir as an input.
    A clip's output keeps its container when that can hold ``codec`` (default FFV1), else it is ``.mkv``;
    an uninstalled ``codec`` is refused here.
    """
    if codec is not None:
        from hmtir.io.video import check_codec

        check_codec(codec, "uint8")
    # the output-folder rule is applied once the plan is known: the refusals below are more precise
    requested = out_dir
    out_dir = output_folder(out_dir)
    jobs: list[EnhanceJob] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = find_inputs(item, out_dir)
            jobs += [
                EnhanceJob(p, out_dir / item.name / _output_name(p.relative_to(item), codec), out_dir)
                for p in found
            ]
        elif item.is_file():
            if item.suffix.lower() not in INPUT_SUFFIXES:
                raise HmtirError(
                    f"{item} is not an image file or a clip (expected one of {', '.join(INPUT_SUFFIXES)})"
                )
            jobs.append(EnhanceJob(item, out_dir / _output_name(Path(item.name), codec), out_dir))
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
    """The image files and clips below ``folder`` to enhance into ``out_dir``, sorted; outputs are never inputs.

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
        if not path.is_file() or path.suffix.lower() not in INPUT_SUFFIXES or path.name.startswith("."):
            continue
        if any(_inside(path, root) for root in skip) or _written_by_enhance(path):
            earlier += 1
            continue
        found.append(path)
    if not found:
        outputs = f" (skipped {earlier} output(s) of earlier hmtir runs; name such files to enhance them)"
        outputs = outputs if earlier else ""
        raise HmtirError(f"no images or clips ({', '.join(INPUT_SUFFIXES)}) in folder {folder}{outputs}")
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


def _output_name(relative: Path, codec: str | None = None) -> Path:
    if is_video(relative):
        return relative.with_suffix(output_suffix(relative, codec))
    suffix = relative.suffix.lower()
    return relative if suffix in (".png", ".tif", ".tiff") else relative.with_suffix(".png")


def judge(
    jobs: Sequence[EnhanceJob],
    estimator: Estimator,
    range: RangeSpec | str = "auto",
    on_done: Callable[[EnhanceJob, Estimate], None] | None = None,
) -> list[Estimate]:
    """The estimator's verdict on every frame job, read as it will be enhanced (clips are left out: they
    are judged per clip by :func:`prepare_clips`); the first frame that cannot be judged is a one-line
    error (nothing has been written yet)."""
    from hmtir.io.radiometric import read_raw

    estimates = []
    for job in jobs:
        if is_video(job.source):
            continue
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


def prepare_clips(
    jobs: Sequence[EnhanceJob],
    range: RangeSpec | str = "auto",
    estimator: Estimator | None = None,
    codec: str | None = None,
    on_done: Callable[[EnhanceJob, ClipPlan], None] | None = None,
) -> dict[Path, ClipPlan]:
    """The first pass over every clip job (:func:`hmtir.clips.prepare_clip`: checks, mappings and, with an
    ``estimator``, the clip's one decision), keyed by source; also checks that ``codec`` can write each
    clip's grey depth. Any refusal is one line before anything is written."""
    from hmtir.clips import prepare_clip
    from hmtir.io.video import check_codec

    plans: dict[Path, ClipPlan] = {}
    for job in jobs:
        if not is_video(job.source):
            continue
        plan = prepare_clip(job.source, range, estimator)
        check_codec(codec, plan.info.dtype, plan.info.pix_fmt)
        plans[job.source] = plan
        if on_done is not None:
            on_done(job, plan)
    return plans


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
    clips: Mapping[Path, ClipPlan] | None = None,
    codec: str | None = None,
    on_frame: Callable[[], None] | None = None,
) -> list[EnhanceResult]:
    """Enhance each job's frame or clip and write it in the input's own units and sample type (atomic writes).

    ``method`` is a registered name (built here with ``weights``, ``device`` and ``method_options``, e.g.
    ``{"precision": "bf16", "compile": True}``) or an already loaded :class:`Method`. With
    ``degradation="auto"`` the prompts come from ``estimates`` (one per frame job, e.g. from :func:`judge`)
    or from ``estimator`` (default: the shipped one); a frame judged clean is written unchanged. Clips use
    ``clips`` (from :func:`prepare_clips`) or are prepared here, before anything is written, and are
    written with ``codec`` (default FFV1). ``on_frame`` is called once per frame written (a clip's too).
    """
    from hmtir.io.radiometric import RangeSpec
    from hmtir.methods import load_method
    from hmtir.runtime import resolve_device

    if degradation not in DEGRADATION_CHOICES:
        raise HmtirError(f"unknown --degradation '{degradation}' (use {', '.join(DEGRADATION_CHOICES)})")
    spec = RangeSpec.parse(range)
    jobs = list(jobs)
    frame_jobs = [job for job in jobs if not is_video(job.source)]
    clip_jobs = [job for job in jobs if is_video(job.source)]
    if isinstance(method, Method):
        runner = method
    else:
        kwargs = {"weights": weights} if weights is not None else {}
        runner = load_method(method, device=resolve_device(device), **kwargs, **(method_options or {}))
    judged: list[Estimate | None] = [None] * len(frame_jobs)
    estimator_info: dict[str, Any] | None = None
    if degradation == AUTO:
        if estimator is None and (estimates is None or clip_jobs):
            from hmtir.estimate import load_estimator

            estimator = load_estimator(device=runner.device)
        if estimates is None:
            assert estimator is not None
            estimates = judge(frame_jobs, estimator, spec)
        if len(estimates) != len(frame_jobs):
            raise HmtirError(f"{len(estimates)} estimates for {len(frame_jobs)} frames")
        judged = list(estimates)
        estimator_info = estimator.describe() if estimator is not None else None
    plans = dict(clips or {})
    missing = [job for job in clip_jobs if job.source not in plans]
    plans.update(prepare_clips(missing, spec, estimator if degradation == AUTO else None, codec))
    common = {"requested": degradation, "estimator": estimator_info}
    results = _enhance_frames(frame_jobs, judged, runner, degradation, spec, common, on_done, on_frame)
    for job in clip_jobs:
        result = _enhance_one_clip(job, plans[job.source], runner, degradation, codec, common, on_frame)
        results.append(result)
        if on_done is not None:
            on_done(result)
    order = {job.source: index for index, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r.source])


def _record(job: EnhanceJob, runner: Method, chosen: str, **fields: Any) -> dict[str, Any]:
    from hmtir import __version__

    return {
        "hmtir_version": __version__,
        "source": str(job.source),
        "output": job.target.name,
        **fields,
        "degradation": chosen,
        "scenario": None if chosen == "clean" else scenario_of(chosen),
        "method": runner.name,
        "method_weights_sha256": runner.weights_sha256,
    }


def _enhance_frames(
    jobs: list[EnhanceJob],
    judged: list[Estimate | None],
    runner: Method,
    degradation: str,
    spec: RangeSpec,
    common: dict[str, Any],
    on_done: Callable[[EnhanceResult], None] | None,
    on_frame: Callable[[], None] | None,
) -> list[EnhanceResult]:
    """Frame jobs streamed: the next frame is read and the last one written while the model runs."""
    import torch

    from hmtir.io.atomic import atomic_write_text
    from hmtir.io.image import write_pixels
    from hmtir.io.radiometric import read_raw
    from hmtir.stream import pipeline

    results: list[EnhanceResult] = []

    def read() -> Iterator[tuple[EnhanceJob, Estimate | None, Any]]:
        for job, estimate in zip(jobs, judged):
            yield job, estimate, read_raw(job.source, spec)

    def work(item: tuple[EnhanceJob, Estimate | None, Any]) -> tuple[EnhanceJob, EnhanceResult, Any]:
        job, estimate, raw = item
        chosen = degradation if estimate is None else str(estimate.degradation)
        start = time.perf_counter()
        if chosen == "clean":
            pixels = raw.pixels  # left exactly as it came, in its own units
        else:
            batch = torch.from_numpy(raw.display)[None, None].to(runner.device)
            restored = runner(batch, chosen, scenario_of(chosen), names=[str(job.source)])
            pixels = raw.mapping.from_display(restored[0, 0].cpu().numpy())
        seconds = time.perf_counter() - start
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
        return job, result, pixels

    def write(item: tuple[EnhanceJob, EnhanceResult, Any]) -> None:
        job, result, pixels = item
        if job.out_dir is not None:
            mark_output_folder(job.out_dir)
        write_pixels(job.target, pixels)
        record = _record(
            job,
            runner,
            result.degradation,
            size=list(result.size),
            dtype=result.dtype,
            mapping=result.mapping.as_dict() if result.mapping is not None else None,
            estimate=None if result.estimate is None else result.estimate.as_dict(),
            **common,
            seconds=round(result.seconds, 4),
        )
        atomic_write_text(job.sidecar, json.dumps(record, indent=2) + "\n")
        results.append(result)
        if on_done is not None:
            on_done(result)
        if on_frame is not None:
            on_frame()

    pipeline(read(), work, write)
    return results


def _enhance_one_clip(
    job: EnhanceJob,
    plan: ClipPlan,
    runner: Method,
    degradation: str,
    codec: str | None,
    common: dict[str, Any],
    on_frame: Callable[[], None] | None,
) -> EnhanceResult:
    """One clip through :func:`hmtir.clips.enhance_clip`; its record is written once the clip is in place."""
    from hmtir.clips import enhance_clip
    from hmtir.io.atomic import atomic_write_text
    from hmtir.io.video import check_codec

    chosen = degradation if plan.estimate is None else str(plan.estimate.degradation)
    if job.out_dir is not None:
        mark_output_folder(job.out_dir)
    outcome = enhance_clip(plan, job.target, runner, chosen, codec, on_frame)
    written_codec, written_format = check_codec(codec, plan.info.dtype, plan.info.pix_fmt)
    record = _record(
        job,
        runner,
        chosen,
        clip=plan.info.as_dict(),
        written={"codec": written_codec, "pix_fmt": written_format, "container": job.target.suffix[1:]},
        dtype=plan.info.dtype,
        mapping=plan.mapping_record,
        decision=plan.decision_record,
        estimate=None if plan.estimate is None else plan.estimate.as_dict(),
        **common,
        **outcome.as_dict(),
    )
    atomic_write_text(job.sidecar, json.dumps(record, indent=2) + "\n")
    info = plan.info
    return EnhanceResult(
        job.source,
        job.target,
        (info.height, info.width),
        info.bits,
        outcome.wall_seconds,
        info.dtype,
        chosen,
        None,
        plan.estimate,
        outcome,
        plan,
    )
