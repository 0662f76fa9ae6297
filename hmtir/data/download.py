"""``hmtir download``: fetch registered datasets and weights, resumably, verified, and unpacked safely.

This module orchestrates: for each file of each named source it picks the mirrors in order
(:mod:`hmtir.data.mirrors`, which fetch over :mod:`hmtir.data.transfer` and :mod:`hmtir.data.gdrive`),
checks the finished ``<name>.part`` against the registry's sha256 or the folder's lock file, renames it to
its final name, and pins its hash in the lock only when it was verified (published checksum, or a
complete transfer in consistent pieces). A file may also be made from a member of a published archive
(``from:`` in the registry, e.g. NIQE's parameters from BasicSR's sdist on PyPI). When every mirror fails
the error names each one tried and where to put a manually downloaded copy.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from hmtir.data.archive import archive_format, extract_archive, extract_member
from hmtir.data.lockfile import LOCK_FILE, Lock, LockEntry
from hmtir.data.mirrors import fetch_hf, fetch_mirror
from hmtir.data.sources import CONVERTERS, FileSpec, Mirror, SourceMeta, expand, load_sources
from hmtir.data.transfer import PART_SUFFIX, Advance, MirrorFailed, Transfer, discard, http_session, sidecar
from hmtir.errors import HmtirError
from hmtir.io.atomic import sibling_name, temp_prefix
from hmtir.io.safety import check_output_folder
from hmtir.weights import sha256_file


# --------------------------------------------------------------------------------------- orchestration
def _order(mirrors: Sequence[Mirror], preferred: str | None) -> list[Mirror]:
    """``--mirror NAME`` restricts a file to that mirror when it has one; other files keep their list."""
    if preferred is None:
        return list(mirrors)
    chosen = [m for m in mirrors if m.name == preferred or m.kind == preferred]
    return chosen or list(mirrors)


def _manual_route(spec: FileSpec, directory: Path) -> str:
    """Where a person fetches the file (for a file made from an archive member: the archive) and puts it."""
    target = spec.origin.archive if spec.origin else spec
    return f"download it from {target.mirrors[0].browser_url()} and put it at {directory / target.name}"


def _repair_hint(source: str) -> str:
    return f"run `hmtir download --repair {source}`"


def _accept(
    part: Path,
    spec: FileSpec,
    locked: LockEntry | None,
    lock: Lock,
    source: str,
    url: str,
    transfer: Transfer,
) -> tuple[str, int, str]:
    """Check a finished ``.part`` against the registry and the lock; return (sha256, size, verification).

    A bad file is deleted, not kept. The verification is what the lock may pin: ``sha256`` (the published
    checksum matched), ``transfer`` (the declared size arrived in consistent pieces) or ``unverified``.
    """
    digest, size = sha256_file(part), part.stat().st_size
    problem = None
    if spec.size is not None and size != spec.size:
        problem = f"size {size} bytes, expected {spec.size}"
    elif spec.sha256 and digest != spec.sha256:
        problem = f"sha256 {digest}, expected {spec.sha256}"
    elif not spec.sha256 and locked and locked.pinned and digest != locked.sha256:
        problem = (
            f"sha256 {digest} differs from {locked.sha256} recorded in {lock.path}; "
            f"if that entry is wrong, {_repair_hint(source)}"
        )
    if problem:
        discard(part)
        raise MirrorFailed(f"{url} gave a bad file ({problem})")
    if spec.sha256:
        return digest, size, "sha256"
    return digest, size, "transfer" if transfer.total == size else "unverified"


def _download(
    source: str,
    spec: FileSpec,
    directory: Path,
    locked: LockEntry | None,
    lock: Lock,
    mirror: str | None,
    progress: Callable[[str], Advance] | None,
) -> tuple[Path, str, int, str, str]:
    """Fetch ``spec`` into ``<name>.part`` from the first mirror that delivers a good copy.

    Returns (part, sha256, size, url, verification); every mirror failing is one error naming each.
    """
    part = directory / sibling_name(spec.name, PART_SUFFIX)
    session = http_session()
    failures = []
    for m in _order(spec.mirrors, mirror):
        url = m.location()
        advance = progress(f"{source}: {spec.name}") if progress else (lambda n, total: None)
        try:
            transfer = fetch_mirror(m, part, session, advance)
            digest, size, verified = _accept(part, spec, locked, lock, source, url, transfer)
        except MirrorFailed as err:
            failures.append(f"{m.name} ({err})")
            continue
        sidecar(part).unlink(missing_ok=True)
        return part, digest, size, url, verified
    raise HmtirError(
        f"could not download {spec.name} for '{source}': tried {'; '.join(failures)}; "
        f"{_manual_route(spec, directory)}"
    )


def _check_existing(dest: Path, spec: FileSpec, locked: LockEntry | None, source: str) -> None:
    expected = spec.sha256 or (locked.sha256 if locked and locked.pinned else None)
    if expected and sha256_file(dest) != expected:
        raise HmtirError(
            f"{dest} exists but its sha256 is not {expected}; {_repair_hint(source)} to fetch and verify it again"
        )


def fetch_file(
    source: str,
    spec: FileSpec,
    directory: Path,
    *,
    mirror: str | None = None,
    offline: bool = False,
    repair: bool = False,
    progress: Callable[[str], Advance] | None = None,
) -> Path:
    """Make ``directory/spec.name`` present and verified (or its extracted folder); return that path.

    ``repair`` ignores the file's lock entry and any present copy that does not match a published
    checksum: the file is fetched and verified again, and replaces the old copy (and entry) only then.
    """
    if repair and offline:
        raise HmtirError(f"--repair fetches {source} again and needs the network; drop --offline")
    if spec.store == "hf-cache":
        if offline:
            raise HmtirError(f"offline: cannot fetch {spec.name} for '{source}' into the Hugging Face cache")
        failures = []
        for m in _order(spec.mirrors, mirror):
            try:
                return fetch_hf(m, directory, cache=True, force=repair)
            except MirrorFailed as err:
                failures.append(f"{m.name}: {err}")
        raise HmtirError(f"could not download {spec.name} for '{source}' ({'; '.join(failures)})")

    directory.mkdir(parents=True, exist_ok=True)
    lock = Lock(directory)
    dest = directory / spec.name
    unpacked = directory / spec.folder
    previous = lock.get(spec.name)
    locked = None if repair else previous
    if locked and locked.extracted_to and unpacked.is_dir():
        return unpacked
    if dest.is_file() and not (repair and not (spec.sha256 and sha256_file(dest) == spec.sha256)):
        _check_existing(dest, spec, locked, source)
        if locked is None:
            how = "sha256" if spec.sha256 else "local"
            lock.record(spec.name, source, sha256_file(dest), dest.stat().st_size, "local file", verified=how)
        return _maybe_extract(source, spec, dest, unpacked, lock, replace=repair)

    if spec.origin is not None:
        return _derive(source, spec, dest, lock, locked, offline, mirror, progress)
    if offline:
        raise HmtirError(f"offline: '{source}' needs {spec.name}; {_manual_route(spec, directory)}")
    part, digest, size, url, verified = _download(source, spec, directory, locked, lock, mirror, progress)
    os.replace(part, dest)
    lock.record(spec.name, source, digest, size, url, verified=verified)
    return _maybe_extract(source, spec, dest, unpacked, lock, replace=repair)


def _derive(
    source: str,
    spec: FileSpec,
    dest: Path,
    lock: Lock,
    locked: LockEntry | None,
    offline: bool,
    mirror: str | None,
    progress: Callable[[str], Advance] | None,
) -> Path:
    """Make ``dest`` from a member of its verified archive (a copy the user put in the folder, else fetched).

    A fetched archive is deleted afterwards: only the member is wanted. The product is pinned as
    ``derived`` (the archive's published sha256 vouches for it; conversions are deterministic).
    """
    origin = spec.origin
    assert origin is not None
    directory = dest.parent
    archive = directory / origin.archive.name
    fetched = None
    if archive.is_file():
        if sha256_file(archive) != origin.archive.sha256:
            raise HmtirError(
                f"{archive} exists but its sha256 is not {origin.archive.sha256}; delete it to download it again"
            )
        url = "local file"
    elif offline:
        raise HmtirError(f"offline: '{source}' needs {spec.name}; {_manual_route(spec, directory)}")
    else:
        fetched, _, _, url, _ = _download(source, origin.archive, directory, None, lock, mirror, progress)
        archive = fetched
    try:
        with tempfile.TemporaryDirectory(prefix=temp_prefix(spec.name, "member-"), dir=directory) as tmp:
            member = extract_member(
                archive, origin.member, Path(tmp) / PurePosixPath(origin.member).name, origin.archive.limits
            )
            if origin.convert is None:
                os.replace(member, dest)
            else:
                module, _, function = CONVERTERS[origin.convert].partition(":")
                getattr(importlib.import_module(module), function)(member, dest)
    finally:
        if fetched is not None:
            fetched.unlink(missing_ok=True)
    digest = sha256_file(dest)
    if locked is not None and locked.pinned and digest != locked.sha256:
        dest.unlink()
        raise HmtirError(
            f"{spec.name} made from {origin.archive.name} has sha256 {digest}, not {locked.sha256} recorded in "
            f"{lock.path}; if that entry is wrong, {_repair_hint(source)}"
        )
    how = f" converted by {origin.convert}" if origin.convert else ""
    lock.record(
        spec.name,
        source,
        digest,
        dest.stat().st_size,
        url,
        verified="derived",
        derived_from=f"{origin.member} of {origin.archive.name} (sha256 {origin.archive.sha256}){how}",
    )
    return dest


def _maybe_extract(
    source: str, spec: FileSpec, archive: Path, target: Path, lock: Lock, replace: bool = False
) -> Path:
    """Unpack an archive file; ``replace`` swaps a folder from an earlier copy only once the new one is out."""
    if not spec.extract or archive_format(archive) is None:
        return archive
    if replace and target.exists():
        staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name, "repair-"), dir=target.parent))
        try:
            fresh = extract_archive(archive, staging / target.name, spec.limits)
            shutil.rmtree(target)
            os.replace(fresh, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        extract_archive(archive, target, spec.limits)
    entry = lock.get(spec.name)
    assert entry is not None
    lock.record(
        spec.name,
        source,
        entry.sha256,
        entry.size,
        entry.url,
        verified=entry.verified,
        extracted_to=target.name,
        derived_from=entry.derived_from,
    )
    return target


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[Callable[[str], Advance] | None]:
    """One task per transfer: a bar on a terminal, periodic lines in a log (:func:`hmtir.console.progress`)."""
    if not enabled:
        yield None
        return
    from hmtir.console import progress

    with progress(True, label="download", unit="bytes") as bars:

        def new_task(label: str) -> Advance:  # nothing is shown until a transfer starts (offline: quiet)
            task = bars.add_task(label, total=None)

            def advance(n: int, total: int | None) -> None:
                if n < 0:
                    bars.reset(task, total=total)
                else:
                    bars.update(task, advance=n, total=total)

            return advance

        yield new_task


def _holds_downloads(folder: Path, meta: SourceMeta) -> bool:
    """``folder`` is hmtir's download folder: it holds the lock file, the record of a transfer under way, or
    a file under a name hmtir gives ``meta``'s files (one ``--offline`` told the user to place there).
    These mark a download folder, so no other marker is written into it."""
    placed = [spec.origin.archive if spec.origin else spec for spec in meta.files]  # as _manual_route names
    names = {n for spec in [*meta.files, *placed] for n in (spec.name, sibling_name(spec.name, PART_SUFFIX))}
    return (
        (folder / LOCK_FILE).is_file()
        or any(folder.glob(f"*{PART_SUFFIX}.json"))
        or any(os.path.lexists(folder / name) for name in names)
    )


def download(
    names: Sequence[str] | str,
    dir: str | Path | None = None,  # noqa: A002 - mirrors the CLI option
    mirror: str | None = None,
    offline: bool = False,
    progress: bool = True,
    repair: bool = False,
    overwrite: bool = False,
) -> list[Path]:
    """Fetch the named sources (``hmtir list sources``); return each file or extracted folder.

    ``dir`` overrides every source's default location; ``mirror`` prefers a mirror by name or kind;
    ``offline`` never touches the network and says where to put files that are missing; ``repair``
    fetches and verifies every file again, replacing a wrong copy and its lock entry. Every destination
    is held to :func:`hmtir.io.safety.check_output_folder` before any transfer (``overwrite``: download
    into a non-empty folder hmtir did not create).
    """
    registry = load_sources()
    sources: list[SourceMeta] = expand(registry, [names] if isinstance(names, str) else list(names))
    out: list[Path] = []
    directories = [
        check_output_folder(
            os.path.expanduser(dir) if dir is not None else meta.default_dir(),
            overwrite=overwrite,
            option="--dir",
            own=lambda folder, meta=meta: _holds_downloads(folder, meta),
        )
        for meta in sources
    ]
    with _progress_bars(progress) as bars:
        for meta, directory in zip(sources, directories):
            for spec in meta.files:
                out.append(
                    fetch_file(
                        meta.name,
                        spec,
                        directory,
                        mirror=mirror,
                        offline=offline,
                        repair=repair,
                        progress=bars,
                    )
                )
    return out
