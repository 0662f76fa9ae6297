"""Result files on disk: load every row of a leaderboard folder, and write one, refusing what is not its
owner's to write.

A file must sit where its own content says (:func:`~hmtir.leaderboard.schema.result_relpath`), its
records must match their sha256, and a method name belongs to one owner, so a copied, renamed or edited
file cannot pass for somebody else's row. Writing is atomic per file and validated before the first byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_text
from hmtir.io.json_file import read_json
from hmtir.leaderboard.schema import (
    BOARD_TIERS,
    MEASURED_TIERS,
    RESULTS_DIR,
    SUBMISSIONS_DIR,
    result_relpath,
    row_owner,
    validate_result,
)


def board_entry(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """``entry`` validated as a row of a leaderboard folder: a tier only hmtir's own scoring (or a paper)
    gives, never a ``user`` row, which exists only in a site built from a user's results folders."""
    validate_result(entry, source)
    if entry["trust"] not in BOARD_TIERS:
        raise HmtirError(
            f"invalid leaderboard result {source}: a {entry['trust']} row is read from a user's own results "
            f"folder by `leaderboard build --results`; a leaderboard folder holds {', '.join(BOARD_TIERS)} rows"
        )
    return entry


def load_result(path: Path) -> dict[str, Any]:
    """One result file, read under the JSON rule (:func:`hmtir.io.json_file.read_json`) and validated."""
    return board_entry(read_json(path, "leaderboard result"), str(path))


def result_files(root: str | os.PathLike[str]) -> list[Path]:
    """Every result file of the leaderboard at ``root``: maintainer rows, then submission rows."""
    folder = Path(root) / RESULTS_DIR
    return sorted(folder.glob("*.json")) + sorted((folder / SUBMISSIONS_DIR).glob("*.json"))


def load_results(root: Path, *, check_records: bool = True) -> list[dict[str, Any]]:
    """Every result under ``root/results`` (sorted by file name), each validated; records hashes checked.

    A file must sit where its own content says (:func:`result_relpath`), and a method name must belong to
    one owner, so a copied or renamed file cannot pass for somebody else's row.
    """
    from hmtir.weights import sha256_file

    root = Path(root)
    folder = root / RESULTS_DIR
    if not folder.is_dir():
        raise HmtirError(
            f"no leaderboard results in {folder} (run `hmtir leaderboard seed` or score a submission)"
        )
    entries = []
    owners: dict[str, tuple[str, Path]] = {}
    for path in result_files(root):
        entry = load_result(path)
        expected = result_relpath(entry)
        if path.relative_to(root).as_posix() != expected:
            raise HmtirError(f"leaderboard result {path} should be {root / expected} (row key × benchmark)")
        owner, method = row_owner(entry), entry["method"]["name"]
        first = owners.setdefault(method, (owner, path))
        if first[0] != owner:
            raise HmtirError(
                f"leaderboard result {path}: method {method} already belongs to {first[0]} ({first[1].name})"
            )
        records = entry["records"]
        if check_records and records is not None:
            record_path = root / records["file"]
            if not record_path.is_file():
                raise HmtirError(f"{path}: its per-image records file {record_path} is missing")
            if sha256_file(record_path) != records["sha256"]:
                raise HmtirError(f"{path}: records file {record_path} does not match its recorded sha256")
        entries.append(entry)
    return entries


def dump_result(entry: dict[str, Any]) -> str:
    """Canonical text of a result (sorted keys, 2-space indent, no NaN), so re-scoring gives equal bytes."""
    return json.dumps(entry, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def check_board_data(root: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Refuse a measured row whose data differs from the measured rows already on ``root`` for its benchmark
    (ranking would refuse them together later, after the file had been written)."""
    if entry["trust"] not in MEASURED_TIERS or not (Path(root) / RESULTS_DIR).is_dir():
        return
    mine = result_relpath(entry)
    for other in load_results(Path(root), check_records=False):
        if (
            other["trust"] in MEASURED_TIERS
            and other["benchmark"]["name"] == entry["benchmark"]["name"]
            and result_relpath(other) != mine
            and other["benchmark"]["manifest_sha256"] != entry["benchmark"]["manifest_sha256"]
        ):
            theirs, ours = other["benchmark"]["manifest_sha256"], entry["benchmark"]["manifest_sha256"]
            raise HmtirError(
                f"the data has manifest {str(ours)[:12]}, but {result_relpath(other)} was scored on "
                f"{str(theirs)[:12]}: score on the same {other['benchmark']['name']} data as the leaderboard"
            )


def check_writable(root: str | os.PathLike[str], entry: dict[str, Any], *, replace: bool = False) -> Path:
    """Where ``entry`` would be written, refused if its method name belongs to another owner or its row
    exists and ``replace`` was not given. Cheap enough to call before the work that produces the entry."""
    root = Path(root)
    target = root / result_relpath(entry)
    if (root / RESULTS_DIR).is_dir():
        for other in load_results(root, check_records=False):
            if other["method"]["name"] == entry["method"]["name"] and row_owner(other) != row_owner(entry):
                raise HmtirError(
                    f"method {entry['method']['name']} already belongs to {row_owner(other)} "
                    f"({result_relpath(other)}); choose another method name"
                )
    if (target.exists() or target.is_symlink()) and not replace:
        raise HmtirError(
            f"leaderboard row {target} already exists (owner: {row_owner(entry)}); pass --replace to re-score it"
        )
    return target


def write_entry(root: Path, entry: dict[str, Any], records_csv: str | None, *, replace: bool = False) -> Path:
    """Write a result (and its records) into the leaderboard tree, atomically per file.

    Everything is validated and :func:`check_writable` passed before the first byte is written. If the
    result file cannot be written the records file is put back as it was, so a failure leaves ``root`` as
    it found it.
    """
    root = Path(root)
    board_entry(entry, str(root / result_relpath(entry)))
    target = check_writable(root, entry, replace=replace)
    text = dump_result(entry)
    record_path = root / entry["records"]["file"] if entry["records"] is not None else None
    previous = record_path.read_bytes() if record_path is not None and record_path.is_file() else None
    if record_path is not None and records_csv is not None:
        atomic_write_text(record_path, records_csv)
    try:
        atomic_write_text(target, text)
    except BaseException:
        if record_path is not None and records_csv is not None:
            if previous is None:
                record_path.unlink(missing_ok=True)
            else:
                record_path.write_bytes(previous)
        raise
    return target
