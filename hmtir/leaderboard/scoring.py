"""Turn submitted images (recomputed) or an evaluate run (verified) into a leaderboard result entry.

Submitted images are scored by hmtir against the ground truth; whatever the submitter wrote about their
own numbers (``self_reported``) is ignored. The entry and its per-image records are built completely in
memory and only then written, so any failure — a bad file, a missing metric weight — leaves the
leaderboard folder untouched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmtir.data.layout import CLEAN_DIR, manifest_hash
from hmtir.errors import HmtirError
from hmtir.leaderboard.schema import (
    LEADERBOARD_METRICS,
    RECORDS_DIR,
    RESULT_SCHEMA_ID,
    Benchmark,
    empty_metrics,
    get_benchmark,
    validate_result,
    write_entry,
)
from hmtir.vocabulary import is_real

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


def count_parameters(method: Any) -> int:
    """Trainable-size parameters of every torch module a method holds (0 for classical methods)."""
    import torch

    seen: set[int] = set()
    total = 0
    candidates = list(vars(method).values())
    for value in list(candidates):
        if not isinstance(value, torch.nn.Module) and hasattr(value, "__dict__"):
            candidates.extend(v for v in vars(value).values() if isinstance(v, torch.nn.Module))
    for value in candidates:
        if isinstance(value, torch.nn.Module):
            for param in value.parameters():
                if id(param) not in seen:
                    seen.add(id(param))
                    total += param.numel()
    return total


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
    from hmtir.evaluate.provenance import git_commit

    return {
        "hmtir_version": hmtir.__version__,
        "git_commit": git_commit(),
        "source": source,
        "metric_definitions": definitions,
        "convention": convention,
        **extra,
    }


def _records_ref(method: str, bench: Benchmark, text: str) -> dict[str, Any]:
    rows = text.count("\n") - 1
    return {
        "file": f"{RECORDS_DIR}/{method}__{bench.key}.csv",
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "rows": rows,
    }


# ------------------------------------------------------------------------------------ submissions


def score_submission(
    path: str | os.PathLike[str],
    data: str | os.PathLike[str],
    leaderboard: str | os.PathLike[str] | None = "leaderboard",
    metrics: Sequence[str] = DEFAULT_METRICS,
    device: str = "cpu",
    advance: Callable[[str], None] | None = None,
) -> ScoreOutcome:
    """Validate ``path``, score every image against ``data``'s ground truth, write the entry (unless
    ``leaderboard`` is None) and return it. ``advance`` is called once per scored image (progress bars)."""
    import numpy as np
    import torch

    from hmtir.io.image import read_image
    from hmtir.leaderboard.submission import open_submission
    from hmtir.metrics import create_metric

    data = Path(data)
    unknown = [m for m in metrics if m not in LEADERBOARD_METRICS]
    if unknown:
        raise HmtirError(
            f"--metrics {unknown[0]} is not a leaderboard metric ({', '.join(LEADERBOARD_METRICS)})"
        )
    with open_submission(path, data) as sub:
        for subset in sub.images:
            primary = sub.benchmark.primary_metric[subset]
            if primary not in metrics:
                raise HmtirError(f"subset {subset} is ranked by {primary}: add it to --metrics")
        scorers = [create_metric(name, device=device) for name in metrics]
        rows: list[dict[str, Any]] = []
        subsets: dict[str, Any] = {}
        for subset, images in sub.images.items():
            paired = not is_real(subset)
            per_metric: dict[str, list[float | None]] = {m: [] for m in metrics}
            for name, file in images.items():
                pred = torch.from_numpy(read_image(file).data)[None, None]
                target = None
                if paired:
                    truth = read_image(data / CLEAN_DIR / name).data
                    target = torch.from_numpy(np.ascontiguousarray(truth))[None, None]
                row: dict[str, Any] = {"subset": subset, "name": name}
                for scorer in scorers:
                    if scorer.meta.mode == "FR" and target is None:
                        value = None
                    else:
                        value = float(scorer(pred, target)[0])
                    row[scorer.meta.name] = value
                    per_metric[scorer.meta.name].append(value)
                from hmtir.weights import sha256_file

                row["image_sha256"] = sha256_file(file)
                rows.append(row)
                if advance is not None:
                    advance(f"{subset}/{name}")
            means = empty_metrics()
            means.update({m: _mean_or_none(v) for m, v in per_metric.items()})
            subsets[subset] = {"images": len(images), "metrics": means, "seconds_per_image": None}
        meta = sub.meta
        text = records_csv(rows, list(metrics), ["image_sha256"])
        runtime = meta.get("runtime") or {}
        entry = {
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
                "manifest_sha256": manifest_hash(data),
            },
            "trust": "recomputed",
            "subsets": subsets,
            "runtime": {
                "seconds_per_image": runtime.get("seconds_per_image"),
                "hardware": runtime.get("hardware"),
                "measured_by": "submitter" if runtime.get("seconds_per_image") is not None else None,
            },
            "records": _records_ref(meta["method"], sub.benchmark, text),
            "provenance": _provenance(
                f"hmtir submit score {sub.path.name}",
                {s.meta.name: s.definition() for s in scorers},
                "float",
                submission_sha256=sub.sha256,
            ),
        }
    validate_result(entry, f"score of {path}")
    outcome = ScoreOutcome(entry, text)
    if leaderboard is not None:
        outcome.path = write_entry(Path(leaderboard), entry, text)
    return outcome


# ------------------------------------------------------------------------------- evaluate → verified


def result_from_evaluation(
    out: str | os.PathLike[str],
    benchmark: str,
    trust: str = "verified",
    parameters: int | None = None,
    display_name: str | None = None,
) -> ScoreOutcome:
    """Build an entry from an ``hmtir evaluate`` output folder (``summary.json`` + ``records.csv``).

    ``verified``: hmtir itself ran the method, so runtime and hardware are measured ones.
    """
    import pandas as pd

    out = Path(out)
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        records = pd.read_csv(out / "records.csv")
    except (OSError, json.JSONDecodeError) as err:
        raise HmtirError(f"{out} is not a finished evaluate output ({err})") from None
    bench = get_benchmark(benchmark)
    method = summary["method"]
    metric_names = [m for m in summary["metrics"] if m in LEADERBOARD_METRICS]
    subsets = {}
    for subset, stats in summary["subsets"].items():
        means = empty_metrics()
        means.update({m: stats["metrics"][m]["mean"] for m in metric_names})
        subsets[subset] = {
            "images": stats["images"],
            "metrics": means,
            "seconds_per_image": stats.get("seconds_per_image"),
        }
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in records.to_dict("records")
    ]
    text = records_csv(rows, metric_names, ["seconds", "input_sha256"])
    seconds = [r["seconds"] for r in rows if r.get("seconds") is not None]
    entry = {
        "schema": RESULT_SCHEMA_ID,
        "method": {
            "name": method["name"],
            "display_name": display_name or method["name"],
            "kind": method.get("kind", "learned"),
            "parameters": parameters,
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
            "hardware": hardware_description(summary.get("device", "cpu")),
            "measured_by": "hmtir",
        },
        "records": _records_ref(method["name"], bench, text),
        "provenance": _provenance(
            f"hmtir evaluate {method['name']} (seed {summary.get('seed')})",
            {m: summary["metrics"][m]["definition"] for m in metric_names},
            summary.get("convention", "float"),
            git_commit=summary.get("git_commit"),
        ),
    }
    validate_result(entry, f"evaluation {out}")
    return ScoreOutcome(entry, text)
