"""``evaluate``: run a method over a benchmark, score every image, and write self-describing results.

Outputs in ``out/`` (all written atomically; ``summary.json`` last, so its presence means "finished"):

    summary.json      provenance + per-subset (and per-scene) statistics
    records.parquet   one row per image: name, subset, scene, each metric, seconds, input_sha256
                      (seconds: the method's own time per image — its batch's restore() wall time divided
                      by the batch size, GPU synchronised; reading, scoring and writing excluded)
    records.csv       the same rows, for spreadsheets
    cache.jsonl       resume log: a re-run after an interruption skips the images listed here
    images/<subset>/  restored images at the source bit depth (``save_images=True``)
"""

from __future__ import annotations

import hashlib
import queue
import random
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hmtir.data.layout import CLEAN_DIR, list_images, manifest_hash, parse_subsets, read_scenes, split_names
from hmtir.errors import HmtirError
from hmtir.evaluate.cache import CACHE_FILE, ResultCache, config_digest, image_key
from hmtir.evaluate.provenance import environment
from hmtir.evaluate.summary import summarize_records
from hmtir.io.atomic import atomic_path, atomic_write_text
from hmtir.methods import Method, check_prompts, load_method
from hmtir.vocabulary import SUBSETS

SCHEMA = "hmtir.evaluation/1"
CONVENTIONS = ("float", "uint8")
SUMMARY_FILE = "summary.json"
RECORDS_PARQUET = "records.parquet"
RECORDS_CSV = "records.csv"
IMAGES_DIR = "images"
REAL_SUBSET = "real"
DEFAULT_RESULTS_DIR = Path("results")


@dataclass(frozen=True)
class _Item:
    name: str
    input_path: Path
    target_path: Path | None
    scene: str | None


@dataclass(frozen=True)
class _Job:
    subset: str
    degradation: str
    scenario: str
    items: list[_Item]


@dataclass
class EvaluationResult:
    """What :func:`evaluate` produced: the summary dict, the per-image records and where both live."""

    out: Path
    summary: dict[str, Any]
    records: pd.DataFrame = field(repr=False)

    @property
    def summary_path(self) -> Path:
        return self.out / SUMMARY_FILE

    def mean(self, metric: str, subset: str | None = None) -> float | None:
        """Mean of ``metric`` over ``subset`` (the only subset when there is just one)."""
        subsets = self.summary["subsets"]
        if subset is None:
            if len(subsets) != 1:
                raise ValueError(f"several subsets evaluated ({', '.join(subsets)}); name one")
            subset = next(iter(subsets))
        return subsets[subset]["metrics"][metric]["mean"]


# --- configuration -----------------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; an unavailable GPU is an error, not a fallback."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise HmtirError(
                f"--device {device} requested but CUDA is not available; use --device cpu or auto"
            )
        return device
    raise HmtirError(f"unknown --device '{device}' (use auto, cpu, cuda or cuda:N)")


def _build_metrics(metrics: str | Sequence[Any], device: str, convention: str) -> list[Any]:
    """Names go through :func:`hmtir.metrics.create_metric`; metric objects (same protocol) are used as given.

    Named metrics are told the convention (``quantize_8bit``) so their recorded definitions carry it too.
    """
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not metrics:
        raise HmtirError("no metrics requested: pass --metrics, e.g. psnr,ssim")
    built = []
    for metric in metrics:
        if isinstance(metric, str):
            from hmtir.metrics import create_metric

            metric = create_metric(metric, device=device, quantize_8bit=convention == "uint8")
        built.append(metric)
    names = [m.meta.name for m in built]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HmtirError(f"metric {', '.join(duplicates)} requested twice")
    return built


def _resolve_method(
    method: str | Method, device: str, weights: str | Path | None, options: Mapping[str, Any]
) -> Method:
    if isinstance(method, Method):
        if weights is not None or options:
            raise HmtirError(
                "weights= and method_options= apply only when the method is given by name; "
                "load the Method with them"
            )
        return method.to(device)
    kwargs = {"weights": weights} if weights is not None else {}
    return load_method(method, device=device, **kwargs, **options)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- planning: which images, from where ----------------------------------------------------------------


def _missing_dataset_error(root: Path) -> HmtirError:
    return HmtirError(
        f"no HM-TIR dataset at {root}: run `hmtir download hm-tir` (or set HMTIR_HOME to where it lives), "
        "pass --data DIR, or run `hmtir demo` to evaluate on the built-in demo benchmark"
    )


def default_data_root() -> Path:
    """Where `hmtir download hm-tir` unpacks the benchmark: the default of ``--data``."""
    from hmtir.data.sources import load_sources

    return load_sources().meta("hm-tir").dataset_root()


def _plan_paired(data: Path | None, subsets: str | Sequence[str]) -> tuple[Path, list[_Job]]:
    root = Path(data).expanduser() if data is not None else default_data_root()
    if data is None and not (root / CLEAN_DIR).is_dir():
        raise _missing_dataset_error(root)
    if not root.is_dir():
        raise HmtirError(f"--data {root} does not exist")
    if not (root / CLEAN_DIR).is_dir():
        raise HmtirError(f"--data {root} is not an HM-TIR layout (no {CLEAN_DIR}/ folder of clean frames)")
    spec = subsets if isinstance(subsets, str) else ",".join(subsets)
    explicit = spec.strip() not in ("", "all")
    wanted = parse_subsets(spec)
    names = split_names(root, "test")
    if not names:
        raise HmtirError(
            f"{root} lists no test images (meta/test.txt is empty and {CLEAN_DIR}/ has no images)"
        )
    scenes = read_scenes(root)
    jobs = []
    for subset_name in wanted:
        subset = SUBSETS[subset_name]
        folder = root / subset_name
        if not folder.is_dir():
            if explicit:
                raise HmtirError(
                    f"subset folder {folder} does not exist (synthesize it or choose another --subset)"
                )
            continue
        items = []
        for name in names:
            target = root / CLEAN_DIR / name
            degraded = folder / name
            for path, what in ((target, "clean target"), (degraded, "degraded image")):
                if not path.is_file():
                    raise HmtirError(f"missing {what} {path} (listed in {root}/meta/test.txt)")
            items.append(_Item(name, degraded, target, scenes.get(name)))
        jobs.append(_Job(subset_name, subset.degradation, subset.scenario, items))
    if not jobs:
        raise HmtirError(f"{root} has none of the subset folders {', '.join(wanted)}")
    return root, jobs


def _plan_real(real: Path, metric_objects: Sequence[Any]) -> tuple[Path, list[_Job]]:
    """Unpaired real frames (the paper's Iray protocol): composite prompts, no-reference metrics only."""
    full_reference = [m.meta.name for m in metric_objects if m.meta.mode != "NR"]
    if full_reference:
        raise HmtirError(
            f"--real frames have no clean targets, so full-reference metric(s) {', '.join(full_reference)} "
            "cannot be computed; use no-reference metrics such as niqe, nima, musiq, brisque"
        )
    root = Path(real).expanduser()
    if not root.is_dir():
        raise HmtirError(f"--real {root} is not a directory of frames")
    names = list_images(root)
    if not names:
        raise HmtirError(f"--real {root} contains no images ({', '.join(('png', 'jpg', 'tif', 'bmp'))})")
    items = [_Item(name, root / name, None, None) for name in names]
    return root, [_Job(REAL_SUBSET, "composite", "composite", items)]


def default_out_dir(method: str, root: Path, real: bool, fingerprint: dict[str, Any]) -> Path:
    """``results/<method>/<data folder name>-<8 hex>``: the same command always lands in the same folder.

    The hex suffix hashes the data path, subsets, metrics, convention, seed and weights, so re-running a
    command resumes (or refuses to overwrite) its own results while a different configuration gets its own
    folder. No timestamp: results stay findable and comparable.
    """
    digest = hashlib.sha256(repr(sorted(fingerprint.items())).encode()).hexdigest()[:8]
    label = f"real-{root.name}" if real else root.name
    return DEFAULT_RESULTS_DIR / method / f"{label}-{digest}"


# --- running -------------------------------------------------------------------------------------------


_END = object()


def prefetch(source: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Yield ``source``'s items while a background thread already produces the next ``depth`` of them.

    Image decoding releases the GIL, so reading batch k+1 overlaps the GPU (or the scorer) working on batch
    k. Items arrive in order; an exception raised while producing is re-raised here, at the item where it
    happened. Closing the consumer early stops the thread.
    """
    if depth < 1:
        yield from source
        return
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer((item, None)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            offer((_END, err))
            return
        offer((_END, None))

    worker = threading.Thread(target=produce, name="hmtir-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, err = slots.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


@dataclass
class _Batch:
    """Frames of one size, already stacked into ``B×1×H×W`` tensors by the reading thread."""

    entries: list[tuple[_Item, Any]]  # (item, its Frame: name, bit depth for saving)
    inputs: torch.Tensor
    targets: torch.Tensor | None


def _stack(frames: list[Any], pin: bool) -> torch.Tensor:
    batch = torch.from_numpy(np.stack([frame.data for frame in frames]))[:, None]
    return batch.pin_memory() if pin else batch  # page-locked: the copy to the GPU can run asynchronously


def _batches(items: Sequence[_Item], batch_size: int, pin: bool = False) -> Iterator[_Batch]:
    """Read images in order and group consecutive frames of equal size (a batch needs one shape).

    Decoding and stacking happen here, on the prefetch thread; ``pin`` page-locks the stacks for a GPU.
    """
    from hmtir.io.image import read_image

    pending: list[tuple[_Item, Any, Any]] = []

    def flush() -> _Batch:
        targets = [t for _, _, t in pending]
        return _Batch(
            [(item, frame) for item, frame, _ in pending],
            _stack([frame for _, frame, _ in pending], pin),
            _stack(targets, pin) if targets[0] is not None else None,
        )

    for item in items:
        frame = read_image(item.input_path)
        target = read_image(item.target_path) if item.target_path is not None else None
        if target is not None and target.data.shape != frame.data.shape:
            raise HmtirError(
                f"{item.input_path} is {'×'.join(map(str, frame.data.shape))} but its target {item.target_path} "
                f"is {'×'.join(map(str, target.data.shape))}"
            )
        if pending and (len(pending) == batch_size or pending[0][1].data.shape != frame.data.shape):
            yield flush()
            pending = []
        pending.append((item, frame, target))
    if pending:
        yield flush()


def _restore(method: Method, job: _Job, batch: _Batch, device: str) -> tuple[torch.Tensor, float]:
    inputs = batch.inputs.to(device, non_blocking=True)
    start = time.perf_counter()
    with torch.inference_mode():
        output = method.restore(inputs, degradation=job.degradation, scenario=job.scenario)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != tuple(inputs.shape):
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise HmtirError(f"method '{method.name}' returned {got} for a batch of shape {tuple(inputs.shape)}")
    output = output.detach().to(device=device, dtype=torch.float32)
    finite = torch.isfinite(output).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = batch.entries[int((~finite).nonzero()[0])][0]
        raise HmtirError(
            f"method '{method.name}' produced NaN/Inf for {job.subset}/{bad.name} ({bad.input_path}); "
            "no score computed"
        )
    return output, seconds


def _apply_convention(output: torch.Tensor, convention: str) -> torch.Tensor:
    """``uint8``: score what a saved 8-bit PNG would hold (clamped, rounded to 1/255 steps)."""
    if convention == "uint8":
        return torch.round(output.clamp(0, 1) * 255.0) / 255.0
    return output


def _saved_image_path(out: Path, subset: str, name: str) -> Path:
    """Lossless container for restored images: PNG/TIFF names are kept, anything else becomes ``.png``."""
    path = Path(name)
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        path = path.with_suffix(".png")
    return out / IMAGES_DIR / subset / path


def _prepare_out(out: Path, overwrite: bool) -> None:
    summary = out / SUMMARY_FILE
    if summary.exists():
        if not overwrite:
            raise HmtirError(
                f"finished results already exist in {summary}; pass --overwrite or choose another --out"
            )
        for name in (SUMMARY_FILE, RECORDS_PARQUET, RECORDS_CSV, CACHE_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / IMAGES_DIR, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def evaluate(
    method: str | Method,
    data: Path | str | None = None,
    subsets: str | Sequence[str] = "all",
    metrics: str | Sequence[Any] = ("psnr", "ssim"),
    device: str = "auto",
    batch_size: int = 1,
    save_images: bool = False,
    out: Path | str | None = None,
    real: Path | str | None = None,
    convention: str = "float",
    weights: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
    overwrite: bool = False,
    method_options: Mapping[str, Any] | None = None,
    prefetch_batches: int = 2,
) -> EvaluationResult:
    """Score ``method`` on every requested subset of an HM-TIR layout (or on unpaired ``real`` frames).

    ``metrics`` are registry names (or metric objects with the same protocol). ``convention="uint8"``
    scores outputs rounded to 8 bits, as when results are saved as PNG. Interrupted runs resume from
    ``out/cache.jsonl``; a finished ``out`` is only replaced with ``overwrite=True``.
    ``method_options`` go to the method's factory (e.g. ``{"precision": "bf16"}``) and into the result's
    identity, so runs with different options never share a cache or a default folder.
    ``prefetch_batches`` batches are read ahead on a background thread (0: read inline).
    """
    if convention not in CONVENTIONS:
        raise HmtirError(f"unknown --convention '{convention}' (use {' or '.join(CONVENTIONS)})")
    if batch_size < 1:
        raise HmtirError(f"--batch-size must be at least 1 (got {batch_size})")
    if real is not None and data is not None:
        raise HmtirError("pass either --data (paired benchmark) or --real (unpaired frames), not both")
    device = resolve_device(device)
    metric_objects = _build_metrics(metrics, device, convention)
    if real is not None:
        root, jobs = _plan_real(Path(real), metric_objects)
    else:
        root, jobs = _plan_paired(Path(data) if data is not None else None, subsets)
    options = dict(method_options or {})
    restorer = _resolve_method(method, device, weights, options)
    metric_names = [m.meta.name for m in metric_objects]
    definitions = {m.meta.name: m.definition() for m in metric_objects}

    if out is None:
        fingerprint = {
            "root": str(root.resolve()),
            "subsets": [job.subset for job in jobs],
            "metrics": metric_names,
            "convention": convention,
            "seed": seed,
            "weights_sha256": restorer.weights_sha256,
        }
        if options:
            fingerprint["method_options"] = options
        out = default_out_dir(restorer.name, root, real is not None, fingerprint)
    out = Path(out)
    _prepare_out(out, overwrite)

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    cache = ResultCache(out / CACHE_FILE)
    identity = restorer.name if not options else f"{restorer.name}{sorted(options.items())}"
    run_config = config_digest(identity, restorer.weights_sha256, definitions, convention, seed)
    rows = _run_jobs(
        restorer,
        jobs,
        metric_objects,
        cache,
        run_config,
        device,
        batch_size,
        convention,
        save_images,
        out,
        progress,
        prefetch_batches,
    )

    records = pd.DataFrame(
        rows, columns=["name", "subset", "scene", *metric_names, "seconds", "input_sha256"]
    )
    summary = {
        "schema": SCHEMA,
        **environment(device),
        "method": restorer.describe(),
        "data": {
            "root": str(root.resolve()),
            "kind": "real" if real is not None else "paired",
            "manifest_sha256": manifest_hash(root) if real is None else None,
        },
        "metrics": {
            m.meta.name: {
                "mode": m.meta.mode,
                "lower_better": m.meta.lower_better,
                "definition": definitions[m.meta.name],
            }
            for m in metric_objects
        },
        "seed": seed,
        "convention": convention,
        "batch_size": batch_size,
        **({"method_options": options} if options else {}),
        "subsets": summarize_records(
            records,
            metric_names,
            {job.subset: {"degradation": job.degradation, "scenario": job.scenario} for job in jobs},
        ),
    }
    _write_results(out, records, summary)
    return EvaluationResult(out=out, summary=summary, records=records)


def _run_jobs(
    method: Method,
    jobs: Sequence[_Job],
    metric_objects: Sequence[Any],
    cache: ResultCache,
    run_config: str,
    device: str,
    batch_size: int,
    convention: str,
    save_images: bool,
    out: Path,
    progress: bool,
    prefetch_batches: int = 2,
) -> list[dict[str, Any]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from hmtir.io.image import write_image

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    order = [(job.subset, item.name) for job in jobs for item in job.items]
    with bar:
        task = bar.add_task(f"{method.name}", total=len(order))
        for job in jobs:
            check_prompts(job.degradation, job.scenario)
            bar.update(task, description=f"{method.name} · {job.subset}")
            pending, keys, hashes = [], {}, {}
            for item in job.items:
                input_sha = _sha256(item.input_path)
                target_sha = _sha256(item.target_path) if item.target_path is not None else None
                key = image_key(run_config, job.degradation, job.scenario, input_sha, target_sha)
                cached = cache.get(key)
                if cached is not None and not (
                    save_images and not _saved_image_path(out, job.subset, item.name).exists()
                ):
                    rows[(job.subset, item.name)] = {
                        **cached,
                        "name": item.name,
                        "subset": job.subset,
                        "scene": item.scene,
                    }
                    bar.advance(task)
                    continue
                pending.append(item)
                keys[item.name], hashes[item.name] = key, input_sha
            pin = device.startswith("cuda")
            for batch in prefetch(_batches(pending, batch_size, pin), prefetch_batches):
                output, seconds = _restore(method, job, batch, device)
                scored = _apply_convention(output, convention)
                targets = None if batch.targets is None else batch.targets.to(device, non_blocking=True)
                scores = {
                    m.meta.name: m(scored, targets if m.meta.mode == "FR" else None)
                    .detach()
                    .cpu()
                    .double()
                    .tolist()
                    for m in metric_objects
                }
                for index, (item, frame) in enumerate(batch.entries):
                    if save_images:
                        image = output[index, 0].clamp(0, 1).cpu().numpy()
                        write_image(
                            _saved_image_path(out, job.subset, item.name), image, bit_depth=frame.bit_depth
                        )
                    row = {
                        "name": item.name,
                        "subset": job.subset,
                        "scene": item.scene,
                        **{name: values[index] for name, values in scores.items()},
                        "seconds": seconds / len(batch.entries),
                        "input_sha256": hashes[item.name],
                    }
                    cache.put(keys[item.name], row)
                    rows[(job.subset, item.name)] = row
                    bar.advance(task)
    return [rows[k] for k in order]


def _write_results(out: Path, records: pd.DataFrame, summary: dict[str, Any]) -> None:
    import json

    with atomic_path(out / RECORDS_PARQUET) as tmp:
        records.to_parquet(tmp, index=False)
    with atomic_path(out / RECORDS_CSV) as tmp:
        records.to_csv(tmp, index=False)
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
