"""Safe, atomic extraction of zip and tar(.gz/.bz2/.xz) archives.

Downloaded archives are untrusted: every member is checked before anything is written (no absolute
paths, no ``..``, no links, no devices, sizes and compression ratios within limits), bytes are counted
while writing because headers can lie, and the tree is unpacked into a temporary sibling folder that is
renamed into place only when complete. A failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path, temp_prefix
from hmtir.io.safety import first_collision, name_problem

_CHUNK = 1 << 20
_RATIO_FLOOR = (
    1 << 20
)  # members smaller than this are exempt from the ratio test (tiny text files compress well)


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps that stop a hostile or corrupt archive from filling the disk."""

    max_member: int = 20 << 30
    max_total: int = 60 << 30
    max_ratio: float = 200.0  # uncompressed / compressed, per zip member and for a whole tarball
    max_members: int = 2_000_000


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int
    compressed: int | None
    handle: object  # ZipInfo or TarInfo


def archive_format(path: Path) -> str | None:
    """``"zip"``, ``"tar"`` or None, sniffed from the content (not the name)."""
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def _member_path(raw: str, archive: Path) -> str:
    """The member's path inside the target (``""`` for the archive's own root entry), or a one-line refusal.

    Tar's ``./`` prefix and a folder's trailing ``/`` are only spelling; every component must pass the rule
    for names read from files (:func:`hmtir.io.safety.name_problem`): no hidden names, no control or
    invisible characters, no backslash, NFC only.
    """
    slashed = raw.replace("\\", "/")
    problem = None
    if slashed.startswith("/") or (len(slashed) > 1 and slashed[1] == ":"):
        problem = "has an absolute path"
    elif ".." in slashed.split("/"):
        problem = "escapes the target folder (..)"
    rel = "/".join(p for p in raw.split("/") if p not in ("", "."))
    problem = problem or (name_problem(rel, nested=True) if rel else None)
    if problem:
        raise HmtirError(f"refusing to extract {archive}: member {ascii(raw)} {problem}")
    return rel


def _member_paths(members: list[_Member], archive: Path) -> list[str]:
    """Each member's checked path; refused before anything is written when two would be one file: the same
    path twice, a path that is both a file and a folder, or paths equal but for case or Unicode form
    (``F.txt``/``f.txt``: one file on macOS and Windows)."""
    paths = [_member_path(m.name, archive) for m in members]
    files: set[str] = set()
    folders: dict[str, None] = {}  # every folder a member implies, in archive order
    for m, path in zip(members, paths):
        if not path:
            continue
        parents = path.split("/")[:-1]
        folders.update(("/".join(parents[: i + 1]), None) for i in range(len(parents)))
        if m.is_dir:
            folders[path] = None
        elif path in files:
            raise HmtirError(f"refusing to extract {archive}: member {ascii(m.name)} appears twice")
        else:
            files.add(path)
    both = next((f for f in folders if f in files), None)
    if both is not None:
        raise HmtirError(f"refusing to extract {archive}: member {ascii(both)} is both a file and a folder")
    clash = first_collision([*folders, *(p for p in paths if p in files)])
    if clash is not None:
        raise HmtirError(
            f"refusing to extract {archive}: members {ascii(clash[0])} and {ascii(clash[1])} differ only in"
            " case or Unicode form (one file on macOS and Windows)"
        )
    return paths


def _zip_members(
    zf: zipfile.ZipFile, archive: Path, infos: list[zipfile.ZipInfo] | None = None
) -> Iterator[_Member]:
    for info in zf.infolist() if infos is None else infos:
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise HmtirError(f"refusing to extract {archive}: member {ascii(info.filename)} is a symlink")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # no type bits: a plain file
            raise HmtirError(
                f"refusing to extract {archive}: member {ascii(info.filename)} is not a regular file"
            )
        yield _Member(info.filename, info.is_dir(), info.file_size, info.compress_size, info)


def _tar_members(
    tf: tarfile.TarFile, archive: Path, infos: list[tarfile.TarInfo] | None = None
) -> Iterator[_Member]:
    for info in tf if infos is None else infos:
        if info.issym() or info.islnk():
            kind = "symlink" if info.issym() else "hardlink"
            raise HmtirError(f"refusing to extract {archive}: member {ascii(info.name)} is a {kind}")
        if not (info.isfile() or info.isdir()):
            raise HmtirError(
                f"refusing to extract {archive}: member {ascii(info.name)} is a device or special file"
            )
        yield _Member(info.name, info.isdir(), info.size, None, info)


def _check(members: list[_Member], archive: Path, limits: ArchiveLimits) -> None:
    """Reject the archive before writing anything if any member or the total breaks a limit."""
    if len(members) > limits.max_members:
        raise HmtirError(
            f"refusing to extract {archive}: {len(members)} members (limit {limits.max_members})"
        )
    total = 0
    for m in members:
        if m.size > limits.max_member:
            raise HmtirError(
                f"refusing to extract {archive}: member {ascii(m.name)} is {m.size} bytes (limit {limits.max_member})"
            )
        if (
            m.compressed is not None
            and m.size > _RATIO_FLOOR
            and m.size > limits.max_ratio * max(m.compressed, 1)
        ):
            raise HmtirError(
                f"refusing to extract {archive}: member {ascii(m.name)} expands {m.size / max(m.compressed, 1):.0f}x "
                f"(limit {limits.max_ratio:.0f}x; zip bomb?)"
            )
        total += m.size
    if total > limits.max_total:
        raise HmtirError(
            f"refusing to extract {archive}: {total} bytes uncompressed (limit {limits.max_total})"
        )
    packed = archive.stat().st_size
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(packed, 1):
        raise HmtirError(
            f"refusing to extract {archive}: expands {total / max(packed, 1):.0f}x (limit {limits.max_ratio:.0f}x)"
        )


def _copy_capped(
    src: IO[bytes], dst: Path, declared: int, name: str, archive: Path, mode: str = "xb"
) -> None:
    written = 0
    with open(dst, mode) as out:
        while block := src.read(_CHUNK):
            written += len(block)
            if written > declared:
                raise HmtirError(
                    f"refusing to extract {archive}: member {ascii(name)} is larger than its header says"
                )
            out.write(block)


def _content_root(folder: Path) -> Path:
    """An archive holding a single top-level folder is unpacked without that extra level."""
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def extract_archive(archive: Path, target: Path, limits: ArchiveLimits | None = None) -> Path:
    """Unpack ``archive`` into the new folder ``target`` atomically and return ``target``."""
    archive, target = Path(archive), Path(target)
    limits = limits or ArchiveLimits()
    fmt = archive_format(archive)
    if fmt is None:
        raise HmtirError(f"{archive} is not a zip or tar archive")
    if target.exists():
        raise HmtirError(f"{target} already exists; delete it to extract {archive.name} again")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name, "extract-"), dir=target.parent))
    try:
        with contextlib.ExitStack() as stack:
            if fmt == "zip":
                zf = stack.enter_context(zipfile.ZipFile(archive))
                members = list(_zip_members(zf, archive))
            else:
                tf = stack.enter_context(tarfile.open(archive, "r:*"))
                members = list(_tar_members(tf, archive))
            _check(members, archive, limits)
            for m, rel in zip(members, _member_paths(members, archive)):
                if not rel:
                    continue
                dest = staging / rel
                if m.is_dir:
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = zf.open(m.handle) if fmt == "zip" else tf.extractfile(m.handle)  # type: ignore[arg-type]
                assert src is not None
                with src:
                    _copy_capped(src, dest, m.size, m.name, archive)
        os.replace(_content_root(staging), target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise HmtirError(f"cannot extract {archive}: {err}; delete it and download again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _plain(raw: str) -> str:
    """A member name as a comparable path (``./a//b`` -> ``a/b``); not a safety check."""
    return "/".join(p for p in PurePosixPath(raw.replace("\\", "/")).parts if p not in ("", ".", "/"))


def extract_member(archive: Path, member: str, target: Path, limits: ArchiveLimits | None = None) -> Path:
    """Copy the one regular-file ``member`` (its exact path) of a zip/tar ``archive`` to ``target`` atomically.

    Nothing else is written, so other members are never looked at beyond their names; the member itself
    must be a regular file (no link or device), unique, and within the size limit, and is counted while
    copied because headers can lie.
    """
    archive, target = Path(archive), Path(target)
    limits = limits or ArchiveLimits()
    fmt = archive_format(archive)
    if fmt is None:
        raise HmtirError(f"{archive} is not a zip or tar archive")
    try:
        with contextlib.ExitStack() as stack:
            if fmt == "zip":
                zf = stack.enter_context(zipfile.ZipFile(archive))
                found = [i for i in zf.infolist() if _plain(i.filename) == member]
            else:
                tf = stack.enter_context(tarfile.open(archive, "r:*"))
                found = [i for i in tf if _plain(i.name) == member]
            if not found:
                raise HmtirError(f"{archive} has no member {ascii(member)}")
            if len(found) > 1:
                raise HmtirError(
                    f"refusing to read {archive}: member {ascii(member)} appears {len(found)} times"
                )
            if fmt == "zip":
                [entry] = list(_zip_members(zf, archive, found))
            else:
                [entry] = list(_tar_members(tf, archive, found))
            if entry.is_dir:
                raise HmtirError(f"{archive}: member {ascii(member)} is a folder, not a file")
            _check([entry], archive, limits)
            src = zf.open(entry.handle) if fmt == "zip" else tf.extractfile(entry.handle)  # type: ignore[arg-type]
            assert src is not None
            with src, atomic_path(target) as tmp:
                _copy_capped(src, tmp, entry.size, member, archive, mode="wb")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise HmtirError(f"cannot read {archive}: {err}; delete it and download again") from None
    return target
