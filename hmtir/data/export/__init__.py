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

One module per stage: :mod:`~hmtir.data.export.tree` reads the tree (provenance, split lists, manifest
records conformed to :mod:`~hmtir.data.export.schema`'s typed features), :mod:`~hmtir.data.export.attribution`
finds the source and licence of the clean frames, :mod:`~hmtir.data.export.parquet` writes the shards,
:mod:`~hmtir.data.export.card` renders README.md and :mod:`~hmtir.data.export.push` uploads the folder.
This module runs them in order into a hidden sibling folder that becomes ``OUT`` only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hmtir.data.export.attribution import PROCEDURAL, Attribution, attribution
from hmtir.data.export.card import ExportReport, render_card
from hmtir.data.export.parquet import MAX_SHARD_BYTES, SplitSummary, write_split
from hmtir.data.export.push import hub_token, push_hf
from hmtir.data.export.schema import (
    CLEAN,
    DEGRADED,
    clean_features,
    degraded_features,
    manifest_record,
    split_name,
)
from hmtir.data.export.tree import plan_splits, read_manifest, read_provenance
from hmtir.data.layout import manifest_hash, parse_subsets
from hmtir.errors import HmtirError
from hmtir.io.atomic import temp_prefix
from hmtir.io.safety import check_output_folder
from hmtir.vocabulary import SUBSETS

__all__ = [
    "PROCEDURAL",
    "Attribution",
    "ExportReport",
    "SplitSummary",
    "attribution",
    "export_hf",
    "hub_token",
    "manifest_record",
    "push_hf",
    "render_card",
    "split_name",
]


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

    # never the root, never "" (the current folder); an existing out at all is refused below unless overwrite
    check_output_folder(out, overwrite=True)
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise HmtirError(f"{root} is not a directory")
    _check_out(root, out, overwrite)
    chosen = parse_subsets(",".join(subsets)) if subsets else [s for s in SUBSETS if (root / s).is_dir()]
    if not chosen:
        raise HmtirError(f"{root} has no subset folders ({', '.join(SUBSETS)}); is it an HM-TIR tree?")
    provenance = read_provenance(root)
    credit = attribution(root, provenance, source)
    manifest = read_manifest(root)
    planned, missing = plan_splits(root, chosen, manifest)
    features = {DEGRADED: degraded_features(), CLEAN: clean_features()}

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name, "export-"), dir=out.parent))
    try:
        with progress_bar(progress) as bar:
            task = bar.add_task("exporting", total=sum(len(p.rows) for p in planned))
            splits = [
                write_split(staging, part, features[part.config], max_shard_bytes, lambda: bar.advance(task))
                for part in planned
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
        old = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name, "old-"), dir=out.parent)) / "previous"
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
