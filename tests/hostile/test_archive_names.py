"""Archive member names (issue item 11) go through the rule for every name read from a file
(:func:`hmtir.io.safety.name_problem`, per component) and may not collide once case and Unicode form are
folded. Each hostile archive, zip and tar alike, is refused in one line naming the archive and the member
(printed with ascii()), before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.archive import extract_archive
from hmtir.errors import HmtirError
from hmtir.io.safety import first_collision, fold_name
from tests.servers import Loopback


def make_archive(path: Path, names: list[str]) -> Path:
    """A zip or tar.gz (by suffix) holding each name; a name ending in ``/`` is a folder."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name in names:
                zf.writestr(zipfile.ZipInfo(name), b"" if name.endswith("/") else name.encode())
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name in names:
                info = tarfile.TarInfo(name.rstrip("/") or name)
                if name.endswith("/"):
                    info.type = tarfile.DIRTYPE
                    tf.addfile(info)
                else:
                    info.size = len(name.encode())
                    tf.addfile(info, io.BytesIO(name.encode()))
    return path


FORMATS = ["a.zip", "a.tar.gz"]

BAD_NAMES = [
    (".bashrc", "names a hidden file (leading '.')"),
    ("data/.hidden.png", "names a hidden file (leading '.')"),
    (".git/config", "names a hidden file (leading '.')"),
    ("x\x1b[31m.txt", "contains control or invisible characters"),
    ("a\nb.txt", "contains control or invisible characters"),
    ("a\u200bb.txt", "contains control or invisible characters"),
    ("\u202etxt.exe", "contains control or invisible characters"),
    ("e\u0301.txt", "not in Unicode NFC form (it would collide with its composed spelling)"),
    ("dir\\file.txt", "contains a backslash"),
    ("x" * 256 + ".txt", "a component is longer than 255 bytes"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "problem"), BAD_NAMES)
def test_member_names_follow_the_rule_for_names_read_from_files(fmt, name, problem, tmp_path) -> None:
    archive = make_archive(tmp_path / fmt, ["ok.txt", name])
    out = tmp_path / "out"
    with pytest.raises(HmtirError) as err:
        extract_archive(archive, out)
    assert str(err.value) == f"refusing to extract {archive}: member {ascii(name)} {problem}"
    assert "\x1b" not in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fmt]  # no target, no staging folder


COLLISIONS = [
    (["F.txt", "f.txt"], ("F.txt", "f.txt")),
    (["Straße.txt", "STRASSE.txt"], ("Straße.txt", "STRASSE.txt")),
    (["\ufb01le.txt", "file.txt"], ("\ufb01le.txt", "file.txt")),  # the "fi" ligature folds to "fi"
    (["Data/a.txt", "data/b.txt"], ("Data", "data")),  # two folders that are one on macOS
    (["Data/", "data/b.txt"], ("Data", "data")),
    (["\u00c9.txt", "\u00e9.txt"], ("\u00c9.txt", "\u00e9.txt")),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("names", "pair"), COLLISIONS)
def test_names_that_differ_only_in_case_or_unicode_form_are_refused(fmt, names, pair, tmp_path) -> None:
    archive = make_archive(tmp_path / fmt, names)
    with pytest.raises(HmtirError) as err:
        extract_archive(archive, tmp_path / "out")
    assert str(err.value) == (
        f"refusing to extract {archive}: members {ascii(pair[0])} and {ascii(pair[1])} differ only in"
        " case or Unicode form (one file on macOS and Windows)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [fmt]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("names", "tail"),
    [
        (["a.txt", "b.txt", "./a.txt"], "member './a.txt' appears twice"),
        (["a", "a/b.txt"], "member 'a' is both a file and a folder"),
    ],
)
def test_two_members_for_one_path_are_refused_before_writing(fmt, names, tail, tmp_path) -> None:
    archive = make_archive(tmp_path / fmt, names)
    with pytest.raises(HmtirError) as err:
        extract_archive(archive, tmp_path / "out")
    assert str(err.value) == f"refusing to extract {archive}: {tail}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_names_unpack_unchanged(fmt, tmp_path) -> None:
    """Tar's ``./`` prefix, folder entries, spaces and composed (NFC) accents are ordinary names."""
    names = ["./", "./scènes/", "./scènes/Straße 1.png", "./scènes/b.png", "./README"]
    archive = make_archive(tmp_path / fmt, names)
    out = extract_archive(archive, tmp_path / "out")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "README",
        "scènes",
        "scènes/Straße 1.png",
        "scènes/b.png",
    ]
    assert (out / "scènes/Straße 1.png").read_bytes() == b"./sc\xc3\xa8nes/Stra\xc3\x9fe 1.png"


def test_fold_name_and_first_collision() -> None:
    assert fold_name("Stra\u00dfe") == fold_name("STRASSE") == "strasse"
    assert fold_name("\u212a") == fold_name("k")  # the Kelvin sign
    assert first_collision(["a.png", "b.png", "A.PNG"]) == ("a.png", "A.PNG")
    assert first_collision(["a.png", "b.png", "a.png"]) is None  # the same spelling is not a collision


def test_hmtir_download_refuses_a_hostile_member_in_one_line(tmp_path, monkeypatch) -> None:
    """End to end: the downloaded archive is kept (verified), nothing is unpacked, exit 1, one line."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("pack/a.png", b"1")
        zf.writestr("pack/x\x1b[31m.txt", b"2")
    payload = data.getvalue()
    server = Loopback()
    server.routes["/pack.zip"] = lambda req: req.reply_file(payload)
    try:
        registry = tmp_path / "sources.yaml"
        registry.write_text(
            "sources:\n  pack:\n    kind: dataset\n    files:\n      - name: pack.zip\n"
            f"        sha256: {hashlib.sha256(payload).hexdigest()}\n"
            f'        mirrors: [{{kind: http, url: "{server.url}/pack.zip"}}]\n'
        )
        monkeypatch.setenv("HMTIR_SOURCES", str(registry))
        out = tmp_path / "out"
        result = CliRunner().invoke(cli, ["download", "pack", "--dir", str(out), "--no-progress"])
    finally:
        server.close()
    assert result.exit_code == 1
    assert result.output == (
        f"Error: refusing to extract {out / 'pack.zip'}: member 'pack/x\\x1b[31m.txt' contains control or"
        " invisible characters\n"
    )
    assert (out / "pack.zip").is_file()  # the verified download is kept, nothing is unpacked or staged
    assert [p.name for p in out.iterdir() if p.is_dir() or "pack" in p.name] == ["pack.zip"]
