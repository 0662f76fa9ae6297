"""``hmtir verify``: is an HM-TIR tree complete and readable before hours are spent evaluating on it?

Two modes. A tree without ``meta/dataset.json`` is taken to be the official release and must match it
(1,503 clean 640×512 frames, ``meta/train.txt`` and ``meta/test.txt``). A tree that carries
``meta/dataset.json`` (written by ``hmtir synthesize`` or the demo) is checked against what that file
declares (``images``; ``size`` as [width, height] if present) and other sizes are only reported.
Either way every listed test image must exist, be readable and match its clean frame's size in every
subset. A split list holding a name that is not a plain file name (``../x``, a newline) is reported as a
problem of that list, like any other fault of the tree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hmtir.data.layout import CLEAN_DIR, DATASET_FILE, META_DIR, list_images, split_names
from hmtir.errors import HmtirError
from hmtir.vocabulary import SUBSETS

OFFICIAL_FRAMES = 1503
OFFICIAL_SIZE = (640, 512)  # width, height


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the tree's root
    problem: str


@dataclass
class VerifyReport:
    root: Path
    mode: str  # "official" | "declared"
    expected_size: tuple[int, int] | None
    frames: int = 0
    test_names: int = 0
    checked: int = 0
    subsets: list[str] = field(default_factory=list)
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: Path | str, problem: str) -> None:
        rel = Path(path).relative_to(self.root) if Path(path).is_absolute() else Path(path)
        self.problems.append(Problem(rel.as_posix(), problem))


def parse_size(text: str | None) -> tuple[int, int] | None | str:
    """``"640x512"`` → (640, 512); ``"any"`` → None; None → "auto" (decided by the tree)."""
    if text is None:
        return "auto"
    if text.strip().lower() == "any":
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise HmtirError(f"--size must look like 640x512 or 'any', not '{text}'") from None
    return width, height


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A bar on a terminal, periodic lines in a log (:func:`hmtir.console.progress`)."""
    from hmtir.console import progress

    with progress(enabled) as bars:
        task = bars.add_task("reading images", total=total)
        yield lambda: bars.advance(task)


def _listed(report: VerifyReport, split: str) -> list[str]:
    """The names of ``meta/<split>.txt``; a list that cannot be trusted is a problem, and counts as empty."""
    try:
        return split_names(report.root, split)
    except HmtirError as err:
        listing = report.root / META_DIR / f"{split}.txt"
        report.add(listing, str(err).removeprefix(f"{listing}: "))
        return []


def verify(
    root: str | Path, size: tuple[int, int] | None | str = "auto", progress: bool = False, read: bool = True
) -> VerifyReport:
    """Check the tree at ``root``; ``size`` (width, height) forces a frame size, None accepts any.

    ``read=False`` skips decoding (existence and counts only), for a quick look at a large tree.
    """
    from hmtir.io.image import read_image

    root = Path(root)
    if not root.is_dir():
        raise HmtirError(f"{root} is not a directory")
    declared: dict = {}
    dataset_json = root / META_DIR / DATASET_FILE
    if dataset_json.is_file():
        try:
            declared = json.loads(dataset_json.read_text())
        except ValueError:
            declared = {}
    official = not dataset_json.is_file()
    if size == "auto":
        size = OFFICIAL_SIZE if official else (tuple(declared["size"]) if declared.get("size") else None)
    report = VerifyReport(root, "official" if official else "declared", size)  # type: ignore[arg-type]

    if dataset_json.is_file() and not declared:
        report.add(dataset_json, "not valid JSON")
    clean_dir = root / CLEAN_DIR
    if not clean_dir.is_dir():
        report.add(CLEAN_DIR, "missing folder of clean frames")
    clean = set(list_images(clean_dir))
    report.frames = len(clean)
    expected_frames = OFFICIAL_FRAMES if official else None
    if expected_frames is not None and clean_dir.is_dir() and len(clean) != expected_frames:
        report.add(CLEAN_DIR, f"{len(clean)} clean frames, expected {expected_frames}")

    for split in ("train", "test") if official else ("test",):
        if not (root / META_DIR / f"{split}.txt").is_file():
            report.add(f"{META_DIR}/{split}.txt", "missing split list")
    listed = {split: _listed(report, split) for split in ("train", "test")}
    test = listed["test"]
    report.test_names = len(test)
    if not official and isinstance(declared.get("images"), int) and declared["images"] != len(test):
        report.add(
            f"{META_DIR}/test.txt", f"{len(test)} names, but {DATASET_FILE} declares {declared['images']}"
        )
    for split in ("train", "test"):
        listing = root / META_DIR / f"{split}.txt"
        if listing.is_file():
            for name in listed[split]:
                if name not in clean:
                    report.add(f"{CLEAN_DIR}/{name}", f"listed in {META_DIR}/{split}.txt but missing")

    to_read: list[tuple[Path, str | None]] = [(clean_dir / name, None) for name in sorted(clean)]
    for subset in SUBSETS:
        folder = root / subset
        if not folder.is_dir():
            report.add(subset, "missing subset folder")
            continue
        report.subsets.append(subset)
        present = set(list_images(folder))
        for name in test:
            if name not in present:
                report.add(f"{subset}/{name}", "test image missing from subset")
        to_read += [(folder / name, name) for name in sorted(present)]

    if read:
        clean_shapes: dict[str, tuple[int, int]] = {}
        with _progress(progress, len(to_read)) as advance:
            for path, clean_name in to_read:
                advance()
                try:
                    height, width = read_image(path).data.shape[:2]
                except HmtirError as err:
                    report.add(path, str(err).split(": ", 1)[-1])
                    continue
                report.checked += 1
                report.sizes[(width, height)] += 1
                if clean_name is None:
                    clean_shapes[path.name] = (width, height)
                    if size is not None and (width, height) != size:
                        report.add(path, f"size {width}x{height}, expected {size[0]}x{size[1]}")
                elif clean_name in clean_shapes and clean_shapes[clean_name] != (width, height):
                    cw, ch = clean_shapes[clean_name]
                    report.add(path, f"size {width}x{height} differs from its clean frame ({cw}x{ch})")
    return report
