"""The dataset card (README.md): YAML front matter (licence, task, size, configs, typed features), then
what it is, the licence and attribution of the source frames, the synthesis, and the citation."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from string import Template
from typing import Any

from hmtir.data.export.attribution import Attribution
from hmtir.data.export.parquet import SplitSummary
from hmtir.data.export.schema import CLEAN, DEGRADED, op_fields

CARD_TEMPLATE = Path(__file__).with_name("dataset_card.md")
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


@dataclass
class ExportReport:
    out: Path
    splits: list[SplitSummary]
    attribution: Attribution
    without_params: int  # degraded rows whose parameters are not recorded
    provenance: dict[str, Any] | None = None
    subsets: list[str] = field(default_factory=list)


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
    (hmtir.leaderboard.tables.markdown_text does the same but imports torch through the leaderboard.)"""
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
