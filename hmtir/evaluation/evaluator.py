"""``hmtir.evaluate``: plan → run (one process, or sharded across a ``torchrun`` launch) → results."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmtir import distributed
from hmtir.data.layout import manifest_hash
from hmtir.errors import HmtirError
from hmtir.evaluation.cache import ResultCache, cache_file, config_digest
from hmtir.evaluation.plan import plan_paired, plan_real
from hmtir.evaluation.provenance import environment
from hmtir.evaluation.results import (
    LOCK_FILE,
    SCHEMA,
    SUMMARY_FILE,
    EvaluationResult,
    frames_digest,
    load_result,
    prepare_out,
    read_summary,
    records_frame,
    write_results,
)
from hmtir.evaluation.run import Runner
from hmtir.evaluation.spec import RunSpec, check_options
from hmtir.evaluation.summary import summarize_records
from hmtir.methods import Method, load_method


def build_metrics(metrics: str | Sequence[Any], device: str, convention: str) -> list[Any]:
    """Names go through :func:`hmtir.metrics.create_metric`; metric objects (same protocol) are used as given.

    Named metrics are told the convention (``quantize_8bit``) so their recorded definitions carry it too.
    """
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not metrics:
        raise HmtirError("no metrics requested: name at least one, e.g. psnr,ssim")
    from hmtir.metrics import create_metric
    from hmtir.weights import build_all

    built = build_all(  # every missing weights file named in one error, not one per run
        metrics,
        lambda m: (
            create_metric(m, device=device, quantize_8bit=convention == "uint8") if isinstance(m, str) else m
        ),
    )
    seen = [m.meta.name for m in built]
    duplicates = sorted({n for n in seen if seen.count(n) > 1})
    if duplicates:
        raise HmtirError(f"metric {', '.join(duplicates)} requested twice")
    return built


def _method(
    method: str | Method, device: str, weights: str | Path | None, options: Mapping[str, Any]
) -> Method:
    if isinstance(method, Method):
        if weights is not None or options:
            raise HmtirError(
                "weights and method options apply only when the method is given by name; "
                "load the Method with them"
            )
        return method.to(device)
    kwargs = {"weights": weights} if weights is not None else {}
    return load_method(method, device=device, **kwargs, **options)


def _shown(value: object) -> str:
    return ascii(value)[:60] if isinstance(value, str) else "None" if value is None else type(value).__name__


def _check_arguments(args: Mapping[str, Any]) -> None:
    """:func:`evaluate`'s arguments checked as the CLI's parser checks its options: one line naming the
    argument, instead of a TypeError from deep inside a run (the values themselves are checked later)."""
    method = args["method"]
    if not isinstance(method, Method) and not (isinstance(method, str) and method.strip()):
        raise HmtirError(f"method: expected a method name such as 'wfaf' or a Method, got {_shown(method)}")
    for name in ("data", "real", "out", "weights", "estimator"):
        if args[name] is not None and not isinstance(args[name], (str, os.PathLike)):
            raise HmtirError(f"{name}: expected a path, got {_shown(args[name])}")
    for name in ("save_images", "progress", "overwrite"):
        if not isinstance(args[name], bool):
            raise HmtirError(f"{name}: expected True or False, got {_shown(args[name])}")
    for name in ("device", "convention", "prompts", "raw_range"):
        if not isinstance(args[name], str):
            raise HmtirError(f"{name}: expected text, got {_shown(args[name])}")
    prefetch = args["prefetch_batches"]  # batch_size, seed and the options' values: check_options
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
        raise HmtirError(f"prefetch_batches: expected a whole number of at least 0, got {prefetch!r}"[:200])
    subsets = args["subsets"]
    if not isinstance(subsets, str) and not (
        isinstance(subsets, Sequence) and all(isinstance(s, str) for s in subsets)
    ):
        raise HmtirError(
            f"subsets: expected 'all', a comma list or a list of subset names, got {_shown(subsets)}"
        )
    metrics = args["metrics"]
    if not isinstance(metrics, str) and not (
        isinstance(metrics, Sequence) and all(isinstance(m, str) or hasattr(m, "meta") for m in metrics)
    ):
        raise HmtirError(
            f"metrics: expected a comma list or a list of metric names or objects, got {_shown(metrics)}"
        )
    options = args["method_options"]
    if options is not None and not (
        isinstance(options, Mapping) and all(isinstance(k, str) for k in options)
    ):
        raise HmtirError(
            f"method_options: expected a mapping of option names to values, got {_shown(options)}"
        )


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
    prompts: str = "oracle",
    estimator: str | Path | None = None,
    raw_range: str = "auto",
) -> EvaluationResult:
    """Score ``method`` on every requested subset of an HM-TIR layout (or on unpaired ``real`` frames).

    ``metrics`` are registry names (or metric objects with the same protocol). ``convention="uint8"``
    scores outputs rounded to 8 bits, as when results are saved as PNG. ``method_options`` go to the
    method's factory (e.g. ``{"precision": "bf16"}``) and into the run's identity.

    The output folder (default: named after the method, data and metrics, see
    :meth:`RunSpec.default_out`) is locked while written. An interrupted run resumes from its cache; a
    finished run with the same spec is loaded and returned (``result.loaded``), a finished run of a
    different spec is replaced only with ``overwrite=True``. Inside a ``torchrun`` launch the frames are
    shared out across the processes and rank 0 writes the merged records every process returns.

    ``prompts="auto"``: the degradation estimator (shipped, or ``estimator=PATH``) chooses each frame's
    prompts instead of the subset (``oracle``, the benchmark default); records say which it chose.
    ``raw_range`` maps real frames in raw units (14/16-bit counts, Kelvin) to display
    (:mod:`hmtir.io.radiometric`: ``auto``, ``full`` or ``"LOW,HIGH"``); records keep the mapping.
    """
    _check_arguments(dict(locals()))
    check_options(convention, batch_size, seed, prompts)
    if estimator is not None and prompts != "auto":
        raise HmtirError("an estimator only chooses prompts with prompts 'auto'")
    if real is not None and data is not None:
        raise HmtirError("pass either data (a paired benchmark) or real (unpaired frames), not both")
    sharded = distributed.launched()
    ctx = distributed.setup(device) if sharded else None
    try:
        return _evaluate(
            ctx, method, data, subsets, metrics, device, batch_size, save_images, out, real, convention,
            weights, progress, seed, overwrite, dict(method_options or {}), prefetch_batches, prompts,
            estimator, raw_range,
        )  # fmt: skip
    finally:
        if ctx is not None:
            distributed.teardown(ctx)


def _evaluate(
    ctx: distributed.DistContext | None,
    method: str | Method,
    data: Path | str | None,
    subsets: str | Sequence[str],
    metrics: str | Sequence[Any],
    device: str,
    batch_size: int,
    save_images: bool,
    out: Path | str | None,
    real: Path | str | None,
    convention: str,
    weights: str | Path | None,
    progress: bool,
    seed: int,
    overwrite: bool,
    options: dict[str, Any],
    prefetch_batches: int,
    prompts: str,
    estimator_weights: str | Path | None,
    raw_range: str,
) -> EvaluationResult:
    from hmtir.console import progress as progress_bar
    from hmtir.io.lock import exclusive
    from hmtir.io.safety import check_output_folder, mark_output_folder
    from hmtir.runtime import resolve_device

    rank, world = (ctx.rank, ctx.world_size) if ctx is not None else (0, 1)
    device = str(ctx.device) if ctx is not None else resolve_device(device)
    metric_objects = build_metrics(metrics, device, convention)
    if real is not None:
        root, jobs = plan_real(Path(real), metric_objects)
    else:
        root, jobs = plan_paired(Path(data) if data is not None else None, subsets)
    restorer = _method(method, device, weights, options)
    if hasattr(restorer, "fit_to_data"):  # default weights: the shipped pair for this data set (networks.py)
        restorer.fit_to_data(root if real is None else None)
    definitions = {m.meta.name: m.definition() for m in metric_objects}
    from hmtir.io.radiometric import RangeSpec

    raw_range = str(RangeSpec.parse(raw_range))
    estimator = None
    if prompts == "auto":
        from hmtir.estimate import load_estimator

        estimator = load_estimator(estimator_weights, device=device)
    if hasattr(restorer, "engine_options"):  # the engine that ran keys the results (auto resolved)
        options = {k: v for k, v in options.items() if k != "engine"} | restorer.engine_options()
    spec = RunSpec(
        method=restorer.name,
        weights_sha256=restorer.weights_sha256,
        method_options=options,
        data_root=str(root.resolve()),
        data_kind="real" if real is not None else "paired",
        manifest_sha256=manifest_hash(root) if real is None else None,
        subsets=tuple(job.name for job in jobs),
        metrics=definitions,
        convention=convention,
        prompts=prompts,
        seed=seed,
        device=device.split(":")[0],  # which GPU of a node ran it does not change a score
        batch_size=batch_size,
        frames_sha256=frames_digest((job.name, item.name) for job in jobs for item in job.items),
        estimator_sha256=estimator.weights_sha256 if estimator is not None else None,
        raw_range=raw_range,
        method_source=restorer.source,
    )
    out = check_output_folder(  # results of a run from before the marker: a lock, a cache or a summary
        out if out is not None else spec.default_out(),
        overwrite=overwrite,
        own=lambda folder: (
            (folder / LOCK_FILE).exists()
            or any(folder.glob("cache*.jsonl"))
            or (folder / SUMMARY_FILE).exists()
        ),
    )

    def finished() -> EvaluationResult | None:
        """Rank 0's decision about an existing result, before any work (every rank then follows it).

        With ``overwrite`` the old summary is not even read: it may be the unreadable file being replaced.
        Otherwise it is checked (:func:`load_result`) before its spec is compared, so an edited folder is
        named as such, not as "a different evaluation"."""
        summary = read_summary(out) if out.is_dir() and not overwrite else None
        if summary is not None:
            existing = load_result(out)
            differing = spec.differences(existing.summary["run"])
            if not differing:
                return existing
            raise HmtirError(
                f"{out} holds a finished evaluation with a different {', '.join(differing)}; "
                "pass overwrite (--overwrite) to replace it or choose another output folder"
            )
        prepare_out(out, overwrite)
        return None

    with contextlib.ExitStack() as held:
        decision: Any = None
        if rank == 0:
            try:
                mark_output_folder(out)
                held.enter_context(exclusive(out / LOCK_FILE, f"results into {out}"))
                decision = finished()
            except HmtirError as err:
                decision = err
        if ctx is not None:
            decision = distributed.broadcast_object(ctx, decision)
        if isinstance(decision, HmtirError):
            raise HmtirError(str(decision)) from None
        if isinstance(decision, EvaluationResult):
            return decision if rank == 0 else load_result(out)
        if ctx is not None:
            distributed.barrier(ctx)

        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        identity = restorer.name if not options else f"{restorer.name}{sorted(options.items())}"
        runner = Runner(
            method=restorer,
            metrics=metric_objects,
            cache=ResultCache(out, cache_file(rank, world)),
            config_digest=config_digest(
                identity,
                restorer.weights_sha256,
                definitions,
                convention,
                seed,
                prompts if estimator is None else {"auto": estimator.sha256},  # weights, thresholds, gate
                raw_range,
                source=restorer.source,
            ),
            device=device,
            batch_size=batch_size,
            convention=convention,
            save_images=save_images,
            out=out,
            prefetch_batches=prefetch_batches,
            rank=rank,
            world_size=world,
            estimator=estimator,
            raw_range=raw_range,
        )
        with progress_bar(progress and rank == 0) as bar:
            task = bar.add_task(restorer.name, total=len(runner.my_items(jobs)))
            mine = runner.run(jobs, bar, task)
        shards = distributed.gather_objects(ctx, mine) if ctx is not None else [mine]
        by_key = {(row["subset"], row["name"]): row for shard in shards for row in shard}
        rows = [by_key[(job.name, item.name)] for job in jobs for item in job.items]
        records = records_frame(rows, list(definitions))
        summary = {
            "schema": SCHEMA,
            **environment(device),
            "method": restorer.describe(),
            "data": {
                "root": spec.data_root,
                "kind": spec.data_kind,
                "manifest_sha256": spec.manifest_sha256,
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
            "prompts": prompts,
            **({"estimator": estimator.describe()} if estimator is not None else {}),
            **({"raw_range": raw_range} if real is not None else {}),
            "batch_size": batch_size,
            "world_size": world,
            **({"method_options": options} if options else {}),
            "run": spec.as_dict(),
            "subsets": summarize_records(
                records,
                list(definitions),
                {
                    job.name: {"degradation": job.subset.degradation, "scenario": job.subset.scenario}
                    for job in jobs
                },
            ),
        }
        if estimator is not None:  # what the estimator chose per subset: its confusion row against the truth
            for subset, entry in summary["subsets"].items():
                chosen = records.loc[records["subset"] == subset, "degradation"].value_counts()
                entry["prompts_chosen"] = {str(k): int(v) for k, v in sorted(chosen.items())}
        if rank == 0:
            summary = write_results(out, records, summary)
        if ctx is not None:
            distributed.barrier(ctx)
        return EvaluationResult(out=out, summary=summary, records=records)
