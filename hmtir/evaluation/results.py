"""Evaluation results on disk: one folder per run, written atomically, locked while written, loadable as data.

A finished folder holds (``summary.json`` last, so its presence means "finished")::

    summary.json      provenance, the run spec, per-subset (and per-scene) statistics
    records.parquet   one row per frame: method, subset, name, scene, each metric, seconds, prompts,
                      input/target sha256 (seconds: the method's own time per frame, GPU synchronised)
    records.csv       the same rows, for spreadsheets
    cache*.jsonl      resume logs (one per process of a sharded run)
    images/<subset>/  restored frames at the source bit depth (``save_images=True``)

:func:`load_results` turns any number of such folders into one tidy table, joined with the degradation
parameters of the dataset manifest they were scored on.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hmtir.errors import HmtirError
from hmtir.evaluation.cache import CACHE_GLOB
from hmtir.io.atomic import atomic_path, atomic_write_text

SCHEMA = "hmtir.evaluation/2"
SUMMARY_FILE = "summary.json"
RECORDS_PARQUET = "records.parquet"
RECORDS_CSV = "records.csv"
LOCK_FILE = ".hmtir-evaluate.lock"
IMAGES_DIR = "images"
ID_COLUMNS = ("method", "subset", "name", "scene")
TAIL_COLUMNS = ("seconds", "degradation", "scenario", "input_sha256", "target_sha256")


@dataclass
class EvaluationResult:
    """What :func:`hmtir.evaluate` produced (or found finished): the summary, the per-frame records, where."""

    out: Path
    summary: dict[str, Any]
    records: pd.DataFrame = field(repr=False)
    loaded: bool = False  # True when an earlier, identical run was loaded instead of recomputed

    @property
    def summary_path(self) -> Path:
        return self.out / SUMMARY_FILE

    def mean(self, metric: str, subset: str | None = None) -> float | None:
        """Mean of ``metric`` over ``subset`` (the only subset when there is just one)."""
        subsets = self.summary["subsets"]
        if subset is None:
            if len(subsets) != 1:
                raise HmtirError(f"several subsets evaluated ({', '.join(subsets)}); name one")
            subset = next(iter(subsets))
        if subset not in subsets:
            raise HmtirError(f"subset '{subset}' was not evaluated (have: {', '.join(subsets)})")
        return subsets[subset]["metrics"][metric]["mean"]


def records_frame(rows: list[dict[str, Any]], metric_names: list[str]) -> pd.DataFrame:
    """Fixed columns first (identity, metrics, timing, prompts, hashes), then any a run adds (the estimator's
    per-step scores under ``--prompts auto``, the raw→display mapping of real frames)."""
    columns = [*ID_COLUMNS, *metric_names, *TAIL_COLUMNS]
    extra = sorted({key for row in rows for key in row} - set(columns))
    return pd.DataFrame(rows, columns=[*columns, *extra])


def prepare_out(out: Path, overwrite: bool) -> None:
    """Make ``out`` ready for a new run: an existing finished result is removed only with ``overwrite``."""
    from hmtir.io.safety import output_folder

    output_folder(out)
    if (out / SUMMARY_FILE).exists():
        if not overwrite:
            raise HmtirError(
                f"finished results of a different evaluation exist in {out / SUMMARY_FILE}; "
                "pass overwrite (--overwrite) or choose another output folder"
            )
        for name in (SUMMARY_FILE, RECORDS_PARQUET, RECORDS_CSV):
            (out / name).unlink(missing_ok=True)
        for path in out.glob(CACHE_GLOB):
            path.unlink()
        shutil.rmtree(out / IMAGES_DIR, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write_results(out: Path, records: pd.DataFrame, summary: dict[str, Any]) -> None:
    with atomic_path(out / RECORDS_PARQUET) as tmp:
        records.to_parquet(tmp, index=False)
    with atomic_path(out / RECORDS_CSV) as tmp:
        records.to_csv(tmp, index=False)
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")


def read_summary(out: Path) -> dict[str, Any] | None:
    path = Path(out) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HmtirError(f"cannot read {path}: {err}; delete the folder or pass --overwrite") from None
    if not isinstance(summary, dict) or "subsets" not in summary:
        raise HmtirError(f"{path} is not an hmtir evaluation summary")
    return summary


def load_result(out: str | os.PathLike[str]) -> EvaluationResult:
    """A finished evaluation folder (or its ``summary.json``) as an :class:`EvaluationResult`."""
    out = Path(out)
    if out.name == SUMMARY_FILE:
        out = out.parent
    summary = read_summary(out)
    if summary is None:
        raise HmtirError(f"{out} holds no finished evaluation (no {SUMMARY_FILE})")
    try:
        records = pd.read_parquet(out / RECORDS_PARQUET)
    except (OSError, ValueError) as err:
        raise HmtirError(f"cannot read {out / RECORDS_PARQUET}: {err}") from None
    if "method" not in records.columns:  # results written before records carried it
        records.insert(0, "method", summary["method"]["name"])
    return EvaluationResult(out, summary, records, loaded=True)


def _result_folders(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    folders: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file() and path.name == SUMMARY_FILE:
            folders.append(path.parent)
        elif (path / SUMMARY_FILE).is_file():
            folders.append(path)
        elif path.is_dir():
            found = sorted(p.parent for p in path.rglob(SUMMARY_FILE))
            if not found:
                raise HmtirError(f"no evaluation results (summary.json) under {path}")
            folders.extend(found)
        else:
            raise HmtirError(f"results path {path} does not exist")
    return list(dict.fromkeys(folders))


def _manifest_parameters(root: Path, manifest_sha256: str | None) -> pd.DataFrame | None:
    """Per (name, subset) degradation parameters from the dataset manifest, flattened to columns."""
    import hashlib

    path = root / "meta" / "manifest.jsonl"
    if manifest_sha256 is None or not path.is_file():
        return None
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != manifest_sha256:
        return None  # the data changed since the evaluation: its parameters would not describe the scores
    rows = []
    for line in raw.decode("utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        params = record.get("params") if isinstance(record, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("ops"), dict):
            continue
        row = {"name": record.get("name"), "subset": record.get("subset"), "preset": params.get("preset")}
        row["gate"] = params.get("gate")
        for op, values in params["ops"].items():
            for key, value in (values or {}).items():
                if isinstance(value, (int, float, bool, str)):
                    row[f"{op}.{key}"] = value
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def load_results(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One tidy table of any number of evaluations (folders, summary files, or folders holding many).

    Columns: method, weights_sha256, subset, name, scene, every metric, seconds, prompts and hashes,
    ``result`` (the folder), then the degradation parameters recorded in the dataset manifest
    (``preset``, ``gate``, ``<op>.<parameter>``) when that manifest is still where it was evaluated.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    frames = []
    for folder in _result_folders(items):
        result = load_result(folder)
        records = result.records.copy()
        records.insert(1, "weights_sha256", result.summary["method"].get("weights_sha256"))
        records["result"] = str(folder)
        data = result.summary.get("data", {})
        params = _manifest_parameters(Path(data.get("root", "")), data.get("manifest_sha256"))
        if params is not None:
            records = records.merge(params, on=["name", "subset"], how="left")
        frames.append(records)
    if not frames:
        raise HmtirError("no evaluation results given")
    return pd.concat(frames, ignore_index=True, sort=False)
