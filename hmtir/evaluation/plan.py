"""Planning an evaluation: which frames, from where, with which prompts — before anything is computed.

A plan is a list of :class:`Job` s (one per subset) of :class:`Item` s (one per frame). Every missing file,
unknown subset or inconsistent layout is found here, so a run never fails halfway for a reason that was
visible at the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmtir.data.layout import CLEAN_DIR, list_images, parse_subsets, read_scenes, split_names
from hmtir.errors import HmtirError
from hmtir.io.safety import confined
from hmtir.vocabulary import SUBSETS, Subset, subset_info

REAL_SUBSET = "real"


@dataclass(frozen=True)
class Item:
    name: str
    input_path: Path
    target_path: Path | None
    scene: str | None


@dataclass(frozen=True)
class Job:
    """One subset's frames and the prompts its subset implies."""

    subset: Subset
    items: tuple[Item, ...]

    @property
    def name(self) -> str:
        return self.subset.name


def default_data_root() -> Path:
    """Where `hmtir download hm-tir` unpacks the benchmark: the default of ``data``."""
    from hmtir.data.sources import load_sources

    return load_sources().meta("hm-tir").dataset_root()


def _missing_dataset_error(root: Path) -> HmtirError:
    return HmtirError(
        f"no HM-TIR dataset at {root}: run `hmtir download hm-tir` (or set HMTIR_HOME to where it lives), "
        "name a benchmark folder as data (--data DIR), or run `hmtir demo` to evaluate on the built-in demo"
    )


def plan_paired(data: Path | None, subsets: str | Sequence[str]) -> tuple[Path, list[Job]]:
    """Jobs over an HM-TIR layout: degraded frames of each subset with their clean targets."""
    root = Path(data).expanduser() if data is not None else default_data_root()
    if data is None and not (root / CLEAN_DIR).is_dir():
        raise _missing_dataset_error(root)
    if not root.is_dir():
        raise HmtirError(f"data folder {root} does not exist")
    if not (root / CLEAN_DIR).is_dir():
        raise HmtirError(
            f"data folder {root} is not an HM-TIR layout (no {CLEAN_DIR}/ folder of clean frames)"
        )
    spec = subsets if isinstance(subsets, str) else ",".join(subsets)
    explicit = spec.strip() not in ("", "all")
    wanted = parse_subsets(spec)
    names = split_names(root, "test")
    if not names:
        raise HmtirError(
            f"{root} lists no test images (meta/test.txt is empty and {CLEAN_DIR}/ has no images)"
        )
    listing = root / "meta" / "test.txt"
    scenes = read_scenes(root)
    jobs = []
    for subset_name in wanted:
        folder = root / subset_name
        if not folder.is_dir():
            if explicit:
                raise HmtirError(
                    f"subset folder {folder} does not exist (synthesize it or choose another subset)"
                )
            continue
        items = []
        for name in names:
            target = confined(root / CLEAN_DIR, name, listing)
            degraded = confined(folder, name, listing)
            for path, what in ((target, "clean target"), (degraded, "degraded image")):
                if not path.is_file():
                    raise HmtirError(f"missing {what} {path} (listed in {listing})")
            items.append(Item(name, degraded, target, scenes.get(name)))
        jobs.append(Job(SUBSETS[subset_name], tuple(items)))
    if not jobs:
        raise HmtirError(f"{root} has none of the subset folders {', '.join(wanted)}")
    return root, jobs


def plan_real(real: Path, metric_objects: Sequence[Any]) -> tuple[Path, list[Job]]:
    """Unpaired real frames (the paper's Iray protocol): composite prompts, no-reference metrics only."""
    full_reference = [m.meta.name for m in metric_objects if m.meta.mode != "NR"]
    if full_reference:
        raise HmtirError(
            f"real frames have no clean targets, so full-reference metric(s) {', '.join(full_reference)} "
            "cannot be computed; use no-reference metrics such as niqe, nima, musiq, brisque"
        )
    root = Path(real).expanduser()
    if not root.is_dir():
        raise HmtirError(f"real-frames folder {root} is not a directory of frames")
    names = list_images(root)
    if not names:
        raise HmtirError(f"real-frames folder {root} contains no images (png, jpg, tif, bmp)")
    items = tuple(Item(name, confined(root, name, root), None, None) for name in names)
    return root, [Job(subset_info(REAL_SUBSET), items)]
