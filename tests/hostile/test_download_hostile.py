"""Hostile download states (issue 12, item 6): a partial file that is not ours, a lock entry that pinned a
bad hash. Every case runs against a real HTTP server on 127.0.0.1 and asserts the exact outcome: the file's
bytes, the lock's contents, the one-line error, and which requests were sent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.download import download
from hmtir.data.lockfile import LOCK_FILE
from hmtir.data.transfer import OVERLAP
from hmtir.errors import HmtirError
from tests.servers import Loopback, Request

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
ETAG = '"v1"'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server():
    srv = Loopback()
    yield srv
    srv.close()


@pytest.fixture
def blob(server: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A source ``test-blob`` whose file ``blob.bin`` pins no sha256 (trust on first use), and its folder."""
    url = server.url + "/w.bin"
    registry = tmp_path / "sources.yaml"
    registry.write_text(
        "sources:\n  test-blob:\n    kind: weights\n    files:\n      - name: blob.bin\n"
        f'        extract: false\n        mirrors:\n          - {{kind: http, url: "{url}"}}\n'
    )
    monkeypatch.setenv("HMTIR_SOURCES", str(registry))
    return url, tmp_path / "out"


def lock_entry(folder: Path, name: str = "blob.bin") -> dict:
    return json.loads((folder / LOCK_FILE).read_text())["files"][name]


def test_a_foreign_part_file_is_discarded_not_resumed(server, blob) -> None:
    """The observed bug: an unrelated ``blob.bin.part`` was resumed into and the corrupt result pinned."""
    url, out = blob
    out.mkdir()
    (out / "blob.bin.part").write_bytes(b"\xee" * 40_000)  # someone else's partial file, no sidecar
    server.routes["/w.bin"] = lambda req: req.reply_file(PAYLOAD, ETag=ETAG)

    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == PAYLOAD
    assert [r.headers.get("range") for r in server.requests_to("/w.bin")] == [None]
    entry = lock_entry(out)
    assert (entry["sha256"], entry["size"], entry["verified"]) == (sha(PAYLOAD), len(PAYLOAD), "transfer")
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


def test_a_part_recorded_for_another_url_is_discarded(server, blob) -> None:
    url, out = blob
    server.routes["/other.bin"] = lambda req: req.reply_truncated(PAYLOAD[::-1], 40_000, ETag=ETAG)
    server.routes["/w.bin"] = lambda req: req.reply_file(PAYLOAD, ETag=ETAG)
    registry = out.parent / "sources.yaml"
    registry.write_text(registry.read_text().replace("/w.bin", "/other.bin"))
    with pytest.raises(HmtirError, match=r"other\.bin: .* \(after 5 attempts\)"):
        download(["test-blob"], dir=out, progress=False)
    assert (out / "blob.bin.part").stat().st_size == 40_000  # kept: it can resume from the same URL

    registry.write_text(registry.read_text().replace("/other.bin", "/w.bin"))  # the mirror moved
    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == PAYLOAD
    assert [r.headers.get("range") for r in server.requests_to("/w.bin")] == [None]
    assert lock_entry(out)["sha256"] == sha(PAYLOAD)


def test_a_changed_remote_file_restarts_the_transfer(server, blob) -> None:
    """The partial file is ours, but the server's file changed since: If-Range makes it answer 200."""
    url, out = blob
    state = {"data": PAYLOAD[::-1], "etag": '"old"', "drop": True}

    def route(req: Request) -> None:
        if state["drop"]:
            state["drop"] = False
            req.reply_truncated(state["data"], 40_000, ETag=state["etag"])
            state.update(data=PAYLOAD, etag=ETAG)  # published a new version in between
        else:
            req.reply_file(state["data"], ETag=state["etag"])

    server.routes["/w.bin"] = route
    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == PAYLOAD
    second = server.requests_to("/w.bin")[1].headers
    assert (second["range"], second["if-range"]) == (f"bytes={40_000 - OVERLAP}-", '"old"')
    assert lock_entry(out)["sha256"] == sha(PAYLOAD)


def test_an_unsized_transfer_is_kept_but_never_pinned(server, blob) -> None:
    """No Content-Length and no published checksum: nothing proves the file complete, so no hash is pinned."""
    url, out = blob
    served = {"data": PAYLOAD[:5000]}
    server.routes["/w.bin"] = lambda req: req.reply_unsized(served["data"])
    [path] = download(["test-blob"], dir=out, progress=False)
    assert path.read_bytes() == PAYLOAD[:5000]
    assert lock_entry(out)["verified"] == "unverified"

    path.unlink()
    served["data"] = PAYLOAD  # a complete copy is not refused because of the unverified first one
    [path] = download(["test-blob"], dir=out, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_repair_replaces_a_bad_pinned_entry(server, blob) -> None:
    """A lock that pinned a corrupt file (as the old resume bug did) is recovered by ``--repair``."""
    url, out = blob
    out.mkdir()
    corrupt = b"\xee" * 40_000 + PAYLOAD[40_000:]
    (out / "blob.bin").write_bytes(corrupt)
    legacy = {"source": "test-blob", "sha256": sha(corrupt), "size": len(corrupt), "url": url}
    (out / LOCK_FILE).write_text(
        json.dumps({"version": 1, "files": {"blob.bin": {**legacy, "recorded": "2026-01-01T00:00:00+00:00"}}})
    )
    server.routes["/w.bin"] = lambda req: req.reply_file(PAYLOAD, ETag=ETAG)
    runner = CliRunner()

    (out / "blob.bin").unlink()
    refused = runner.invoke(cli, ["download", "test-blob", "--dir", str(out), "--no-progress"])
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert refused.output == (
        f"Error: could not download blob.bin for 'test-blob': tried http ({url} gave a bad file (sha256 "
        f"{sha(PAYLOAD)} differs from {sha(corrupt)} recorded in {out / LOCK_FILE}; if that entry is wrong, "
        f"run `hmtir download --repair test-blob`)); download it from {url} and put it at {out / 'blob.bin'}\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]

    (out / "blob.bin").write_bytes(corrupt)
    repaired = runner.invoke(cli, ["download", "--repair", "test-blob", "--dir", str(out), "--no-progress"])
    assert repaired.exit_code == 0, repaired.output
    assert (out / "blob.bin").read_bytes() == PAYLOAD
    entry = lock_entry(out)
    assert (entry["sha256"], entry["verified"]) == (sha(PAYLOAD), "transfer")
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


def test_repair_offline_is_refused_and_changes_nothing(blob) -> None:
    url, out = blob
    out.mkdir()
    (out / "blob.bin").write_bytes(b"old")
    with pytest.raises(
        HmtirError, match=r"^--repair fetches test-blob again and needs the network; drop --offline$"
    ):
        download(["test-blob"], dir=out, offline=True, repair=True, progress=False)
    assert (out / "blob.bin").read_bytes() == b"old"


HOSTILE_REGISTRY = {
    "file name escapes": (
        "name: ../escape.bin\n        extract: false",
        "'../escape.bin': escapes its folder",
    ),
    "absolute file name": (
        "name: /etc/cron.d/x\n        extract: false",
        "'/etc/cron.d/x': is an absolute path",
    ),
    "control character": ('name: "a\\nb.bin"\n        extract: false', "'a\\nb.bin': contains control"),
    "extract_to escapes": ("name: a.zip\n        extract_to: ../../up", "'../../up': escapes its folder"),
    "extract_to nested": ("name: a.zip\n        extract_to: x/y", "'x/y': contains a folder separator"),
}


@pytest.mark.parametrize("case", HOSTILE_REGISTRY)
def test_names_from_a_user_registry_stay_in_the_target_folder(case: str, tmp_path: Path, monkeypatch) -> None:
    """$HMTIR_SOURCES may name a file the user did not write: its names never leave the target folder."""
    fields, problem = HOSTILE_REGISTRY[case]
    registry = tmp_path / "sources.yaml"
    registry.write_text(
        f"sources:\n  evil:\n    kind: weights\n    files:\n      - {fields}\n"
        '        mirrors: [{kind: http, url: "http://127.0.0.1:9/x"}]\n'
    )
    monkeypatch.setenv("HMTIR_SOURCES", str(registry))
    result = CliRunner().invoke(cli, ["download", "evil", "--dir", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: source registry {registry} entry 'evil': refusing entry ")
    assert problem in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.yaml"]


@pytest.mark.parametrize(
    ("member", "mirror", "problem"),
    [
        ("../../../etc/passwd", "{kind: http, url: 'http://127.0.0.1:9/a.tgz'}", "escapes its folder"),
        ("/etc/passwd", "{kind: http, url: 'http://127.0.0.1:9/a.tgz'}", "is an absolute path"),
        ("pkg/ok.npz", "{kind: hf, repo: o/r, revision: main, path: ../../evil}", "escapes its folder"),
    ],
)
def test_member_paths_and_hub_paths_from_a_registry_are_checked(
    member, mirror, problem, tmp_path, monkeypatch
):
    registry = tmp_path / "sources.yaml"
    registry.write_text(
        "sources:\n  evil:\n    kind: weights\n    files:\n      - name: out.npz\n        from:\n"
        f"          archive: {{name: a.tgz, sha256: '{'0' * 64}', mirrors: [{mirror}]}}\n"
        f"          member: {member}\n"
    )
    monkeypatch.setenv("HMTIR_SOURCES", str(registry))
    with pytest.raises(HmtirError) as err:
        download(["evil"], dir=tmp_path / "out", progress=False)
    assert str(err.value).startswith(f"source registry {registry} entry 'evil'")
    assert problem in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


NEW = bytes(reversed(PAYLOAD))  # another version of the file, the same size
LM = "Wed, 21 Oct 2026 07:28:00 GMT"

# How the server's second version is labelled, and whether our partial file may still be continued.
VERSIONS = {
    # the reported case: a strong ETag kept for new bytes; the overlap shows the bytes changed
    "same strong ETag, new bytes": ({"ETag": ETAG}, {"ETag": ETAG}, NEW, True),
    # the file grew under the same ETag: the overlap matches, the total size tells
    "same strong ETag, grown": ({"ETag": ETAG}, {"ETag": ETAG}, PAYLOAD + b"tail", True),
    "same weak ETag, new bytes": ({"ETag": 'W/"v1"'}, {"ETag": 'W/"v1"'}, NEW, False),
    "same Last-Modified only": ({"Last-Modified": LM}, {"Last-Modified": LM}, NEW, False),
    "weak ETag and Last-Modified": ({"ETag": 'W/"v1"', "Last-Modified": LM}, {"ETag": 'W/"v1"'}, NEW, False),
    "no validator": ({}, {}, NEW, False),
}


@pytest.mark.parametrize("case", VERSIONS)
def test_a_file_changed_under_unproven_or_lying_validators_is_never_spliced(server, blob, case) -> None:
    """No published sha256: the partial file is continued only under If-Range with a strong ETag, the same
    total size and the same overlapping bytes; anything else starts again and yields the new file whole."""
    url, out = blob
    first, second, new, asks_range = VERSIONS[case]

    def route(req: Request) -> None:
        if len(server.requests_to("/w.bin")) == 1:
            req.reply_truncated(PAYLOAD, 40_000, **first)
        else:
            req.reply_file(new, **second)  # honours Range and If-Range like a real server

    server.routes["/w.bin"] = route
    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == new
    sent = [(r.headers.get("range"), r.headers.get("if-range")) for r in server.requests_to("/w.bin")]
    if asks_range:
        assert sent == [(None, None), (f"bytes={40_000 - OVERLAP}-", ETAG), (None, None)]
    else:
        assert sent == [(None, None), (None, None)]
    assert lock_entry(out)["sha256"] == sha(new)
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


def test_a_piece_that_ignored_if_range_is_not_spliced(server, blob) -> None:
    """A 206 of another ETag (the server ignored If-Range) is another version: start again."""
    url, out = blob

    def route(req: Request) -> None:
        count = len(server.requests_to("/w.bin"))
        if count == 1:
            req.reply_truncated(PAYLOAD, 40_000, ETag=ETAG)
        elif count == 2:
            start = int(req.headers["range"][6:-1])
            headers = {"ETag": '"v2"', "Content-Range": f"bytes {start}-{len(NEW) - 1}/{len(NEW)}"}
            req.reply(206, NEW[start:], {"Content-Type": "application/octet-stream", **headers})
        else:
            req.reply_file(NEW, ETag='"v2"')

    server.routes["/w.bin"] = route
    [path] = download(["test-blob"], dir=out, progress=False)
    assert path.read_bytes() == NEW
    assert [r.headers.get("range") for r in server.requests_to("/w.bin")] == [
        None,
        f"bytes={40_000 - OVERLAP}-",
        None,
    ]


def test_an_overstated_content_length_says_the_part_file_is_kept(server, blob) -> None:
    """Content-Length 100 bytes more than the file: every attempt ends short, and the whole file is left
    in blob.bin.part. The one-line error says so, with both sizes."""
    url, out = blob
    server.routes["/w.bin"] = lambda req: req.reply_truncated(PAYLOAD + bytes(100), len(PAYLOAD), ETag=ETAG)
    result = CliRunner().invoke(cli, ["download", "test-blob", "--dir", str(out), "--no-progress"])

    part = out / "blob.bin.part"
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output == (
        f"Error: could not download blob.bin for 'test-blob': tried http ({url}: connection closed after "
        f"102400 of 102500 bytes (after 5 attempts); the 102400 bytes received are left in {part}, short of "
        "the 102500 the server declared (a server that overstates Content-Length leaves the whole file "
        f"there)); download it from {url} and put it at {out / 'blob.bin'}\n"
    )
    assert part.read_bytes() == PAYLOAD
    assert not (out / "blob.bin").exists()
