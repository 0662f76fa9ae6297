"""Turn submitted images (recomputed) or an evaluate run (verified when hmtir ran it, user when a user's
folder hands it in) into a leaderboard result entry.

Submitted images are scored by hmtir against the ground truth; whatever the submitter wrote about their
own numbers (``self_reported``) is ignored. The entry and its per-image records are built completely in
memory and only then written, so any failure — a bad file, a missing metric weight — leaves the
leaderboard folder untouched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.data.layout import CLEAN_DIR
from hmtir.errors import HmtirError
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.columns import empty_metrics, leaderboard_metrics
from hmtir.leaderboard.schema import RESULT_SCHEMA_ID, records_relpath, validate_result
from hmtir.leaderboard.store import check_board_data, check_writable, write_entry
from hmtir.vocabulary import is_real

if TYPE_CHECKING:
    import pandas as pd

    from hmtir.leaderboard.benchmarks import Benchmark
    from hmtir.leaderboard.submission import Submission

DEFAULT_METRICS = ("psnr", "ssim")


@dataclass
class ScoreOutcome:
    entry: dict[str, Any]
    records_csv: str
    path: Path | None = None  # where the result was written (None for a dry run)


def hardware_description(device: str = "cpu") -> str:
    """CPU model and core count (or the GPU name): enough to read a runtime column with care."""
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(torch.device(device))} (CUDA)"
    model = platform.processor() or platform.machine()
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.is_file():
        for line in with_cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPU cores"


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or len(finite) != len(values):
        return None  # a missing or infinite per-image value leaves the mean undefined, not optimistic
    return sum(finite) / len(finite)


def records_csv(rows: list[dict[str, Any]], metric_names: Sequence[str], extra: Sequence[str]) -> str:
    """Per-image records as CSV text with fixed float formatting, so equal scores give equal bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subset", "name", *metric_names, *extra])

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.6f}" if math.isfinite(value) else str(value)
        return str(value)

    for row in rows:
        writer.writerow([row["subset"], row["name"], *(cell(row.get(m)) for m in (*metric_names, *extra))])
    return buffer.getvalue()


def _provenance(source: str, definitions: dict[str, Any], convention: str, **extra: Any) -> dict[str, Any]:
    import hmtir
    from hmtir.evaluation.provenance import git_commit

    return {
        "hmtir_version": hmtir.__version__,
        "git_commit": git_commit(),
        "source": source,
        "metric_definitions": definitions,
        "convention": convention,
        **extra,
    }


def _with_records(entry: dict[str, Any], text: str) -> dict[str, Any]:
    """Point ``entry`` at its records file (where its row key says it lives) holding ``text``."""
    entry["records"] = {
        "file": records_relpath(entry),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "rows": text.count("\n") - 1,
    }
    return entry


# ------------------------------------------------------------------------------------ submissions


def _image_pairs(images: dict[str, Path], data: Path | None) -> Iterator[tuple[Any, Any]]:
    """(submitted frame, ground truth or None) for each name, read one at a time."""
    from hmtir.io.image import read_image

    for name, file in images.items():
        truth = read_image(data / CLEAN_DIR / name).data if data is not None else None
        yield read_image(file).data, truth


def _row_stub(sub: Submission, metrics: Sequence[str]) -> dict[str, Any]:
    """The fields of a submission's row that decide where it goes and whether it may be written."""
    unknown = [m for m in metrics if m not in leaderboard_metrics()]
    if unknown:
        raise HmtirError(
            f"--metrics {unknown[0]} is not a leaderboard metric ({', '.join(leaderboard_metrics())})"
        )
    for subset in sub.images:
        primary = sub.benchmark.primary_metric[subset]
        if primary not in metrics:
            raise HmtirError(f"subset {subset} is ranked by {primary}: add it to --metrics")
    meta = sub.meta
    return {
        "schema": RESULT_SCHEMA_ID,
        "method": {
            "name": meta["method"],
            "display_name": meta["display_name"],
            "kind": meta["kind"],
            "parameters": meta.get("parameters"),
            "paper": meta.get("paper"),
            "code": meta.get("code"),
            "authors": list(meta["authors"]),
            "license": meta["license"],
            "training_data": meta["training_data"],
            "extra_data": meta["extra_data"],
        },
        "benchmark": {
            "name": sub.benchmark.name,
            "version": sub.benchmark.version,
            "manifest_sha256": sub.data_sha256,
        },
        "trust": "recomputed",
        "provenance": {"submission": sub.id},
    }


def _check_row(stub: dict[str, Any], leaderboard: Path, replace: bool) -> None:
    from hmtir.io.safety import check_output_folder

    # the rows go into results/ and records/: never the root, nor a non-empty folder that is no leaderboard
    check_output_folder(leaderboard, option="--leaderboard", own=lambda board: (board / "results").is_dir())
    check_writable(leaderboard, stub, replace=replace)
    check_board_data(leaderboard, stub)


def check_submission(
    path: str | os.PathLike[str],
    data: str | os.PathLike[str],
    leaderboard: str | os.PathLike[str] | None = "leaderboard",
    metrics: Sequence[str] = DEFAULT_METRICS,
    replace: bool = False,
) -> int:
    """Every refusal :func:`score_submission` can make, without scoring: returns the image count.

    The CLI calls it first, so a refused submission is one line and no progress bar.
    """
    from hmtir.leaderboard.submission import open_submission

    with open_submission(path, data) as sub:
        stub = _row_stub(sub, metrics)
        if leaderboard is not None:
            _check_row(stub, Path(leaderboard), replace)
        return sub.image_count


def score_submission(
    path: str | os.PathLike[str],
    data: str | os.PathLike[str],
    leaderboard: str | os.PathLike[str] | None = "leaderboard",
    metrics: Sequence[str] = DEFAULT_METRICS,
    device: str = "cpu",
    advance: Callable[[str], None] | None = None,
    replace: bool = False,
) -> ScoreOutcome:
    """Validate ``path``, score every image against ``data``'s ground truth, write the entry (unless
    ``leaderboard`` is None) and return it. ``advance`` is called once per scored image (progress bars).

    The row is the submission's own (keyed by its id, see :mod:`hmtir.leaderboard.schema`); ``data`` must
    be the declared benchmark's data; an existing row of this submission is replaced only with
    ``replace``. All of it is checked before the scoring, and again before anything is written.
    """
    from hmtir.leaderboard.submission import open_submission
    from hmtir.metrics import create_metric
    from hmtir.metrics.pairs import score_pairs
    from hmtir.weights import build_all, sha256_file

    data = Path(data)
    with open_submission(path, data) as sub:
        entry = _row_stub(sub, metrics)
        if leaderboard is not None:  # refuse what cannot be written before the work, not after it
            _check_row(entry, Path(leaderboard), replace)
        meta = sub.meta
        scorers = build_all(metrics, lambda name: create_metric(name, device=device))
        rows: list[dict[str, Any]] = []
        subsets: dict[str, Any] = {}
        for subset, images in sub.images.items():
            per_metric: dict[str, list[float | None]] = {m: [] for m in metrics}
            pairs = _image_pairs(images, data if not is_real(subset) else None)
            for name, scores in zip(images, score_pairs(scorers, pairs)):
                rows.append(
                    {"subset": subset, "name": name, **scores, "image_sha256": sha256_file(images[name])}
                )
                for metric, value in scores.items():
                    per_metric[metric].append(value)
                if advance is not None:
                    advance(f"{subset}/{name}")
            means = empty_metrics()
            means.update({m: _mean_or_none(v) for m, v in per_metric.items()})
            subsets[subset] = {"images": len(images), "metrics": means, "seconds_per_image": None}
        text = records_csv(rows, list(metrics), ["image_sha256"])
        runtime = meta.get("runtime") or {}
        entry.update(
            subsets=subsets,
            runtime={
                "seconds_per_image": runtime.get("seconds_per_image"),
                "hardware": runtime.get("hardware"),
                "measured_by": "submitter" if runtime.get("seconds_per_image") is not None else None,
            },
            provenance=_provenance(
                f"hmtir submit score {sub.id}",
                {s.meta.name: s.definition() for s in scorers},
                "float",
                submission=sub.id,
                submission_sha256=sub.sha256,
            ),
        )
        _with_records(entry, text)
    validate_result(entry, f"score of {path}")
    outcome = ScoreOutcome(entry, text)
    if leaderboard is not None:
        outcome.path = write_entry(Path(leaderboard), entry, text, replace=replace)
    return outcome


# ------------------------------------------------------------------------- evaluate → verified or user


def recorded_hardware(summary: dict[str, Any]) -> str:
    """What ran an evaluation, from its own summary (not the machine reading it)."""
    device = str(summary.get("device") or "cpu")
    if device.startswith("cuda"):
        return f"{summary.get('device_name') or 'unnamed GPU'} (CUDA)"
    return f"CPU ({summary.get('platform') or 'platform not recorded'})"


def subset_label(subset: str, data_root: str | None) -> str:
    """A subset's leaderboard name: ``evaluate --real DIR``'s bare ``real`` becomes ``real/<dir letters>``
    (``real/iray``), as the benchmarks name real subsets."""
    if subset != "real":
        return subset
    letters = "".join(ch for ch in Path(data_root or "").name.lower() if "a" <= ch <= "z")
    return f"real/{letters or 'frames'}"


def result_from_evaluation(
    out: str | os.PathLike[str],
    benchmark: str,
    *,
    trust: str,
    parameters: int | None = None,
    display_name: str | None = None,
    hardware: str | None = None,
) -> ScoreOutcome:
    """Build an entry from an ``hmtir evaluate`` output folder, read through the evaluation results loader
    (:func:`hmtir.evaluation.results.load_result`, which checks that the summary is bound to its records).

    ``trust`` says who stands behind the numbers: ``verified`` only where hmtir ran the evaluation itself
    (``leaderboard seed``, ``hmtir demo``); ``user`` for a folder a user hands in (``leaderboard build
    --results``), whose files its owner can rewrite. ``hardware`` defaults to what the summary recorded
    (:func:`recorded_hardware`).
    """
    from hmtir.evaluation.results import load_result

    out = Path(out)
    result = load_result(out)
    try:
        entry, text = _evaluation_entry(result.summary, result.records, get_benchmark(benchmark), trust)
    except (KeyError, TypeError, AttributeError) as err:  # a summary of another shape than evaluate writes
        raise HmtirError(
            f"evaluation {out}: summary.json is not an hmtir evaluate summary ({type(err).__name__}: {err})"
        ) from None
    entry["method"].update(parameters=parameters, display_name=display_name or entry["method"]["name"])
    if hardware is not None:
        entry["runtime"]["hardware"] = hardware
    validate_result(_with_records(entry, text), f"evaluation {out}")
    return ScoreOutcome(entry, text)


def _evaluation_entry(
    summary: dict[str, Any], records: pd.DataFrame, bench: Benchmark, trust: str
) -> tuple[dict[str, Any], str]:
    """The entry (without its records block) and the records CSV of one evaluation's summary and records."""
    method = summary["method"]
    root = summary["data"].get("root")
    metric_names = [m for m in summary["metrics"] if m in leaderboard_metrics()]
    subsets = {}
    for subset, stats in summary["subsets"].items():
        means = empty_metrics()
        means.update({m: stats["metrics"][m]["mean"] for m in metric_names})
        subsets[subset_label(subset, root)] = {
            "images": stats["images"],
            "metrics": means,
            "seconds_per_image": stats.get("seconds_per_image"),
        }
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in records.to_dict("records")
    ]
    for row in rows:
        row["subset"] = subset_label(row["subset"], root)
    text = records_csv(rows, metric_names, ["seconds", "input_sha256"])
    seconds = [r["seconds"] for r in rows if r.get("seconds") is not None]
    entry = {
        "schema": RESULT_SCHEMA_ID,
        "method": {
            "name": method["name"],
            "display_name": method["name"],
            "kind": method.get("kind", "learned"),
            "parameters": None,
            "paper": method.get("paper"),
            "license": method.get("license"),
            "weights_sha256": method.get("weights_sha256"),
        },
        "benchmark": {
            "name": bench.name,
            "version": bench.version,
            "manifest_sha256": summary["data"].get("manifest_sha256"),
        },
        "trust": trust,
        "subsets": subsets,
        "runtime": {
            "seconds_per_image": sum(seconds) / len(seconds) if seconds else None,
            "hardware": recorded_hardware(summary),
            "measured_by": "hmtir",
        },
        "records": None,
        "provenance": _provenance(
            f"hmtir evaluate {method['name']} (seed {summary.get('seed')})",
            {m: summary["metrics"][m]["definition"] for m in metric_names},
            summary.get("convention", "float"),
            git_commit=summary.get("git_commit"),
        ),
    }
    return entry, text
