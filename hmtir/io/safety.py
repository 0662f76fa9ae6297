"""The write rules every command shares: names from files stay in their folder, nothing is clobbered.

* **Confinement.** A name hmtir reads from a file the user did not write (a manifest, a split list,
  ``meta/scenes.csv``, a submission tree, an archive, a sources YAML) becomes part of an output path only
  through :func:`check_name` / :func:`confined`: a plain relative name, no ``..``, no absolute path or
  drive, no control characters, no hidden (dot) component. Anything else is refused in one line that
  names the file and the entry.
* **No clobbering.** An output never replaces one of the command's inputs (:func:`refuse_inputs`, which
  compares files, not spellings: symlinks, ``./``, hard links and case-insensitive file systems all
  resolve to the same inode), and never replaces an existing file unless the caller said so
  (:func:`check_new_file`).
* **Output folders.** Every command that writes a folder (synthesize, evaluate, enhance, train, demo,
  export, leaderboard build, submit score's leaderboard, download) passes it through
  :func:`check_output_folder` in the library function it calls: never the file-system root, never ``""``
  (the current folder), never a non-empty folder hmtir did not create unless ``overwrite``. What hmtir
  creates it marks (:func:`mark_output_folder`), so a resume needs no ``--overwrite``.
"""

from __future__ import annotations

import numbers
import os
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from hmtir.errors import HmtirError

MAX_NAME_BYTES = 255  # one path component, as most file systems allow
MAX_PATH_BYTES = 1024
MAX_SEED = 2**63 - 1  # numpy takes any non-negative int; signed 64-bit fields (Parquet, int64) hold 63 bits


def name_problem(name: object, *, nested: bool = False) -> str | None:
    """Why ``name`` is not a plain relative file name (``nested``: ``a/b.png`` allowed), or None."""
    if not isinstance(name, str):
        return f"a {type(name).__name__}, not a text name"
    if not name:
        return "empty name"
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        return "contains control or invisible characters"
    if unicodedata.normalize("NFC", name) != name:
        return "not in Unicode NFC form (it would collide with its composed spelling)"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if len(name.encode("utf-8")) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "escapes its folder ('..', '.' or an empty component)"
    if not nested and len(parts) > 1:
        return "contains a folder separator '/'"
    for part in parts:
        if part.startswith("."):
            return "names a hidden file (leading '.')"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return f"a component is longer than {MAX_NAME_BYTES} bytes"
    return None


def check_name(name: object, origin: str | os.PathLike[str], *, nested: bool = False) -> str:
    """``name`` itself when it is a plain relative name, else a one-line error naming ``origin`` and the entry."""
    problem = name_problem(name, nested=nested)
    if problem is not None:
        raise HmtirError(f"{origin}: refusing entry {ascii(name)}: {problem}")
    return name  # type: ignore[return-value]  # name_problem proved it a str


def fold_name(name: str) -> str:
    """``name`` as a case-insensitive, normalising file system may see it (macOS, Windows): Unicode's
    compatibility caseless form NFKC(casefold(NFKD(name))), so ``F.txt``/``f.txt``, ``ß``/``ss`` and
    ``ﬁ``/``fi`` fold alike."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", name).casefold())


def first_collision(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two different ``names`` that :func:`fold_name` makes one (one file on some systems), or None."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(fold_name(name), name)
        if other != name:
            return other, name
    return None


def confined(
    root: str | os.PathLike[str], name: object, origin: str | os.PathLike[str], *, nested: bool = False
) -> Path:
    """``root / name`` for a checked ``name``, also refused if a symlink inside ``root`` leads out of it."""
    root = Path(root)
    path = root / PurePosixPath(check_name(name, origin, nested=nested))
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise HmtirError(
            f"{origin}: refusing entry {ascii(name)}: it resolves outside {root} (a symbolic link)"
        )
    return path


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both paths exist and are one file (any spelling, link or case folding)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(
    outputs: Iterable[str | os.PathLike[str]], inputs: Iterable[str | os.PathLike[str]], what: str = "output"
) -> None:
    """Refuse, before anything is written, any output that is (or would replace) one of the inputs."""
    identities: dict[tuple[int, int], Path] = {}
    for source in map(Path, inputs):
        try:
            info = source.stat()
        except OSError:
            continue
        identities[(info.st_dev, info.st_ino)] = source
    for target in map(Path, outputs):
        try:
            info = target.stat()
        except OSError:
            continue
        source = identities.get((info.st_dev, info.st_ino))
        if source is not None:
            raise HmtirError(
                f"refusing to write {what} {target}: it is the input {source} (choose another output folder)"
            )


def check_new_file(
    target: str | os.PathLike[str], overwrite: bool, what: str = "output", hint: str = "--overwrite"
) -> None:
    """An existing ``target`` is replaced only when the caller asked for it (``overwrite``)."""
    path = Path(target)
    if path.is_dir():
        raise HmtirError(f"cannot write {what} {path}: a folder is in the way")
    if path.exists() and not overwrite:
        raise HmtirError(f"{what} {path} already exists; pass {hint} to replace it")


def output_folder(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """``path`` as a folder to write into: an existing file (or a file among its parents) is refused."""
    folder = Path(path)
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise HmtirError(f"{option} {folder}: {candidate} is a file, not a folder")
            break
    return folder


#: Written into every output folder hmtir creates (or is told with ``overwrite`` to write into), so that a
#: later run, a resume, may write there again without ``--overwrite``.
OUTPUT_MARKER = ".hmtir-output"
_MARKER_TEXT = "This folder was written by hmtir; it may write here again without --overwrite.\n"


def check_output_folder(
    path: object,
    *,
    overwrite: bool = False,
    option: str = "--out",
    own: Callable[[Path], bool] | None = None,
) -> Path:
    """``path`` as a folder a command may write into, checked before anything is written; one rule for all.

    Refused, in one line: the empty string (``Path("")`` is the current folder, so ``--out ""`` wrote
    there), the file-system root in any spelling (``/``, ``//``, ``/..``, a link to it: even with
    ``overwrite``), a file in the way, and a non-empty folder hmtir did not create unless ``overwrite``.
    hmtir created it when it holds :data:`OUTPUT_MARKER` (:func:`mark_output_folder`) or, for folders
    written before the marker existed, when ``own(folder)`` recognises the command's own output.
    """
    if isinstance(path, (str, bytes)) and not path:
        raise HmtirError(f"{option} is empty: name the folder to write into")
    if not isinstance(path, (str, os.PathLike)):
        raise HmtirError(f"{option} must be a path, got {path!r}")
    folder = output_folder(Path(os.fsdecode(path)), option)
    real = Path(os.path.realpath(folder))
    if real == Path(real.anchor):
        raise HmtirError(
            f"{option} {folder}: refusing to write into the root of the file system; name a folder"
        )
    try:
        foreign = (
            not overwrite and folder.is_dir() and not _written_by_hmtir(folder, own) and any(folder.iterdir())
        )
    except OSError as err:  # an unreadable folder: one line, not a traceback
        raise HmtirError(
            f"{option} {folder}: cannot look inside ({err.strerror or type(err).__name__})"
        ) from None
    if foreign:
        raise HmtirError(
            f"{option} {folder} is not empty and was not created by hmtir; choose a new or empty folder, "
            "or pass --overwrite to write into it"
        )
    return folder


def _written_by_hmtir(folder: Path, own: Callable[[Path], bool] | None) -> bool:
    marker = folder / OUTPUT_MARKER
    return (marker.is_file() and not marker.is_symlink()) or (own is not None and own(folder))


def mark_output_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` (checked by :func:`check_output_folder`) and mark it as hmtir's; call it just before
    the first write, so a refusal leaves nothing behind."""
    from hmtir.io.atomic import atomic_write_text  # atomic imports this module

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if not marker.is_file() or marker.is_symlink():
        atomic_write_text(marker, _MARKER_TEXT)
    return folder


def check_seed(seed: object, option: str = "--seed") -> int:
    """``seed`` when every random generator hmtir seeds accepts it (0 ≤ seed ≤ 2**63-1), else one line."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise HmtirError(f"{option} must be a whole number from 0 to 2**63-1, got {seed}")
    return int(seed)
