"""Build an HM-TIR tree from a folder of clean frames: ``imgs/``, one folder per preset, ``meta/``.

Determinism: each (image, preset) gets its own RNG from ``SeedSequence([seed, hash(name), hash(preset)])``
with a stable (sha256) hash, so an image's degradation depends on nothing but those three — not on worker
count, processing order or which other images are present. Resumability: every image is written
atomically, and a manifest line is appended only after its image exists, so on restart an output counts
as done when its file exists *and* a manifest line with the same seed material (or the same parameters,
when replaying a manifest) does. The final manifest is rewritten sorted and de-duplicated.

Trust: a manifest given to ``from_manifest`` and a source folder's ``scenes.csv`` may come from anyone,
so every name in them must be a plain file name (:func:`hmtir.io.safety.check_name`) and every preset,
subset and parameter block must be one hmtir knows; all records are checked before anything is written.
Source file names are checked too: a name with a newline would corrupt ``meta/test.txt``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import numbers
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hmtir import __version__
from hmtir.data.layout import (
    CLEAN_DIR,
    DATASET_FILE,
    MANIFEST_FILE,
    META_DIR,
    SCENES_FILE,
    list_images,
    read_scene_list,
    read_text,
)
from hmtir.degrade.ops import GREY, apply, shown
from hmtir.degrade.presets import check_gate, load_preset, params_problem, preset_names, sample_params
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.safety import check_name, check_output_folder, check_seed, mark_output_folder, output_folder
from hmtir.vocabulary import PRESET_TO_SUBSET, SUBSETS

DEFAULT_PRESETS = ("normal", "hard", "single-contrast", "single-blur", "single-noise")
LOSSLESS_SUFFIXES = (".png", ".tif", ".tiff")  # kept as is; JPEG/BMP sources are written as PNG


@dataclass(frozen=True)
class SubsetSummary:
    images: int
    mean_psnr: float  # dB, degraded vs clean, on the written (quantised) frames
    mean_grey_shift: float  # mean(degraded) − mean(clean), grey levels of 255


@dataclass
class SynthesisReport:
    out: Path
    images: int
    written: int  # (image, subset) outputs produced by this run
    skipped: int  # outputs already complete from an earlier run
    subsets: dict[str, SubsetSummary] = field(default_factory=dict)


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that, unlike ``hash()``, is the same in every process and Python version."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def seed_material(seed: int, name: str, preset: str) -> list[int]:
    return [int(seed), stable_hash(name), stable_hash(preset)]


def image_rng(seed: int, name: str, preset: str) -> np.random.Generator:
    """The generator for one (image, preset): independent of every other image and of worker count."""
    return np.random.default_rng(np.random.SeedSequence(seed_material(seed, name, preset)))


def output_name(source_name: str) -> str:
    """Degraded frames must not pick up JPEG artefacts, so lossy or 8-bit-only formats become PNG."""
    path = Path(source_name)
    return source_name if path.suffix.lower() in LOSSLESS_SUFFIXES else path.stem + ".png"


def frame_stats(clean: np.ndarray, degraded: np.ndarray) -> dict[str, float | None]:
    mse = float(np.mean(np.square(degraded.astype(np.float64) - clean)))
    psnr = None if mse == 0 else round(float(10 * np.log10(1.0 / mse)), 4)  # None: every gate stayed shut
    shift = (float(degraded.mean(dtype=np.float64)) - float(clean.mean(dtype=np.float64))) * GREY
    return {"psnr": psnr, "grey_shift": round(shift, 4)}


def _quantise(x: np.ndarray, bit_depth: int) -> np.ndarray:
    if bit_depth >= 32:
        return x
    top = float(2**bit_depth - 1)
    return (np.rint(x * top) / top).astype(np.float32)


@dataclass(frozen=True)
class _Job:
    source: Path
    out: Path
    name: str  # output file name
    write_clean: bool
    work: tuple[tuple[str, dict | None], ...]  # (preset, manifest record to replay or None to sample)
    seed: int
    gate: float
    origin: str = ""  # the manifest replayed, named in errors about its parameters


def _degraded(job: _Job, frame: np.ndarray, preset: str, params: dict, replayed: bool) -> np.ndarray:
    """``apply``, naming the manifest when replayed parameters do not fit the frame.

    Replayed blocks were held to the ops' schemas before any work (:func:`_replay_plan`), so what is left
    to go wrong is the frame itself: its shape must be the one the parameters were sampled for.
    """
    try:
        return apply(frame, params)
    except HmtirError as err:
        if not replayed:
            raise
        where = f"{job.origin}: params of {ascii(job.name)} ({PRESET_TO_SUBSET[preset]}) are malformed"
        raise HmtirError(f"{where}: {err}") from None


def _run_job(job: _Job) -> list[dict[str, Any]]:
    from hmtir.io.image import read_image, write_image

    frame = read_image(job.source)
    if job.write_clean:
        write_image(job.out / CLEAN_DIR / job.name, frame.data, frame.bit_depth)
    clean = _quantise(frame.data, frame.bit_depth)
    records = []
    for preset, replay in job.work:
        if replay is None:
            params = sample_params(preset, image_rng(job.seed, job.name, preset), frame.data.shape, job.gate)
            seed, material = job.seed, seed_material(job.seed, job.name, preset)
        else:
            params, seed, material = replay["params"], replay.get("seed"), replay.get("seed_material")
        # no named float frame: kept alive through the writes, it cost ~5% (measured, page faults)
        degraded = _quantise(_degraded(job, frame.data, preset, params, replay is not None), frame.bit_depth)
        subset = PRESET_TO_SUBSET[preset]
        write_image(job.out / subset / job.name, degraded, frame.bit_depth)
        records.append(
            {
                "name": job.name,
                "subset": subset,
                "preset": preset,
                "source": job.source.name,
                "bit_depth": frame.bit_depth,
                "seed": seed,
                "seed_material": material,
                "params": params,
                "stats": frame_stats(clean, degraded),
            }
        )
    return records


def _manifest_lines(path: Path, strict: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of a manifest; a torn last line from an interrupted run is ignored.

    Other lines that are not records are skipped in an output folder's own manifest (their outputs are
    redone) but refused in a manifest to replay (``strict``): dropping them would silently make fewer images.
    """
    if not path.is_file():
        return []
    lines = read_text(path).split("\n")
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=0)
    records = []
    for line_no, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            record = None
        if isinstance(record, dict) and {"name", "subset", "params"} <= set(record):
            records.append((line_no, record))
        elif strict and line.strip() and line_no != last:
            raise HmtirError(
                f"{path} line {line_no}: not a synthesis record (a JSON object with name, subset and params)"
            )
    return records


def _to_json(record: dict[str, Any]) -> str:
    """One manifest line; NaN and Infinity are not JSON, so a record holding them is a bug, never a line."""
    return json.dumps(record, sort_keys=True, allow_nan=False) + "\n"


def _writable(record: dict[str, Any]) -> bool:
    try:
        _to_json(record)
    except (TypeError, ValueError):
        return False
    return True


def _read_manifest(path: Path) -> list[dict[str, Any]]:
    """The well-formed records of an output folder's own manifest (what resuming compares against).

    Anything else (a torn line, a hand-edited block, a NaN) is not trusted as done: that output is redone.
    """
    return [
        record
        for _, record in _manifest_lines(path)
        if isinstance(record["name"], str) and isinstance(record["subset"], str)
        if record.get("preset") in PRESET_TO_SUBSET and PRESET_TO_SUBSET[record["preset"]] == record["subset"]
        if params_problem(record["params"], record["preset"]) is None and _writable(record)
    ]


def _material_problem(material: object) -> str | None:
    """Why a replayed ``seed_material`` (copied into the new manifest) is not what :func:`seed_material` makes."""
    if material is None or (
        isinstance(material, list)
        and len(material) == 3
        and all(type(v) is int and 0 <= v < 2**64 for v in material)
    ):
        return None
    return f"seed_material must be three whole numbers from 0 to 2**64-1, got {shown(material)}"


def _replay_plan(path: Path) -> tuple[dict[str, str], dict[str, list[tuple[str, dict | None]]]]:
    """Validate every record of a manifest to replay (see the module docstring) before any work starts."""
    records = _manifest_lines(path, strict=True)
    if not records:
        raise HmtirError(f"manifest {path} is missing or holds no synthesis records")
    sources: dict[str, str] = {}
    work: dict[str, list[tuple[str, dict | None]]] = {}
    seen: dict[tuple[str, str], int] = {}
    for line_no, record in records:
        origin = f"{path} line {line_no}"
        name = check_name(record["name"], origin)
        if Path(name).suffix.lower() not in LOSSLESS_SUFFIXES:
            raise HmtirError(
                f"{origin}: refusing entry {ascii(name)}: degraded frames are written losslessly "
                f"({', '.join(LOSSLESS_SUFFIXES)})"
            )
        source = check_name(record.get("source", name), origin)
        subset, preset = record["subset"], record.get("preset")
        if not isinstance(subset, str) or (preset is None and subset not in SUBSETS):
            raise HmtirError(f"{origin}: unknown subset {ascii(subset)} (subsets: {', '.join(SUBSETS)})")
        if preset is None:
            preset = SUBSETS[subset].preset
        if not isinstance(preset, str) or preset not in PRESET_TO_SUBSET:
            raise HmtirError(
                f"{origin}: unknown degradation preset {ascii(preset)} "
                f"(subset presets: {', '.join(PRESET_TO_SUBSET)})"
            )
        if subset != PRESET_TO_SUBSET[preset]:
            raise HmtirError(
                f"{origin}: subset {ascii(subset)} is not the subset of preset {ascii(preset)} "
                f"({PRESET_TO_SUBSET[preset]})"
            )
        if (name, subset) in seen:
            raise HmtirError(
                f"{path}: {ascii(name)} ({subset}) is recorded twice (lines {seen[name, subset]} and {line_no})"
            )
        seen[name, subset] = line_no
        if sources.setdefault(name, source) != source:
            raise HmtirError(
                f"{path}: {ascii(name)} is made from both {ascii(sources[name])} and {ascii(source)}"
            )
        problem = params_problem(record["params"], preset)
        if problem is not None:
            what = (
                "" if problem.startswith("params") else f"params of {ascii(name)} ({subset}) are malformed: "
            )
            raise HmtirError(f"{origin}: {what}{problem}")
        if record.get("seed") is not None:
            check_seed(record["seed"], f"{origin}: seed")
        problem = _material_problem(record.get("seed_material"))
        if problem is not None:
            raise HmtirError(f"{origin}: {problem}")
        work.setdefault(name, []).append((preset, record))
    return sources, work


def _remove_partials(out: Path, folders: Iterable[str]) -> None:
    """Delete temporary files left by a killed run (atomic writes name them ``.<name>.*.part*``)."""
    for folder in folders:
        directory = out / folder
        if directory.is_dir():
            for stray in directory.glob(".*.part*"):
                stray.unlink(missing_ok=True)


def _resolve_presets(presets: object) -> list[str]:
    """The presets to make, in file order; an empty selection is refused (it would write nothing)."""
    if isinstance(presets, str):
        names = [presets]
    elif isinstance(presets, (list, tuple, set, frozenset)):
        names = list(presets)
    else:
        raise HmtirError(f"--preset must be a preset name or a list of them, got {shown(presets)}")
    choices = ", ".join(("all", *PRESET_TO_SUBSET))
    if not names:
        raise HmtirError(f"--preset must name at least one preset ({choices})")
    for name in names:
        if isinstance(name, str) and not name.strip():
            raise HmtirError(f"--preset names an empty preset {ascii(name)} ({choices})")
    if "all" in names:
        return list(DEFAULT_PRESETS)
    for name in names:
        load_preset(name)
        if name not in PRESET_TO_SUBSET:
            raise HmtirError(
                f"preset '{name}' has no HM-TIR subset (subset presets: {', '.join(PRESET_TO_SUBSET)})"
            )
    return sorted(set(names), key=list(preset_names()).index)


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or None. A FIFO, socket or device (or a link to one) is refused
    by name: opening a FIFO blocks until someone writes to it, and a device can be endless."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "does not exist"
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    return None if stat.S_ISREG(info.st_mode) else "is not a regular file"


def _source_scenes(source: Path, scenes: Mapping[str, str] | None) -> dict[str, str]:
    listing = source / SCENES_FILE
    if os.path.lexists(listing) and _file_problem(listing) is not None:
        raise HmtirError(f"{listing} {_file_problem(listing)}")
    found = read_scene_list(listing) if listing.is_file() else {}
    found.update(scenes or {})
    return {output_name(name): scene for name, scene in found.items()}


def _plan(
    source: Path, presets: list[str], from_manifest: Path | None
) -> tuple[dict[str, str], dict[str, list[tuple[str, dict | None]]]]:
    """output name → source name, and output name → [(preset, manifest record to replay or None)]."""
    if from_manifest is not None:
        return _replay_plan(from_manifest)
    names = list_images(source)
    if not names:
        raise HmtirError(f"no images (.png/.jpg/.bmp/.tif) in source folder {source}")
    sources: dict[str, str] = {}
    for name in names:
        out_name = output_name(check_name(name, source))
        if out_name in sources:
            raise HmtirError(
                f"{source}: '{sources[out_name]}' and '{name}' would both be written as '{out_name}'"
            )
        sources[out_name] = name
    return sources, {name: [(p, None) for p in presets] for name in sources}


def _is_done(
    existing: dict[str, Any] | None, preset: str, replay: dict | None, seed: int, gate: float
) -> bool:
    if existing is None:
        return False
    if replay is not None:
        return existing["params"] == replay["params"]
    p = load_preset(preset)
    return (
        existing.get("seed") == seed
        and existing["params"].get("gate") == p.effective_gate(gate)
        and existing["params"].get("preset_version") == p.version
    )


def synthesize(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    presets: Sequence[str] | str = DEFAULT_PRESETS,
    gate: float = 0.8,
    seed: int = 0,
    workers: int = 1,
    from_manifest: str | os.PathLike[str] | None = None,
    scenes: Mapping[str, str] | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthesisReport:
    """Degrade every frame of ``source`` into the HM-TIR layout under ``out`` (see module docstring).

    Every argument is checked as the CLI checks its options (one :class:`HmtirError` line naming it), and
    every input file before anything is written. ``out`` follows the output-folder rule of
    :func:`hmtir.io.safety.check_output_folder` (a non-empty folder hmtir did not create needs ``overwrite``).
    """
    source, out = _path_argument(source, "--source"), _path_argument(out, "--out")
    if not source.is_dir():
        if os.path.lexists(source):
            raise HmtirError(f"--source {source} is not a folder (pass --source DIR with clean frames)")
        raise HmtirError(f"source folder {source} does not exist (pass --source DIR with clean frames)")
    for folder in (out, *(out / sub for sub in (CLEAN_DIR, META_DIR, *SUBSETS))):
        output_folder(folder, "--out")
    check_output_folder(
        out, overwrite=overwrite, own=lambda tree: (tree / META_DIR / MANIFEST_FILE).is_file()
    )
    if out.resolve() == source.resolve():
        raise HmtirError(f"--out {out} must differ from --source")
    gate = check_gate(gate)
    seed = check_seed(seed, "--seed")
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise HmtirError(f"--workers must be a whole number of at least 1, got {workers!r}")
    workers = int(workers)
    manifest_in = None if from_manifest is None else _path_argument(from_manifest, "--from-manifest")
    if manifest_in is not None and os.path.lexists(manifest_in) and _file_problem(manifest_in) is not None:
        raise HmtirError(f"manifest {manifest_in} {_file_problem(manifest_in)}")
    preset_list = _resolve_presets(presets)
    sources, work = _plan(source, preset_list, manifest_in)
    for src in sources.values():
        problem = _file_problem(source / src)
        if problem is not None:
            named = (
                " named in the manifest" if manifest_in is not None and problem == "does not exist" else ""
            )
            raise HmtirError(f"source image {source / src}{named} {problem}")
    scene_map = _source_scenes(source, _scenes_argument(scenes))
    with _writing(out):
        mark_output_folder(out)
        return _synthesize(
            out, source, sources, work, preset_list, manifest_in, scene_map, seed, gate, workers, progress
        )


def _path_argument(value: object, option: str) -> Path:
    """A path given to the API as the CLI would: text or a path object, not empty (``""`` would mean ".")."""
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text)
    raise HmtirError(
        f"{option} must be a path, got {shown(value) if isinstance(value, str) else repr(value)}"
    )


def _scenes_argument(scenes: object) -> dict[str, str]:
    """``scenes`` (image name → scene label) checked like a ``scenes.csv``: plain names, text labels."""
    if scenes is None:
        return {}
    if not isinstance(scenes, Mapping):
        raise HmtirError(f"scenes must map image names to scene labels, got {type(scenes).__name__}")
    for name, label in scenes.items():
        check_name(name, "scenes")
        if not isinstance(label, str) or not label.isprintable():
            raise HmtirError(f"scenes: the label of {ascii(name)} must be printable text, got {ascii(label)}")
    return dict(scenes)


@contextmanager
def _writing(out: Path) -> Iterator[None]:
    """The operating system refusing a write (read-only file system, full disk) is one line naming the path.

    Every image and list is written atomically and a manifest line only after its image, so whatever was
    finished before the refusal is complete, and a rerun resumes from it.
    """
    try:
        yield
    except OSError as err:
        where = err.filename if err.filename is not None else out
        raise HmtirError(f"cannot write {where}: {err.strerror or err}") from None


def _synthesize(
    out: Path,
    source: Path,
    sources: dict[str, str],
    work: dict[str, list[tuple[str, dict | None]]],
    preset_list: list[str],
    manifest_in: Path | None,
    scene_map: dict[str, str],
    seed: int,
    gate: float,
    workers: int,
    progress: bool,
) -> SynthesisReport:
    """The writing half of :func:`synthesize`, on checked arguments."""
    meta = out / META_DIR
    manifest_path = meta / MANIFEST_FILE
    _remove_partials(out, [CLEAN_DIR, META_DIR, *SUBSETS])
    previous = {(r["name"], r["subset"]): r for r in _read_manifest(manifest_path)}

    jobs, skipped = [], 0
    for name, items in work.items():
        pending = []
        for preset, replay in items:
            subset = PRESET_TO_SUBSET[preset]
            done = _is_done(previous.get((name, subset)), preset, replay, seed, gate)
            if done and (out / subset / name).is_file():
                skipped += 1
            else:
                pending.append((preset, replay))
        write_clean = not (out / CLEAN_DIR / name).is_file()
        if pending or write_clean:
            origin = str(manifest_in or "")
            jobs.append(
                _Job(source / sources[name], out, name, write_clean, tuple(pending), seed, gate, origin)
            )

    meta.mkdir(parents=True, exist_ok=True)
    fresh: list[dict[str, Any]] = []
    with (
        manifest_path.open("a", encoding="utf-8") as log,
        _progress(progress, len(work), len(jobs)) as advance,
    ):
        for records in _execute(jobs, workers):
            for record in records:
                log.write(_to_json(record))
            log.flush()
            fresh.extend(records)
            advance()

    final = dict(previous)
    final.update({(r["name"], r["subset"]): r for r in fresh})
    order = {subset: i for i, subset in enumerate(SUBSETS)}
    ordered = sorted(final.values(), key=lambda r: (r["name"], order.get(r["subset"], 99)))
    _write_meta(out, ordered, sources, scene_map, seed, gate, preset_list, source, manifest_in)
    return _report(out, ordered, set(work), len(fresh), skipped)


def _execute(jobs: list[_Job], workers: int) -> Iterable[list[dict[str, Any]]]:
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield _run_job(job)
        return
    from hmtir.parallel import process_pool, single_threaded

    with process_pool(workers, initializer=single_threaded) as pool:
        futures = [pool.submit(_run_job, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


@contextmanager
def _progress(enabled: bool, total: int, todo: int) -> Iterator[Callable[[], None]]:
    """Advanced once per finished image: a bar on a terminal, periodic lines in a log (hmtir.console)."""
    from hmtir.console import progress as console_progress

    with console_progress(enabled, label="synthesizing") as bar:
        task = bar.add_task("synthesizing", total=total, completed=total - todo)
        yield lambda: bar.advance(task)


def _agreed(values: set[Any], default: Any) -> Any:
    """The one value every record shares, ``default`` when there are no records, None when they differ."""
    return default if not values else next(iter(values)) if len(values) == 1 else None


def _write_meta(
    out: Path,
    records: list[dict[str, Any]],
    sources: dict[str, str],
    scene_map: dict[str, str],
    seed: int,
    gate: float,
    presets: list[str],
    source: Path,
    manifest_in: Path | None,
) -> None:
    meta = out / META_DIR
    atomic_write_text(meta / MANIFEST_FILE, "".join(map(_to_json, records)))
    atomic_write_text(meta / "test.txt", "".join(f"{name}\n" for name in sorted(sources)))
    labelled = {name: scene_map[name] for name in sorted(sources) if name in scene_map}
    if labelled:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["name", "scene"])
        writer.writerows(labelled.items())
        atomic_write_text(meta / SCENES_FILE, buffer.getvalue())
    # what the images were made with: a replayed manifest or an earlier run into this folder may differ
    # from this call's arguments; null when the records disagree (each record keeps its own)
    gates = {r["params"]["gate"] for r in records if load_preset(r["preset"]).gate is None}
    seeds = {r["seed"] for r in records if isinstance(r.get("seed"), int)}
    provenance = {
        "generator": "hmtir.synthesize",
        "hmtir_version": __version__,
        "seed": _agreed(seeds, seed if manifest_in is None else None),
        "gate": _agreed(gates, gate if manifest_in is None else None),
        "presets": [p for p in preset_names() if any(r["preset"] == p for r in records)],
        "preset_version": load_preset("hard").version,
        "source": str(source.resolve()),
        "from_manifest": str(manifest_in.resolve()) if manifest_in else None,
        "images": len(sources),
    }
    atomic_write_text(meta / DATASET_FILE, json.dumps(provenance, indent=2, allow_nan=False) + "\n")


def _report(
    out: Path, records: list[dict[str, Any]], names: set[str], written: int, skipped: int
) -> SynthesisReport:
    report = SynthesisReport(out=out, images=len(names), written=written, skipped=skipped)
    for subset in SUBSETS:
        stats = [r["stats"] for r in records if r["subset"] == subset and r["name"] in names]
        if stats:
            report.subsets[subset] = SubsetSummary(
                images=len(stats),
                mean_psnr=float(np.mean([s["psnr"] for s in stats if s["psnr"] is not None] or [np.inf])),
                mean_grey_shift=float(np.mean([s["grey_shift"] for s in stats])),
            )
    return report
