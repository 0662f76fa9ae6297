"""Validate a leaderboard submission: metadata, completeness, and every file treated as hostile.

A submission is a folder::

    submissions/<id>/
        submission.yaml          method, authors, URLs, license, training data, extra data, benchmark, subsets
        images/<subset>/<image>  restored frames (PNG or TIFF), one per test image of every declared subset
        (or images.zip / images.tar.gz / images.tgz holding the same <subset>/<image> tree)

The folder's name is the submission id: lowercase letters, digits, ``-`` and ``_``; it keys the
submission's leaderboard row (see :mod:`hmtir.leaderboard.schema`), so no two submissions share a row.
Nothing in it is trusted. The metadata is bounded in size and nesting depth before it is built into
objects. Archives go through :func:`hmtir.data.archive.extract_archive` (no absolute paths, ``..``, links,
devices; size and ratio limits) with limits sized to the benchmark. File names follow the shared rule
of :func:`hmtir.io.safety.name_problem` and must also be unique after case folding (two names a macOS
or Windows checkout would merge are refused). Each image's header is read *before* any decoding (format, frame count, pixel type and declared
size against the ground truth), so a 100 000 × 100 000 PNG costs a few bytes of reading, not gigabytes.
Only then is it decoded, and float data must be finite and within [0, 1]. The first problem found is
reported as one line naming the submission and the file; partial submissions are refused outright.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmtir.data.layout import CLEAN_DIR, list_images, split_names
from hmtir.errors import HmtirError
from hmtir.io.json_file import JsonProblem, parse_json
from hmtir.io.safety import name_problem
from hmtir.io.yaml_file import YamlProblem, parse_yaml
from hmtir.leaderboard.benchmarks import Benchmark, check_benchmark_data, get_benchmark
from hmtir.leaderboard.json_schema import check_json_schema, load_schema
from hmtir.leaderboard.schema import SUBMISSION_ID_PATTERN
from hmtir.vocabulary import is_real

METADATA_NAMES = ("submission.yaml", "submission.yml", "submission.json")
ARCHIVE_NAMES = ("images.zip", "images.tar.gz", "images.tgz")
IMAGES_DIR = "images"
OPTIONAL_NAMES = ("README.md",)
IMAGE_SUFFIXES = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}
#: PIL mode of the header → bit depth accepted (grey only; 32 = float32 TIFF, checked for finite values).
ACCEPTED_MODES = {"L": 8, "I;16": 16, "I;16L": 16, "I;16B": 16, "F": 32}
MAX_METADATA_BYTES = 64 << 10
MAX_METADATA_DEPTH = 8  # the schema needs 2 levels; self_reported gets a few more, a parser bomb none
MAX_SIDE = 16384  # no benchmark frame is larger; checked before the ground-truth comparison
_SLACK_BYTES = 1 << 20  # headers, metadata chunks, unusual compressors
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


@dataclass
class Submission:
    """A submission that passed validation: its metadata and, per subset, ground-truth name → file."""

    path: Path
    id: str  # the folder name: the key of the submission's leaderboard row
    meta: dict[str, Any]
    benchmark: Benchmark
    images: dict[str, dict[str, Path]]
    sha256: str  # over the metadata bytes and every (relative name, file sha256): the submission's identity
    bit_depths: dict[str, int] = field(default_factory=dict)  # relative name → 8/16/32
    data_sha256: str | None = None  # manifest sha256 of the --data it was checked against

    @property
    def image_count(self) -> int:
        return sum(len(v) for v in self.images.values())


@dataclass(frozen=True)
class Expected:
    """What a complete submission holds: per subset, ground-truth name → (height, width)."""

    subsets: dict[str, dict[str, tuple[int, int]]]
    source: str  # where these expectations come from (data folder or the benchmark definition)


class _Fail:
    def __init__(self, path: Path) -> None:
        self.prefix = f"submission {path}"

    def __call__(self, where: str | None, problem: str) -> HmtirError:
        return HmtirError(f"{self.prefix}: {where}: {problem}" if where else f"{self.prefix}: {problem}")


# ------------------------------------------------------------------------------------------- metadata


def _read_metadata(path: Path, fail: _Fail) -> tuple[dict[str, Any], bytes]:
    found = [name for name in METADATA_NAMES if (path / name).exists() or (path / name).is_symlink()]
    if not found:
        raise fail(None, f"no metadata file (expected one of {', '.join(METADATA_NAMES)})")
    if len(found) > 1:
        raise fail(None, f"several metadata files ({', '.join(found)}); keep exactly one")
    meta_path = path / found[0]
    _check_plain_file(meta_path, found[0], fail)
    raw = meta_path.read_bytes()
    if len(raw) > MAX_METADATA_BYTES:
        raise fail(found[0], f"{len(raw)} bytes; metadata is limited to {MAX_METADATA_BYTES} bytes")
    parse = parse_json if found[0].endswith(".json") else parse_yaml  # each format under its one rule
    try:
        meta = parse(raw.decode("utf-8"), max_depth=MAX_METADATA_DEPTH)
    except UnicodeDecodeError:
        raise fail(found[0], "not UTF-8 text") from None
    except (YamlProblem, JsonProblem) as err:
        raise fail(found[0], str(err)) from None
    if not isinstance(meta, dict):
        raise fail(found[0], "must be a mapping of fields (method, authors, license, ...)")
    try:
        check_json_schema(meta, load_schema("submission"))
    except ValueError as err:
        raise fail(found[0], str(err)) from None
    bench = _benchmark(meta, found[0], fail)
    subsets = meta["subsets"]
    if len(set(subsets)) != len(subsets):
        raise fail(found[0], "a subset is listed twice")
    unknown = [s for s in subsets if s not in bench.subsets]
    if unknown:
        raise fail(
            found[0],
            f"subset {unknown[0]} is not part of benchmark {bench.name} ({', '.join(bench.subsets)})",
        )
    return meta, raw


def submission_id(path: str | os.PathLike[str]) -> str:
    """The submission id: the submission folder's own name, checked (it keys a leaderboard row)."""
    name = Path(os.path.abspath(path)).name
    if not re.fullmatch(SUBMISSION_ID_PATTERN, name):
        raise HmtirError(
            f"submission {path}: folder name {ascii(name)} is not a submission id (1-64 of a-z, 0-9, '-', '_', "
            "starting with a letter or digit); rename the folder: it names the leaderboard row"
        )
    return name


def _benchmark(meta: dict[str, Any], where: str, fail: _Fail) -> Benchmark:
    try:
        return get_benchmark(meta["benchmark"])
    except HmtirError as err:
        raise fail(where, str(err)) from None


# ----------------------------------------------------------------------------------------- expectations


def expected_images(bench: Benchmark, subsets: list[str], data: Path | None) -> Expected:
    """Test names and sizes: from ``data`` (an HM-TIR layout) or, for the demo benchmark, from its definition."""
    if data is None:
        if bench.scenes is None:
            raise HmtirError(
                f"benchmark {bench.name} needs its data to check completeness: pass --data DIR (its test split)"
            )
        from hmtir.data.scenes import SCENE_CATEGORIES

        size = (int(bench.scenes["height"]), int(bench.scenes["width"]))
        names = [
            f"{c}_{k:03d}.png" for c in SCENE_CATEGORIES for k in range(int(bench.scenes["per_category"]))
        ]
        return Expected({s: dict.fromkeys(names, size) for s in subsets}, f"benchmark definition {bench.key}")
    root = Path(data)
    if not root.is_dir():
        raise HmtirError(f"--data {root} does not exist")
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for subset in subsets:
        if is_real(subset):  # unpaired frames: the inputs define names and sizes
            folder = root / subset
            names = list_images(folder)
            if not names:
                raise HmtirError(f"--data {root} has no frames in {folder} for subset {subset}")
            out[subset] = {n: header_size(folder / n) for n in names}
        else:
            names = split_names(root, "test")
            if not names:
                raise HmtirError(f"--data {root} lists no test images (meta/test.txt, {CLEAN_DIR}/)")
            out[subset] = {n: header_size(root / CLEAN_DIR / n) for n in names}
    return Expected(out, f"data {root}")


def header_size(path: Path) -> tuple[int, int]:
    """(height, width) from the image header, without decoding pixels."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                width, height = image.size
    except (OSError, Image.DecompressionBombError) as err:
        raise HmtirError(f"cannot read image header of {path}: {err}") from None
    return height, width


# -------------------------------------------------------------------------------------------- the files


def _check_plain_file(path: Path, rel: str, fail: _Fail) -> os.stat_result:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise fail(rel, "is a symbolic link; submissions must contain plain files")
    if not stat.S_ISREG(info.st_mode):
        raise fail(rel, "is not a regular file")
    if info.st_nlink > 1:
        raise fail(rel, "is a hard link to another file; submissions must contain plain files")
    return info


def _walk(folder: Path, fail: _Fail, max_files: int) -> dict[str, Path]:
    """Relative POSIX name → path of every file under ``folder``; links and special files are refused."""
    found: dict[str, Path] = {}
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                path = Path(entry.path)
                rel = path.relative_to(folder).as_posix()
                if entry.is_symlink():
                    raise fail(rel, "is a symbolic link; submissions must contain plain files")
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                    continue
                _check_plain_file(path, rel, fail)
                found[rel] = path
                if len(found) > max_files:
                    raise fail(None, f"more than {max_files} files; expected exactly the test images")
    return found


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(8)
    for magic, fmt in _MAGIC.items():
        if head.startswith(magic):
            return fmt
    return None


def _check_header(path: Path, rel: str, size: tuple[int, int], fail: _Fail) -> int:
    """Format, frames, pixel type and declared size from the header alone; returns the bit depth."""
    from PIL import Image

    fmt = _sniff(path)
    if fmt is None:
        raise fail(rel, "is not a PNG or TIFF image (wrong signature bytes)")
    wanted = IMAGE_SUFFIXES[Path(rel).suffix.lower()]
    if fmt != wanted:
        raise fail(rel, f"is a {fmt} file named {Path(rel).suffix}; rename it or convert it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                mode, frames = image.mode, getattr(image, "n_frames", 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise fail(rel, "declares an enormous image (decompression bomb); refused before decoding") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise fail(rel, f"unreadable image header ({err})") from None
    if width > MAX_SIDE or height > MAX_SIDE or width < 1 or height < 1:
        raise fail(
            rel, f"declares {width}×{height} pixels (limit {MAX_SIDE} per side); refused before decoding"
        )
    if (height, width) != size:
        raise fail(rel, f"is {width}×{height} but its ground truth is {size[1]}×{size[0]} (width×height)")
    if frames != 1:
        raise fail(rel, f"holds {frames} frames; one grey frame per file")
    if mode not in ACCEPTED_MODES:
        raise fail(
            rel,
            f"pixel type '{mode}' is not accepted: use grey 8- or 16-bit integers (or float32 TIFF in [0, 1])",
        )
    return ACCEPTED_MODES[mode]


def _check_pixels(path: Path, rel: str, size: tuple[int, int], fail: _Fail) -> None:
    from hmtir.io.image import read_image

    try:
        frame = read_image(path)
    except HmtirError as err:
        reason = str(err).split(": ", 1)[-1] if str(err).startswith("cannot read image") else str(err)
        raise fail(rel, reason) from None
    if frame.data.shape != size:
        raise fail(rel, f"decodes to {frame.data.shape}, not the declared {size}")


def _top_level_names(archive: Path) -> set[str]:
    import tarfile
    import zipfile

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    else:
        with tarfile.open(archive, "r:*") as tf:
            names = tf.getnames()
    return {part for n in names if (part := n.replace("\\", "/").lstrip("./").split("/", 1)[0])}


def _extract(archive: Path, scratch: Path, limits: Any) -> Path:
    """Unpack with :func:`extract_archive`, undoing its "single top-level folder" shortcut when that folder
    is part of the subset layout (``composited/normal/...`` must not become ``normal/...``)."""
    from hmtir.data.archive import extract_archive

    unpacked = extract_archive(archive, scratch / "unpacked", limits)
    top = _top_level_names(archive)  # safe to read now: every member passed extract_archive's checks
    if len(top) == 1 and not (unpacked / next(iter(top))).exists():
        rooted = scratch / "rooted"
        rooted.mkdir()
        unpacked.rename(rooted / next(iter(top)))
        if next(iter(top)) == IMAGES_DIR:  # an archive of the images/ folder itself
            return rooted / IMAGES_DIR
        return rooted
    return unpacked


def _archive_limits(expected: Expected, max_file: int) -> Any:
    from hmtir.data.sources import ArchiveLimits

    count = sum(len(v) for v in expected.subsets.values())
    return ArchiveLimits(
        max_member=max_file, max_total=count * max_file, max_ratio=200.0, max_members=2 * count + 64
    )


def _max_file_bytes(expected: Expected) -> int:
    largest = max(h * w for names in expected.subsets.values() for h, w in names.values())
    return largest * 4 + _SLACK_BYTES  # an uncompressed float32 TIFF plus headers


@contextlib.contextmanager
def open_submission(
    path: str | os.PathLike[str], data: str | os.PathLike[str] | None = None
) -> Iterator[Submission]:
    """Validate ``path`` completely and yield it; archives are unpacked into a temporary folder removed on exit."""
    path = Path(path)
    fail = _Fail(path)
    if path.is_symlink() or not path.is_dir():
        raise fail(None, "is not a folder (expected submissions/<id>/ with submission.yaml and images)")
    ident = submission_id(path)
    meta, meta_bytes = _read_metadata(path, fail)
    bench = get_benchmark(meta["benchmark"])
    data_sha256 = check_benchmark_data(bench, data) if data is not None else None
    expected = expected_images(bench, list(meta["subsets"]), Path(data) if data is not None else None)
    max_file = _max_file_bytes(expected)
    max_files = sum(len(v) for v in expected.subsets.values()) + 64

    allowed = {*METADATA_NAMES, *ARCHIVE_NAMES, IMAGES_DIR, *OPTIONAL_NAMES}
    for entry in sorted(os.listdir(path)):
        if entry not in allowed:
            raise fail(entry, f"unexpected entry (a submission holds metadata, {IMAGES_DIR}/ or one archive)")
    sources = [n for n in (IMAGES_DIR, *ARCHIVE_NAMES) if (path / n).exists() or (path / n).is_symlink()]
    if len(sources) != 1:
        what = "no images" if not sources else f"both {' and '.join(sources)}"
        raise fail(None, f"{what}: provide exactly one of {IMAGES_DIR}/, {', '.join(ARCHIVE_NAMES)}")

    with tempfile.TemporaryDirectory(prefix="hmtir-submission-") as scratch:
        source = path / sources[0]
        if sources[0] == IMAGES_DIR:
            if source.is_symlink() or not source.is_dir():
                raise fail(IMAGES_DIR, "must be a real folder, not a link or a file")
            tree = source
        else:
            _check_plain_file(source, sources[0], fail)
            try:
                tree = _extract(source, Path(scratch), _archive_limits(expected, max_file))
            except HmtirError as err:
                reason = str(err)
                for prefix in (f"refusing to extract {source}: ", f"cannot extract {source}: "):
                    reason = reason.removeprefix(prefix)
                reason = reason.removesuffix("; delete it and download again")
                raise fail(sources[0], f"archive refused: {reason}") from None
        files = _walk(tree, fail, max_files)
        images, depths, digest_items = _match(files, expected, fail, max_file)
        digest = hashlib.sha256(meta_bytes)
        for rel, file_sha in sorted(digest_items):
            digest.update(f"{rel}\0{file_sha}\n".encode())
        yield Submission(path, ident, meta, bench, images, digest.hexdigest(), depths, data_sha256)


def validate_submission(
    path: str | os.PathLike[str], data: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Validate and return a short report (method, benchmark, subsets, image count, sha256)."""
    with open_submission(path, data) as sub:
        return {
            "path": str(sub.path),
            "id": sub.id,
            "method": sub.meta["method"],
            "benchmark": sub.benchmark.key,
            "subsets": list(sub.images),
            "images": sub.image_count,
            "sha256": sub.sha256,
        }


def _match(
    files: dict[str, Path], expected: Expected, fail: _Fail, max_file: int
) -> tuple[dict[str, dict[str, Path]], dict[str, int], list[tuple[str, str]]]:
    """Map every file to exactly one expected test image and check it; anything else is refused."""
    from hmtir.weights import sha256_file

    folded: dict[str, str] = {}
    by_subset: dict[str, dict[str, tuple[str, Path]]] = {s: {} for s in expected.subsets}
    stems = {s: {Path(n).stem: n for n in names} for s, names in expected.subsets.items()}
    for rel in sorted(files):  # names first: a collision is reported as such, whatever the names are
        problem = name_problem(rel, nested=True)
        if problem:
            raise fail(ascii(rel), f"refused name: {problem}")
        key = unicodedata.normalize("NFC", rel).casefold()
        if key in folded:
            raise fail(rel, f"collides with {folded[key]} (names differing only in case are ambiguous)")
        folded[key] = rel
    for rel in sorted(files):
        subset, _, filename = rel.rpartition("/")
        if subset not in expected.subsets:
            declared = ", ".join(expected.subsets)
            raise fail(rel, f"unexpected file: not inside a declared subset folder ({declared})")
        suffix = Path(filename).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise fail(
                rel, "unexpected file: restored images must be lossless PNG or TIFF (.png, .tif, .tiff)"
            )
        truth = stems[subset].get(Path(filename).stem)
        if truth is None:
            raise fail(rel, f"unexpected file: no test image of that name in {subset} ({expected.source})")
        if truth in by_subset[subset]:
            raise fail(rel, f"duplicate: {by_subset[subset][truth][0]} already provides {subset}/{truth}")
        by_subset[subset][truth] = (rel, files[rel])
    for subset, names in expected.subsets.items():
        missing = [n for n in names if n not in by_subset[subset]]
        if missing:
            raise fail(
                None,
                f"incomplete: {subset} lacks {len(missing)} of {len(names)} images (first: {missing[0]}); "
                "partial submissions are refused, not averaged",
            )
    depths: dict[str, int] = {}
    digests: list[tuple[str, str]] = []
    for subset, names in expected.subsets.items():
        for truth, size in names.items():
            rel, file = by_subset[subset][truth]
            if file.stat().st_size > max_file:
                raise fail(
                    rel, f"{file.stat().st_size} bytes (limit {max_file} for a {size[1]}×{size[0]} frame)"
                )
            depths[rel] = _check_header(file, rel, size, fail)
    for subset, names in expected.subsets.items():  # decode only once every header passed
        for truth, size in names.items():
            rel, file = by_subset[subset][truth]
            _check_pixels(file, rel, size, fail)
            digests.append((rel, sha256_file(file)))
    images = {s: {truth: by_subset[s][truth][1] for truth in names} for s, names in expected.subsets.items()}
    return images, depths, digests
