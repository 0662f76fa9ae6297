"""Safe extraction: a hostile archive corpus is refused with nothing written; good archives unpack atomically."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from hmtir.data.archive import extract_archive
from hmtir.data.sources import ArchiveLimits
from hmtir.errors import HmtirError


def make_zip(path: Path, members: list[tuple[str, bytes, int | None]]) -> Path:
    """members: (name, data, unix mode incl. type bits or None)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


HOSTILE = {
    "zip-traversal": (
        lambda p: make_zip(p / "a.zip", [("ok.txt", b"1", None), ("../evil.txt", b"x", None)]),
        "escapes the target folder",
    ),
    "zip-nested-traversal": (
        lambda p: make_zip(p / "a.zip", [("d/../../evil.txt", b"x", None)]),
        "escapes the target folder",
    ),
    "zip-absolute": (
        lambda p: make_zip(p / "a.zip", [("/etc/evil.txt", b"x", None)]),
        "has an absolute path",
    ),
    "zip-windows-absolute": (
        lambda p: make_zip(p / "a.zip", [("C:\\evil.txt", b"x", None)]),
        "has an absolute path",
    ),
    "zip-symlink": (
        lambda p: make_zip(p / "a.zip", [("link", b"/etc/passwd", stat.S_IFLNK | 0o777)]),
        "is a symlink",
    ),
    "zip-fifo": (
        lambda p: make_zip(p / "a.zip", [("pipe", b"", stat.S_IFIFO | 0o644)]),
        "is not a regular file",
    ),
    "zip-bomb-ratio": (lambda p: make_zip(p / "a.zip", [("zeros.bin", bytes(8 << 20), None)]), "expands"),
    "tar-traversal": (
        lambda p: make_tar(p / "a.tar.gz", [("../evil.txt", b"x")]),
        "escapes the target folder",
    ),
    "tar-absolute": (lambda p: make_tar(p / "a.tar.gz", [("/tmp/evil.txt", b"x")]), "has an absolute path"),
    "tar-symlink": (
        lambda p: make_tar(p / "a.tar.gz", [special("link", tarfile.SYMTYPE, "/etc/passwd")]),
        "is a symlink",
    ),
    "tar-hardlink": (
        lambda p: make_tar(p / "a.tar.gz", [("f", b"1"), special("h", tarfile.LNKTYPE, "/etc/passwd")]),
        "is a hardlink",
    ),
    "tar-device": (
        lambda p: make_tar(p / "a.tar.gz", [special("dev", tarfile.CHRTYPE)]),
        "is a device or special file",
    ),
    "tar-bomb-ratio": (lambda p: make_tar(p / "a.tar.gz", [("zeros.bin", bytes(8 << 20))]), "expands"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_leave_nothing(case, tmp_path):
    build, reason = HOSTILE[case]
    src = tmp_path / "src"
    src.mkdir()
    archive = build(src)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(HmtirError) as err:
        extract_archive(archive, out / "data")
    assert str(err.value).startswith(f"refusing to extract {archive}: ")
    assert reason in str(err.value)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_member_and_total_size_limits(tmp_path):
    archive = make_zip(tmp_path / "a.zip", [("a.bin", b"x" * 3000, None), ("b.bin", b"y" * 3000, None)])
    with pytest.raises(HmtirError, match=r"member 'a.bin' is 3000 bytes \(limit 2000\)"):
        extract_archive(archive, tmp_path / "o1", ArchiveLimits(max_member=2000))
    with pytest.raises(HmtirError, match=r"6000 bytes uncompressed \(limit 5000\)"):
        extract_archive(archive, tmp_path / "o2", ArchiveLimits(max_total=5000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_limits_are_inclusive(tmp_path):
    """A member of exactly ``max_member`` bytes, a total of exactly ``max_total`` and exactly
    ``max_members`` members are allowed; one more of any is refused."""
    archive = make_zip(tmp_path / "a.zip", [("a.bin", b"x" * 3000, None), ("b.bin", b"y" * 2000, None)])
    exact = ArchiveLimits(max_member=3000, max_total=5000, max_members=2)
    root = extract_archive(archive, tmp_path / "ok", exact)
    assert (root / "a.bin").read_bytes() == b"x" * 3000 and (root / "b.bin").read_bytes() == b"y" * 2000
    for tight, message in (
        (ArchiveLimits(max_member=2999), r"member 'a.bin' is 3000 bytes \(limit 2999\)"),
        (ArchiveLimits(max_total=4999), r"5000 bytes uncompressed \(limit 4999\)"),
        (ArchiveLimits(max_members=1), r"2 members \(limit 1\)"),
    ):
        with pytest.raises(HmtirError, match=message):
            extract_archive(archive, tmp_path / "refused", tight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "ok"]


def test_header_that_understates_size_is_caught_while_writing(tmp_path):
    archive = make_zip(tmp_path / "a.zip", [("a.bin", b"z" * 5000, None)])
    raw = bytearray(archive.read_bytes())
    # patch the uncompressed size in both the local header (offset 22) and the central directory entry
    raw[22:26] = (100).to_bytes(4, "little")
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    with pytest.raises(HmtirError, match=r"(larger than its header says|cannot extract)"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.zip"]


def test_good_archives_unpack_and_single_top_folder_is_stripped(tmp_path):
    z = make_zip(
        tmp_path / "a.zip", [("HM-TIR/imgs/1.png", b"one", None), ("HM-TIR/meta/test.txt", b"1.png\n", None)]
    )
    root = extract_archive(z, tmp_path / "zip-out")
    assert (root / "imgs" / "1.png").read_bytes() == b"one" and (
        root / "meta" / "test.txt"
    ).read_text() == "1.png\n"

    t = make_tar(tmp_path / "a.tar.gz", [("imgs/1.png", b"one"), ("./meta/test.txt", b"x")])
    root = extract_archive(t, tmp_path / "tar-out")
    assert sorted(p.name for p in root.iterdir()) == ["imgs", "meta"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())

    with pytest.raises(HmtirError, match=r"already exists; delete it to extract a.zip again"):
        extract_archive(z, tmp_path / "zip-out")


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"<!DOCTYPE html><html></html>")
    with pytest.raises(HmtirError, match=r"x.zip is not a zip or tar archive"):
        extract_archive(path, tmp_path / "out")
