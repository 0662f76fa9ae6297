"""Evaluation results on disk: one folder per run, written atomically, locked while written, loadable as data.

A finished folder holds (``summary.json`` last, so its presence means "finished")::

    summary.json      provenance, the run spec, per-subset (and per-scene) statistics, the sha256 of
                      both records files and a digest over all of it (see :func:`load_result`)
    records.parquet   one row per frame: method, subset, name, scene, each metric, seconds, prompts,
                      input/target sha256 (seconds: the method's own time per frame, GPU synchronised)
    records.csv       the same rows, for spreadsheets
    cache*.jsonl      resume logs (one per process of a sharded run)
    images/<subset>/  restored frames at the source bit depth (``save_images=True``)

:func:`load_results` turns any number of such folders into one tidy table, joined with the degradation
parameters of the dataset manifest they were scored on.

A summary is bound to its records: it names the sha256 of ``records.parquet`` and ``records.csv`` as written,
and its ``digest`` is the sha256 of its own canonical JSON (every field but the digest). Loading checks both,
then that the summary says what the records say (method, subsets, frames, per-subset statistics), so a folder
whose summary was edited to name another method, or whose records were swapped, is refused in one line
instead of being read under a false label. (The digest detects inconsistent edits, it is not a signature:
someone who rewrites everything consistently owns those numbers; the leaderboard gives rows built from a
user's folders no tier that only hmtir's own rescoring earns.)
"""

from __future__ import annotations

import hashlib
import json
import math
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
from hmtir.io.json_file import read_json

SCHEMA = "hmtir.evaluation/3"  # /3: the summary carries records_sha256 and its digest
SUMMARY_FILE = "summary.json"
RECORDS_PARQUET = "records.parquet"
RECORDS_CSV = "records.csv"
LOCK_FILE = ".hmtir-evaluate.lock"
IMAGES_DIR = "images"
ID_COLUMNS = ("method", "subset", "name", "scene")
TAIL_COLUMNS = ("seconds", "degradation", "scenario", "input_sha256", "target_sha256")
RECORDS_DIGESTS = "records_sha256"
DIGEST = "digest"


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


def frames_digest(frames: Iterable[tuple[str, str]]) -> str:
    """sha256 of the evaluated ``(subset, frame name)`` list, in order: the spec's ``frames_sha256``."""
    text = "\n".join(f"{subset}/{name}" for subset, name in frames)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary_digest(summary: dict[str, Any]) -> str:
    """sha256 of the summary's canonical JSON, every field but the digest itself."""
    body = {key: value for key, value in summary.items() if key != DIGEST}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    from hmtir.weights import sha256_file

    return sha256_file(path)


def write_results(out: Path, records: pd.DataFrame, summary: dict[str, Any]) -> dict[str, Any]:
    """Write the records, then the summary bound to them (``summary.json`` last: "finished"); returns the
    summary as written (JSON types, with ``records_sha256`` and ``digest``), which is what loading gives."""
    with atomic_path(out / RECORDS_PARQUET) as tmp:
        records.to_parquet(tmp, index=False)
    with atomic_path(out / RECORDS_CSV) as tmp:
        records.to_csv(tmp, index=False)
    written = json.loads(json.dumps(summary, allow_nan=False, default=str))
    written[RECORDS_DIGESTS] = {name: _sha256(out / name) for name in (RECORDS_PARQUET, RECORDS_CSV)}
    written[DIGEST] = summary_digest(written)
    atomic_write_text(out / SUMMARY_FILE, json.dumps(written, indent=2, allow_nan=False) + "\n")
    return written


def read_summary(out: Path) -> dict[str, Any] | None:
    """The summary of ``out`` as written, or None when there is none; NOT checked against its records
    (use :func:`load_result` for numbers), but any hostile JSON is one line."""
    path = Path(out) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        summary = read_json(path, "evaluation summary")
    except HmtirError as err:
        raise HmtirError(f"{err}; re-run with --overwrite") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("subsets"), dict):
        raise HmtirError(f"{path} is not an hmtir evaluation summary; re-run with --overwrite")
    return summary


def _mismatch(out: Path, why: str) -> HmtirError:
    return HmtirError(
        f"results {out}: {SUMMARY_FILE} does not match its records ({why}); re-run with --overwrite"
    )


def _check_records_files(out: Path, summary: dict[str, Any]) -> None:
    """The digest over the summary, then the records files' sha256 it names."""
    if summary.get(DIGEST) is None or not isinstance(summary.get(RECORDS_DIGESTS), dict):
        version = summary.get("hmtir_version", "an older hmtir")
        raise HmtirError(
            f"results {out}: {SUMMARY_FILE} carries no digest of its records (written by hmtir {version}), "
            "so its numbers cannot be trusted; re-run with --overwrite"
        )
    if summary[DIGEST] != summary_digest(summary):
        raise _mismatch(out, f"{SUMMARY_FILE} was edited after it was written")
    for name in (RECORDS_PARQUET, RECORDS_CSV):
        path = out / name
        if not path.is_file():
            raise _mismatch(out, f"{name} is missing")
        if _sha256(path) != summary[RECORDS_DIGESTS].get(name):
            raise _mismatch(out, f"{name} changed after the summary was written")


def _agree(recorded: Any, recomputed: Any) -> bool:
    """``recomputed`` statistics equal ``recorded`` ones (floats to 1e-9: another pandas may sum in
    another order); keys only the summary has (e.g. ``prompts_chosen``) are not compared."""
    if isinstance(recomputed, dict):
        return isinstance(recorded, dict) and all(
            key in recorded and _agree(recorded[key], value) for key, value in recomputed.items()
        )
    if (
        isinstance(recomputed, float)
        and isinstance(recorded, (int, float))
        and not isinstance(recorded, bool)
    ):
        return math.isclose(recorded, recomputed, rel_tol=1e-9, abs_tol=1e-12)
    return type(recorded) is type(recomputed) and recorded == recomputed


def _check_agreement(out: Path, summary: dict[str, Any], records: pd.DataFrame) -> None:
    """What the summary says (method, subsets, frames, metrics, statistics) is what its records say."""
    from hmtir.evaluation.summary import summarize_records

    run = summary.get("run")
    method = summary.get("method")
    if (
        not isinstance(run, dict)
        or not isinstance(method, dict)
        or not isinstance(summary.get("metrics"), dict)
    ):
        raise _mismatch(out, "the summary lacks its run, method or metrics")
    missing = [c for c in (*ID_COLUMNS, *summary["metrics"], "seconds") if c not in records.columns]
    if missing:
        raise _mismatch(out, f"the records have no column {', '.join(missing)}")
    named = {method.get("name"), run.get("method")}
    in_records = sorted(map(str, records["method"].unique()))
    if len(named) != 1 or in_records != sorted(map(str, named)):
        shown = ", ".join(sorted(map(str, named)))
        raise _mismatch(
            out, f"method {shown} in the summary, {', '.join(in_records) or 'none'} in the records"
        )
    subsets = list(summary["subsets"])
    in_order = list(dict.fromkeys(records["subset"]))
    if in_order != subsets or run.get("subsets") != subsets:
        raise _mismatch(
            out, f"subsets {', '.join(subsets)} in the summary, {', '.join(in_order)} in the records"
        )
    if not isinstance(run.get("metrics"), dict) or list(run["metrics"]) != list(summary["metrics"]):
        raise _mismatch(out, "the run's metrics and the summary's differ")
    if frames_digest(zip(records["subset"], records["name"])) != run.get("frames_sha256"):
        raise _mismatch(out, "the records hold other frames than the run evaluated")
    descriptions = {
        name: {"degradation": entry.get("degradation"), "scenario": entry.get("scenario")}
        for name, entry in summary["subsets"].items()
        if isinstance(entry, dict)
    }
    if len(descriptions) != len(subsets):
        raise _mismatch(out, "a subset's entry is not a table")
    recomputed = summarize_records(records, list(summary["metrics"]), descriptions)
    for name in subsets:
        if not _agree(summary["subsets"][name], recomputed[name]):
            raise _mismatch(out, f"the statistics of {name} are not those of its records")


def load_result(out: str | os.PathLike[str]) -> EvaluationResult:
    """A finished evaluation folder (or its ``summary.json``) as an :class:`EvaluationResult`, checked:
    the summary's digest, the records files' sha256 it names, and that the summary says what the records
    say. Anything else (an edited summary, swapped records, a summary without a digest) is one line."""
    if out is None or not isinstance(out, (str, os.PathLike)):
        raise HmtirError(f"results: expected a folder path, got {type(out).__name__}")
    out = Path(out)
    if out.name == SUMMARY_FILE:
        out = out.parent
    summary = read_summary(out)
    if summary is None:
        raise HmtirError(f"{out} holds no finished evaluation (no {SUMMARY_FILE})")
    _check_records_files(out, summary)
    try:
        records = pd.read_parquet(out / RECORDS_PARQUET)
    except (OSError, ValueError) as err:
        raise HmtirError(f"cannot read {out / RECORDS_PARQUET}: {str(err).splitlines()[0]}") from None
    try:
        _check_agreement(out, summary, records)
    except (TypeError, ValueError, KeyError, AttributeError) as err:  # columns of lists, text scores, ...
        raise _mismatch(out, f"its records are not a table of scores: {type(err).__name__}") from None
    return EvaluationResult(out, summary, records, loaded=True)


def _result_folders(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Result folders named by ``paths``, each once however it is spelled (``a``, ``./a/``, a symlink)."""
    paths = list(paths)
    for raw in paths:
        if not isinstance(raw, (str, os.PathLike)):
            raise HmtirError(f"results: expected folder paths, got {type(raw).__name__} among them")
    folders: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_file() and path.name == SUMMARY_FILE:
            found = [path.parent]
        elif (path / SUMMARY_FILE).is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p.parent for p in path.rglob(SUMMARY_FILE))
            if not found:
                raise HmtirError(f"no evaluation results (summary.json) under {path}")
        else:
            raise HmtirError(f"results path {path} does not exist")
        for folder in found:
            folders.setdefault(os.path.realpath(folder), folder)
    return list(folders.values())


MAX_MANIFEST_BYTES = 1 << 30  # one JSON line per (frame, subset): a million frames still fit


def _manifest_parameters(root: Path, manifest_sha256: str | None) -> pd.DataFrame | None:
    """Per (name, subset) degradation parameters from the dataset manifest, flattened to columns."""
    from hmtir.io.json_file import JsonProblem, parse_json, read_json_bytes

    path = root / "meta" / "manifest.jsonl"
    if manifest_sha256 is None or not path.is_file():
        return None
    raw = read_json_bytes(path, "dataset manifest", max_bytes=MAX_MANIFEST_BYTES)
    if hashlib.sha256(raw).hexdigest() != manifest_sha256:
        return None  # the data changed since the evaluation: its parameters would not describe the scores
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            record = parse_json(line)
        except JsonProblem:
            continue  # a line that describes nothing joinable; its frames simply get no parameters
        params = record.get("params") if isinstance(record, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("ops"), dict):
            continue
        row = {"name": record.get("name"), "subset": record.get("subset"), "preset": params.get("preset")}
        row["gate"] = params.get("gate")
        for op, values in params["ops"].items():
            for key, value in (values if isinstance(values, dict) else {}).items():
                if isinstance(value, (int, float, bool, str)):
                    row[f"{op}.{key}"] = value
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def load_results(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One tidy table of any number of evaluations (folders, summary files, or folders holding many), each
    checked as :func:`load_result` checks it.

    Columns: method, weights_sha256, subset, name, scene, every metric, seconds, prompts and hashes,
    ``result`` (the folder), then the degradation parameters recorded in the dataset manifest
    (``preset``, ``gate``, ``<op>.<parameter>``) when that manifest is still where it was evaluated.
    """
    if isinstance(paths, (str, os.PathLike)):
        items: list[Any] = [paths]
    elif isinstance(paths, Iterable) and not isinstance(paths, (bytes, dict)):
        items = list(paths)
    else:
        raise HmtirError(f"results: expected a folder path or a list of them, got {type(paths).__name__}")
    frames = []
    for folder in _result_folders(items):
        result = load_result(folder)
        records = result.records.copy()
        records.insert(1, "weights_sha256", result.summary["method"].get("weights_sha256"))
        records["result"] = str(folder)
        data = result.summary.get("data")
        data = data if isinstance(data, dict) else {}
        root, manifest = data.get("root"), data.get("manifest_sha256")
        if isinstance(root, str) and root and isinstance(manifest, str):
            params = _manifest_parameters(Path(root), manifest)
            if params is not None:
                records = records.merge(params, on=["name", "subset"], how="left")
        frames.append(records)
    if not frames:
        raise HmtirError("no evaluation results given")
    return pd.concat(frames, ignore_index=True, sort=False)
