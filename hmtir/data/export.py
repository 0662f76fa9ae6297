"""Export an HM-TIR tree as a Hugging Face dataset repository, and push it to the Hub.

    OUT/README.md                                  dataset card: YAML front matter (licence, task, size,
                                                   configs, typed features) + what it is, licence and
                                                   attribution of the source frames, synthesis, citation
    OUT/degraded/<split>-00000-of-0000N.parquet    one row per (frame, subset), one split per subset
    OUT/clean/<split>-00000-of-0000N.parquet       each clean frame once (splits ``test`` and ``train``)

The layout is the one ``push_to_hub`` writes (Parquet shards named by the card's ``configs``), so
``datasets.load_dataset(OUT, "degraded")`` reads it locally and the Hub's viewer reads it once pushed.
Images are the files' own bytes (never re-encoded). A degraded row names its clean target in ``name``;
the target is stored once, in ``clean``, instead of once per subset.

Degradation parameters are typed columns (``params.ops.blur.sigma`` is a float64, ``applied`` a bool),
not a JSON string. Their schema comes from the code, not from the data: each registered op samples once
on the ranges of a preset that uses it, and the Python types of what it returns become the fields. A
manifest record with an unknown field or a value of the wrong type is refused in one line naming its
line, so a row always holds exactly what the manifest recorded.

The licence and attribution of the source frames come from the tree: ``meta/dataset.json`` names the
folder the clean frames were synthesised from, which is matched against the download registry
(:mod:`hmtir.data.sources`: HM-TIR, HIT-UAV, ...) and hmtir's procedural scenes; a tree without
``dataset.json`` has the layout of the official HM-TIR release. ``source=`` states it instead.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from string import Template
from typing import Any

from hmtir.data.layout import (
    CLEAN_DIR,
    DATASET_FILE,
    MANIFEST_FILE,
    META_DIR,
    manifest_hash,
    parse_subsets,
    read_scenes,
    split_names,
)
from hmtir.errors import HmtirError
from hmtir.vocabulary import SUBSETS

CARD_TEMPLATE = Path(__file__).with_name("dataset_card.md")
DEGRADED, CLEAN = "degraded", "clean"  # the two configs
MAX_SHARD_BYTES = 500 << 20  # push_to_hub's default shard size (datasets.config.MAX_SHARD_SIZE, "500MB")
#: rows per Parquet row group: 64 raw 640x512 16-bit frames are 42 MB, under datasets' 100MB row-group cap
ROW_GROUP_ROWS = 64
PROCEDURAL = "hmtir-scenes"  # the procedural scenes of hmtir.data.scenes, as a ``source``
#: the fields of a manifest record (written by hmtir.degrade.synthesize), in column order
RECORD_FIELDS = ("source", "bit_depth", "seed", "seed_material", "params", "stats")
_HF_LICENSES = {"cc by 4.0": "cc-by-4.0", "cc-by-4.0": "cc-by-4.0", "mit": "mit", "apache-2.0": "apache-2.0"}
_NETWORK_PACKAGES = {"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3"}
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def split_name(subset: str) -> str:
    """``composited/normal`` → ``composited_normal`` (split names cannot hold '/')."""
    return subset.replace("/", "_")


# ---------------------------------------------------------------------------------------------- schema


def _feature_of(value: Any) -> Any:
    import datasets

    for kind, dtype in ((bool, "bool"), (int, "int64"), (float, "float64"), (str, "string")):
        if isinstance(value, kind):
            return datasets.Value(dtype)
    raise TypeError(f"an op sampled a {type(value).__name__}; the export knows bool, int, float and str")


@functools.lru_cache(maxsize=1)
def op_fields() -> dict[str, dict[str, Any]]:
    """op → {field: datasets.Value}, in cascade order: what each registered op's ``sample`` returns."""
    import numpy as np

    from hmtir.degrade.ops import OPS
    from hmtir.degrade.presets import load_preset, preset_names

    presets = [load_preset(name) for name in preset_names()]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(OPS.names(), key=lambda op: OPS.meta(op).order):
        ranges = next((p.ranges[name] for p in presets if name in p.ranges), None)
        if ranges is None:  # no preset uses it, so no manifest can hold it
            continue
        sample = OPS.create(name).sample(np.random.default_rng(0), ranges, (64, 64))
        out[name] = {"applied": _feature_of(True), **{k: _feature_of(v) for k, v in sample.items()}}
    return out


def degraded_features() -> Any:
    """The ``degraded`` config's schema: identity, prompts, the image and the typed synthesis record."""
    import datasets

    text, f64, i64 = datasets.Value("string"), datasets.Value("float64"), datasets.Value("int64")
    return datasets.Features(
        {
            "name": text,
            "scene": text,
            "subset": text,
            "degradation": text,
            "scenario": text,
            "preset": text,
            "image": datasets.Image(),
            "source": text,
            "bit_depth": i64,
            "seed": i64,
            "seed_material": datasets.List(datasets.Value("uint64")),
            "params": {
                "preset": text,
                "preset_version": i64,
                "gate": f64,
                "shape": datasets.List(i64),
                "ops": {op: dict(fields) for op, fields in op_fields().items()},
            },
            "stats": {"psnr": f64, "grey_shift": f64},
        }
    )


def clean_features() -> Any:
    import datasets

    return datasets.Features(
        {"name": datasets.Value("string"), "scene": datasets.Value("string"), "image": datasets.Image()}
    )


_LIMITS = {"int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def _conform(value: Any, feature: Any, where: str) -> Any:
    """``value`` checked against ``feature`` (floats may be written as ints); None is always allowed."""
    import datasets

    if value is None:
        return None
    if isinstance(feature, dict):
        if not isinstance(value, dict):
            raise HmtirError(f"{where} is {type(value).__name__}, expected a mapping")
        unknown = sorted(set(value) - set(feature))
        if unknown:
            raise HmtirError(f"{where} has unknown field {ascii(unknown[0])} (not in hmtir's schema)")
        return {key: _conform(value.get(key), sub, f"{where}.{key}") for key, sub in feature.items()}
    if isinstance(feature, datasets.List):
        if not isinstance(value, list):
            raise HmtirError(f"{where} is {type(value).__name__}, expected a list")
        return [_conform(v, feature.feature, f"{where}[{i}]") for i, v in enumerate(value)]
    dtype = feature.dtype
    ok = {
        "bool": isinstance(value, bool),
        "string": isinstance(value, str),
        "float64": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(dtype, isinstance(value, int) and not isinstance(value, bool))
    if ok and dtype in _LIMITS:
        ok = _LIMITS[dtype][0] <= value <= _LIMITS[dtype][1]
    if not ok:
        raise HmtirError(f"{where} is {ascii(value)[:40]}, expected {dtype}")
    return float(value) if dtype == "float64" else value


def manifest_record(row: dict[str, Any]) -> dict[str, Any]:
    """The manifest record a ``degraded`` row was made from (ops a preset does not use dropped)."""
    record = {key: row[key] for key in ("name", "subset", "preset", *RECORD_FIELDS)}
    if record["params"] is not None:
        ops = {op: p for op, p in record["params"]["ops"].items() if p is not None}
        record["params"] = {**record["params"], "ops": ops}
    return record


def read_manifest(root: Path) -> dict[tuple[str, str], dict[str, Any]] | None:
    """(name, subset) → the record's fields conformed to the schema; None when the tree has no manifest."""
    path = root / META_DIR / MANIFEST_FILE
    if not path.is_file():
        return None
    schema = degraded_features()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {line_no}"
        try:
            record = json.loads(line)
            key = (record["name"], record["subset"])
        except (ValueError, KeyError, TypeError):
            raise HmtirError(f"{where} is not a manifest record") from None
        if not all(isinstance(k, str) for k in key):
            raise HmtirError(f"{where}: name and subset must be text")
        unknown = sorted(set(record) - {"name", "subset", "preset", *RECORD_FIELDS})
        if unknown:
            raise HmtirError(
                f"{where}: the record has unknown field {ascii(unknown[0])} (not in hmtir's schema)"
            )
        fields = {k: _conform(record.get(k), schema[k], f"{where}: {k}") for k in ("preset", *RECORD_FIELDS)}
        out[key] = fields
    return out


# ----------------------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Attribution:
    """Where the clean frames come from, under what licence, and how that was found out."""

    source: str | None  # a source registry name, PROCEDURAL, or None (unknown)
    summary: str
    license: str
    citation: str | None
    how: str  # how the source was identified
    official: bool = False  # the degraded frames are the official HM-TIR release's, not hmtir's

    @property
    def hf_license(self) -> str:
        """The Hub's licence id: a known SPDX-like id, ``other`` (terms elsewhere) or ``unknown``."""
        if self.source is None:
            return "unknown"
        return _HF_LICENSES.get(self.license.split("(")[0].strip().lower(), "other")

    @property
    def license_link(self) -> str | None:
        found = re.search(r"github\.com/[\w.-]+/[\w.-]+", self.license)
        return f"https://{found.group(0)}" if found else None


def _registry_attribution(name: str, how: str, official: bool = False) -> Attribution:
    from hmtir.data.sources import load_sources

    meta = load_sources().meta(name)
    return Attribution(
        meta.name, meta.summary, meta.license or "not stated", meta.citation, how, official=official
    )


def _procedural(how: str) -> Attribution:
    return Attribution(
        PROCEDURAL,
        "procedural TIR scenes rendered by hmtir.data.scenes, no real data",
        "MIT (hmtir, the code that renders them)",
        None,
        how,
    )


def attribution(root: Path, provenance: dict[str, Any] | None, source: str | None = None) -> Attribution:
    """Identify the source of ``root``'s clean frames (``source`` names it instead: a registry entry or
    ``hmtir-scenes``)."""
    from hmtir.data.sources import load_sources

    registry = load_sources()
    datasets_ = [meta for meta in (e.meta for e in registry) if meta.kind == "dataset"]
    if source is not None:
        if source == PROCEDURAL:
            return _procedural("stated by the exporter (--source)")
        names = [m.name for m in datasets_]
        if source not in names:
            raise HmtirError(f"unknown source '{source}' (datasets: {', '.join([*names, PROCEDURAL])})")
        return _registry_attribution(source, "stated by the exporter (--source)")
    if provenance is None:
        return _registry_attribution(
            "hm-tir", "the tree has no meta/dataset.json: the layout of the official HM-TIR release", True
        )
    recorded = str(provenance.get("source") or "")
    parts = set(PurePath(recorded).parts)
    for meta in datasets_:
        folders = {meta.name} | {f.folder for f in meta.files if f.extract}
        hit = sorted(parts & folders)
        if hit:
            return _registry_attribution(
                meta.name,
                f"meta/dataset.json: the frames were read from a folder named {hit[0]},"
                " as hmtir download unpacks it",
            )
    scenes = read_scenes(root)
    names = [name for split in _split_lists(root) for name in split]
    if names and _all_procedural({name: scenes.get(name, "") for name in names}):
        return _procedural("meta/scenes.csv: every frame is a procedural scene named after its category")
    folder = PurePath(recorded).name or "?"
    return Attribution(None, f"frames from a folder '{folder}'", "not recorded", None, "not recorded")


def _all_procedural(scenes: dict[str, str]) -> bool:
    from hmtir.data.scenes import SCENE_CATEGORIES

    return all(
        label in SCENE_CATEGORIES and re.fullmatch(rf"{re.escape(label)}_\d{{3}}\.png", name)
        for name, label in scenes.items()
    )


# ---------------------------------------------------------------------------------------------- export


@dataclass
class SplitSummary:
    config: str
    split: str
    rows: int
    shards: int
    bytes: int  # Parquet bytes on disk
    arrow_bytes: int = 0  # in-memory size (the card's num_bytes)


@dataclass
class ExportReport:
    out: Path
    splits: list[SplitSummary]
    attribution: Attribution
    without_params: int  # degraded rows whose parameters are not recorded
    provenance: dict[str, Any] | None = None
    subsets: list[str] = field(default_factory=list)


@dataclass
class _Split:
    config: str
    split: str
    rows: list[dict[str, Any]]  # "image" holds the file's Path until written
    size: int  # bytes of the image files


def _read_provenance(root: Path) -> dict[str, Any] | None:
    path = root / META_DIR / DATASET_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise HmtirError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(doc, dict):
        raise HmtirError(f"{path} must hold a JSON object")
    return doc


def _file(path: Path, root: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        raise HmtirError(f"{path} is missing; run `hmtir verify {root}`") from None


def _split_lists(root: Path) -> tuple[list[str], list[str]]:
    """The test names (every clean frame without a list) and the train names (none without a list)."""
    test = split_names(root, "test")
    train = split_names(root, "train") if (root / META_DIR / "train.txt").is_file() else []
    both = sorted(set(test) & set(train))
    if both:
        raise HmtirError(f"{root / META_DIR}: {ascii(both[0])} is in both train.txt and test.txt")
    return test, train


def _plan(root: Path, chosen: list[str], manifest: dict | None) -> tuple[list[_Split], int]:
    scenes = read_scenes(root)
    test, train = _split_lists(root)
    plan, missing = [], 0
    for subset in chosen:
        info, rows, size = SUBSETS[subset], [], 0
        for name in test:
            path = root / subset / name
            size += _file(path, root)
            record = (manifest or {}).get((name, subset))
            missing += record is None
            record = record or {"preset": info.preset, **dict.fromkeys(RECORD_FIELDS)}
            rows.append(
                {
                    "name": name,
                    "scene": scenes.get(name),
                    "subset": subset,
                    "degradation": info.degradation,
                    "scenario": info.scenario,
                    **record,
                    "image": path,
                }
            )
        plan.append(_Split(DEGRADED, split_name(subset), rows, size))
    for split, names in (("test", test), ("train", train)):
        if names:
            paths = [root / CLEAN_DIR / name for name in names]
            size = sum(_file(p, root) for p in paths)
            rows = [{"name": n, "scene": scenes.get(n), "image": p} for n, p in zip(names, paths)]
            plan.append(_Split(CLEAN, split, rows, size))
    return plan, missing


def _write_split(
    staging: Path, part: _Split, features: Any, max_shard_bytes: int, advance: Callable[[], None]
) -> SplitSummary:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, count = features.arrow_schema, len(part.rows)
    shards = max(1, min(count, math.ceil(part.size / max_shard_bytes)))
    bounds = [round(i * count / shards) for i in range(shards + 1)]
    folder = staging / part.config
    folder.mkdir(exist_ok=True)
    summary = SplitSummary(part.config, part.split, count, shards, 0)
    for shard in range(shards):
        path = folder / f"{part.split}-{shard:05d}-of-{shards:05d}.parquet"
        rows = part.rows[bounds[shard] : bounds[shard + 1]]
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, len(rows), ROW_GROUP_ROWS):
                batch = []
                for row in rows[start : start + ROW_GROUP_ROWS]:
                    # the row is already conformed to the schema; the image goes in as bytes, never as a
                    # path (Image.encode_example keeps only the path when a file of that name is in the cwd)
                    batch.append({**row, "image": _image(row["image"])})
                    advance()
                table = pa.Table.from_pylist(batch, schema=schema)
                summary.arrow_bytes += table.nbytes
                writer.write_table(table)
        summary.bytes += path.stat().st_size
    return summary


def _image(path: Path) -> dict[str, Any]:
    try:
        return {"bytes": path.read_bytes(), "path": path.name}
    except OSError as err:
        raise HmtirError(f"cannot read {path}: {err.strerror or err}") from None


def _check_out(root: Path, out: Path, overwrite: bool) -> None:
    real_root, real_out = Path(os.path.realpath(root)), Path(os.path.realpath(out))
    if real_out == real_root or real_root in real_out.parents or real_out in real_root.parents:
        raise HmtirError(f"--out {out} overlaps the tree {root}; choose a folder outside it")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise HmtirError(f"{out} already exists; choose another --out or pass --overwrite to replace it")


def export_hf(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    subsets: list[str] | None = None,
    *,
    overwrite: bool = False,
    source: str | None = None,
    repo: str | None = None,
    progress: bool = False,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> ExportReport:
    """Write ``root`` as a Hugging Face dataset folder at ``out`` (see the module docstring).

    ``out`` appears only when complete (built in a hidden sibling, then renamed); an existing ``out`` is
    replaced only with ``overwrite``. ``source`` names the source of the clean frames when the tree does
    not record it; ``repo`` is the Hub id the card's loading example uses.
    """
    from hmtir.console import progress as progress_bar

    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise HmtirError(f"{root} is not a directory")
    _check_out(root, out, overwrite)
    chosen = parse_subsets(",".join(subsets)) if subsets else [s for s in SUBSETS if (root / s).is_dir()]
    if not chosen:
        raise HmtirError(f"{root} has no subset folders ({', '.join(SUBSETS)}); is it an HM-TIR tree?")
    provenance = _read_provenance(root)
    credit = attribution(root, provenance, source)
    manifest = read_manifest(root)
    plan, missing = _plan(root, chosen, manifest)
    features = {DEGRADED: degraded_features(), CLEAN: clean_features()}

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        with progress_bar(progress) as bar:
            task = bar.add_task("exporting", total=sum(len(p.rows) for p in plan))
            splits = [
                _write_split(staging, part, features[part.config], max_shard_bytes, lambda: bar.advance(task))
                for part in plan
            ]
        report = ExportReport(out, splits, credit, missing if manifest is not None else 0, provenance, chosen)
        card = render_card(report, features, manifest_hash(root), manifest is not None, repo)
        (staging / "README.md").write_text(card, encoding="utf-8")
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _swap_in(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``; a previous ``out`` (``--overwrite``) is removed only afterwards."""
    old = None
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent)) / "previous"
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ card


def _size_category(rows: int) -> str:
    return next((label for limit, label in _SIZE_CATEGORIES if rows < limit), "n>1M")


def _front_matter(report: ExportReport, features: dict[str, Any], title: str) -> str:
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    credit = report.attribution
    extra = {}
    if credit.hf_license == "other":
        extra = {"license_name": f"{credit.source}-license", "license_link": credit.license_link}
    tags = ["thermal-infrared", "infrared", "image-restoration", "image-enhancement", "hm-tir"]
    data = DatasetCardData(
        license=credit.hf_license,
        pretty_name=title,
        task_categories=["image-to-image"],
        tags=tags if credit.official else [*tags, "synthetic"],
        size_categories=[_size_category(sum(s.rows for s in report.splits))],
        **{k: v for k, v in extra.items() if v},
    )
    configs, infos = {}, {}
    for config in (DEGRADED, CLEAN):
        splits = [s for s in report.splits if s.config == config]
        files = [{"split": s.split, "path": f"{config}/{s.split}-*.parquet"} for s in splits]
        configs[config] = {"data_files": files, **({"default": True} if config == DEGRADED else {})}
        split_dict = SplitDict()
        for s in splits:
            split_dict.add(SplitInfo(name=s.split, num_bytes=s.arrow_bytes, num_examples=s.rows))
        infos[config] = DatasetInfo(
            features=features[config],
            splits=split_dict,
            download_size=sum(s.bytes for s in splits),
            dataset_size=sum(s.arrow_bytes for s in splits),
            config_name=config,
        )
    MetadataConfigs(configs).to_dataset_card_data(data)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data.to_yaml()


def _cell(value: Any) -> str:
    """Text read from the tree as inert Markdown: one line, HTML as entities, link/code/cell marks escaped.
    (hmtir.leaderboard.render.markdown_text does the same but imports torch through the leaderboard.)"""
    flat = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(value)).split())
    return re.sub(r"([\\`*_\[\]|~$])", r"\\\1", html.escape(flat))


def _what_it_is(report: ExportReport) -> str:
    frames = next((s.rows for s in report.splits if s.config == DEGRADED), 0)
    kinds = ", ".join(f"`{s}`" for s in report.subsets)
    return (
        "Thermal-infrared (LWIR, 8–14 µm) image enhancement benchmark in the layout of HM-TIR"
        f" (NeurIPS 2025): {frames} test frames, each clean and degraded in {len(report.subsets)}"
        f" subset(s) ({kinds}), for paired restoration with the PSNR/SSIM protocol of the paper."
    )


def _attribution_text(credit: Attribution) -> str:
    if credit.source is None:
        return (
            f"**Not recorded.** The clean frames were read from a folder ({_cell(credit.summary)})"
            " that matches no entry of hmtir's source registry, so their licence is unknown. State it"
            " before publishing: re-export with `--source NAME` (an entry of `hmtir list sources`, or one"
            " added through `$HMTIR_SOURCES`)."
        )
    lines = [
        f"- **Source frames:** {_cell(credit.summary)} (`{credit.source}`).",
        f"- **Licence:** {_cell(credit.license)}.",
        f"- **Attribution:** {_cell(credit.citation)}." if credit.citation else "",
        f"- **How this was determined:** {_cell(credit.how)}.",
    ]
    if credit.official:
        lines.append(
            "- The clean and degraded frames are the HM-TIR authors' release, re-packaged unchanged."
        )
    else:
        lines.append(
            "- The degraded frames were synthesised from these frames by hmtir (changes: the degradation"
            " cascade below); the source licence applies to them as well."
        )
    return "\n".join(line for line in lines if line)


def _synthesis_text(report: ExportReport, digest: str | None) -> str:
    from hmtir.degrade.presets import load_preset, preset_names

    prov = report.provenance
    if prov is None:
        return (
            "Degraded by the HM-TIR authors with their released synthesis script; this tree records no"
            " hmtir provenance (`meta/dataset.json`). hmtir's `hard` preset reproduces the script's ranges."
        )
    known = set(preset_names())
    presets = [p for p in prov.get("presets") or [] if isinstance(p, str)]
    described = "; ".join(
        f"`{_cell(p)}`: {_cell(load_preset(p).summary.rstrip('.'))}" if p in known else f"`{_cell(p)}`"
        for p in presets
    )
    facts = [
        ("generator", prov.get("generator")),
        ("hmtir version", prov.get("hmtir_version")),
        ("seed", prov.get("seed")),
        ("gate (probability each op fires)", prov.get("gate")),
        ("presets", described or None),
        ("preset version", prov.get("preset_version")),
        (
            "replayed manifest",
            PurePath(str(prov["from_manifest"])).name if prov.get("from_manifest") else None,
        ),
        ("clean frames folder", PurePath(str(prov.get("source") or "")).name or None),
        ("manifest sha256", f"`{digest}`" if digest else None),
    ]
    rows = [
        f"| {label} | {value if label in ('presets', 'manifest sha256') else _cell(value)} |"
        for label, value in facts
        if value is not None
    ]
    rerun = (
        "Re-create the degraded frames exactly with `hmtir synthesize --from-manifest meta/manifest.jsonl`"
        " on the original tree; every sampled parameter is also in the `degraded` rows."
    )
    return "\n".join(["| | |", "|---|---|", *rows, "", rerun])


def render_card(
    report: ExportReport,
    features: dict[str, Any],
    digest: str | None,
    has_manifest: bool,
    repo: str | None = None,
) -> str:
    """The dataset card: YAML front matter, then the template filled from ``report``."""
    from hmtir import __version__
    from hmtir.degrade.ops import OPS

    credit = report.attribution
    title = (
        "HM-TIR benchmark"
        if credit.official
        else f"HM-TIR-style TIR benchmark ({credit.source or 'unknown'})"
    )
    split_table = "\n".join(
        f"| `{s.config}` | `{s.split}` | {s.rows} | "
        + ("a degraded frame + its parameters" if s.config == DEGRADED else "a clean frame")
        + " |"
        for s in report.splits
    )
    ops_table = "\n".join(
        f"| `{op}` | {OPS.meta(op).order} | {OPS.meta(op).step} | "
        + ", ".join(f"`{k}` ({v.dtype})" for k, v in fields.items())
        + f" | {_cell(OPS.meta(op).summary)} |"
        for op, fields in op_fields().items()
    )
    if has_manifest:
        params_text = (
            "Every `degraded` row carries the parameters sampled for it, as typed fields (not a JSON string),"
            " copied from the tree's `meta/manifest.jsonl`."
        )
        if report.without_params:
            params_text += f" {report.without_params} row(s) have no manifest record; their fields are null."
    else:
        params_text = (
            "This tree has no `meta/manifest.jsonl` (the official release does not publish its sampled"
            " parameters), so `params`, `seed` and `stats` are null; the schema is declared all the same."
        )
    citation = credit.citation if credit.citation and credit.source != "hm-tir" else None
    body = Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=title,
        what_it_is=_what_it_is(report),
        exporter_version=__version__,
        split_table=split_table,
        load_path=repo or "path/to/this/folder",
        params_text=params_text,
        ops_table=ops_table,
        attribution=_attribution_text(credit),
        synthesis=_synthesis_text(report, digest),
        source_citation=f"\nand the source of the frames: {_cell(citation)}\n" if citation else "",
    )
    return f"---\n{_front_matter(report, features, title)}\n---\n\n{body}"


# ------------------------------------------------------------------------------------------------ push


def hub_token(repo: str, token: str | None = None) -> str:
    """Check ``repo`` is a valid Hub id and find a token (``token``, ``$HF_TOKEN``, ``hf auth login``)."""
    from huggingface_hub import get_token
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except ValueError as err:
        raise HmtirError(f"cannot push to '{repo}': not a Hub repo id ({str(err).splitlines()[0]})") from None
    if "/" not in repo:
        raise HmtirError(f"cannot push to '{repo}': name the owner too (OWNER/NAME)")
    found = token or get_token()
    if not found:
        raise HmtirError(
            f"cannot push to Hugging Face dataset {repo}: no token (set HF_TOKEN or run `hf auth login`)"
        )
    return found


def push_hf(
    folder: str | os.PathLike[str],
    repo: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload HM-TIR export (hmtir export --format hf)",
) -> str:
    """Upload an exported folder to the dataset repo ``repo`` (created if needed); returns its URL.

    The endpoint is ``$HMTIR_HF_ENDPOINT``, else ``$HF_ENDPOINT``, else huggingface.co. Any failure is one
    line naming the repo, and says how to retry the upload of the (complete) folder.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from hmtir.data.sources import hf_endpoint

    folder = Path(folder)
    token = hub_token(repo, token)
    api = HfApi(endpoint=hf_endpoint(), token=token)
    retry = f"the export {folder} is complete: retry with `hf upload {repo} {folder} --repo-type dataset`"
    try:
        url = api.create_repo(repo, repo_type="dataset", exist_ok=True, private=private)
        api.upload_folder(
            repo_id=repo, repo_type="dataset", folder_path=folder, commit_message=commit_message
        )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        detail = " ".join((err.server_message or str(err)).split())[:200]
        hint = {401: " (the token was refused)", 403: " (no write access)"}.get(status, "")
        raise HmtirError(
            f"push to Hugging Face dataset {repo} failed: HTTP {status}{hint}: {detail}; {retry}"
        ) from None
    except Exception as err:  # network, invalid card metadata, disk; anything else is a bug: raised
        if not isinstance(err, (OSError, ValueError)) and not _is_network_error(err):
            raise
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise HmtirError(
            f"push to Hugging Face dataset {repo} failed: {type(err).__name__}: {detail}; {retry}"
        ) from None
    return str(url)


def _is_network_error(err: BaseException) -> bool:
    """Raised by the HTTP stack under huggingface_hub (requests, httpx or httpx2, by version)."""
    return any(cls.__module__.split(".")[0] in _NETWORK_PACKAGES for cls in type(err).__mro__)
