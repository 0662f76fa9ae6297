"""Export an HM-TIR tree as a Hugging Face ``datasets`` DatasetDict (one split per subset).

Images are embedded as encoded bytes (not paths), so the saved dataset is self-contained and decodes to
exactly the files' pixels. Sampled degradation parameters travel as a JSON string column because their
keys differ between presets.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hmtir.data.layout import CLEAN_DIR, MANIFEST_FILE, META_DIR, read_scenes, split_names
from hmtir.errors import HmtirError
from hmtir.vocabulary import SUBSETS


def split_name(subset: str) -> str:
    """``composited/normal`` → ``composited_normal`` (split names cannot hold '/')."""
    return subset.replace("/", "_")


def _manifest(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    path = root / META_DIR / MANIFEST_FILE
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if path.is_file():
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out[(record["name"], record["subset"])] = record
            except (ValueError, KeyError, TypeError):
                raise HmtirError(f"{path} line {line_no} is not a manifest record") from None
    return out


def export_hf(root: str | Path, out: str | Path, subsets: list[str] | None = None) -> Path:
    """Write ``root`` as a DatasetDict to ``out`` with ``save_to_disk``; ``out`` appears only when complete."""
    import datasets

    root, out = Path(root), Path(out)
    if out.exists():
        raise HmtirError(f"{out} already exists; choose another --out or delete it")
    names = split_names(root, "test")
    scenes = read_scenes(root)
    manifest = _manifest(root)
    chosen = subsets or [s for s in SUBSETS if (root / s).is_dir()]
    if not chosen:
        raise HmtirError(f"{root} has no subset folders ({', '.join(SUBSETS)}); is it an HM-TIR tree?")
    features = datasets.Features(
        {
            "name": datasets.Value("string"),
            "scene": datasets.Value("string"),
            "subset": datasets.Value("string"),
            "degradation": datasets.Value("string"),
            "scenario": datasets.Value("string"),
            "params": datasets.Value("string"),
            "degraded": datasets.Image(),
            "clean": datasets.Image(),
        }
    )

    def rows(subset: str) -> Iterator[dict[str, Any]]:
        info = SUBSETS[subset]
        for name in names:
            degraded, clean = root / subset / name, root / CLEAN_DIR / name
            for path in (degraded, clean):
                if not path.is_file():
                    raise HmtirError(f"{path} is missing; run `hmtir verify {root}`")
            record = manifest.get((name, subset), {})
            yield {
                "name": name,
                "scene": scenes.get(name, ""),
                "subset": subset,
                "degradation": info.degradation,
                "scenario": info.scenario,
                "params": json.dumps(record.get("params", {}), sort_keys=True),
                "degraded": {"bytes": degraded.read_bytes(), "path": name},
                "clean": {"bytes": clean.read_bytes(), "path": name},
            }

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    datasets.disable_progress_bars()  # datasets' per-split/per-shard tqdm bars would bury the CLI summary
    try:
        splits = {
            split_name(s): datasets.Dataset.from_generator(
                rows, gen_kwargs={"subset": s}, features=features, cache_dir=str(staging / "cache")
            )
            for s in chosen
        }
        datasets.DatasetDict(splits).save_to_disk(str(staging / "dataset"))
        os.replace(staging / "dataset", out)
    finally:
        datasets.enable_progress_bars()
        shutil.rmtree(staging, ignore_errors=True)
    return out
