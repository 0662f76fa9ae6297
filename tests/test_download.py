"""``hmtir download`` against real HTTP servers on 127.0.0.1 (Drive-like, plain with drops, HF hub)."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.data.download import download, fetch_file
from hmtir.data.gdrive import drive_confirm_url
from hmtir.data.lockfile import LOCK_FILE
from hmtir.data.sources import load_sources, pyiqa_cache_dir
from hmtir.data.transfer import OVERLAP
from hmtir.errors import HmtirError
from hmtir.metrics.no_reference import niqe_params_from_basicsr
from hmtir.paths import weights_dir
from hmtir.registry import WeightsSpec
from hmtir.weights import resolve_weights
from tests.servers import Loopback, Request, drive_route, hf_route

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes, binary


@pytest.fixture
def server():
    srv = Loopback()
    yield srv
    srv.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "extra-sources.yaml"
    path.write_text(text)
    monkeypatch.setenv("HMTIR_SOURCES", str(path))


def http_source(url: str, sha256: str | None = None, name: str = "blob.bin") -> str:
    pin = f"\n        sha256: {sha256}" if sha256 else ""
    return f"""
sources:
  test-blob:
    kind: weights
    files:
      - name: {name}{pin}
        extract: false
        mirrors:
          - {{kind: http, url: "{url}"}}
"""


def small_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_drive_confirm_form_then_file_is_extracted_and_locked(server, tmp_path, monkeypatch):
    frames = {"iray-select/a.png": b"\x89PNG-a", "iray-select/b.png": b"\x89PNG-b"}
    archive = small_zip(frames)
    server.routes["/download"] = drive_route({"1uhWCvPExarnUL-r_G0MW530RXKpj5izJ": archive}, style="form")
    monkeypatch.setenv("HMTIR_GDRIVE_URL", server.url + "/download")

    [root] = download(["iray-select"], dir=tmp_path, progress=False)

    assert root == tmp_path / "iray-select"
    assert (root / "a.png").read_bytes() == b"\x89PNG-a" and (root / "b.png").read_bytes() == b"\x89PNG-b"
    gets = server.requests_to("/download")
    assert "confirm" not in gets[0].query
    assert {k: gets[-1].query[k] for k in ("id", "export", "confirm", "uuid")} == {
        "id": "1uhWCvPExarnUL-r_G0MW530RXKpj5izJ",
        "export": "download",
        "confirm": "t0k3n",
        "uuid": "u-123",
    }
    lock = json.loads((tmp_path / LOCK_FILE).read_text())["files"]["iray-select.zip"]
    assert lock["sha256"] == sha(archive) and lock["extracted_to"] == "iray-select"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK_FILE, "iray-select", "iray-select.zip"])

    # a second run finds everything in place and asks the server nothing
    before = len(server.log)
    assert download(["iray-select"], dir=tmp_path, progress=False) == [root]
    assert len(server.log) == before


def test_drive_old_confirm_link(server, tmp_path, monkeypatch):
    server.routes["/uc"] = drive_route({"ID1": PAYLOAD}, style="link")
    monkeypatch.setenv("HMTIR_GDRIVE_URL", server.url + "/uc")
    write_sources(
        tmp_path,
        monkeypatch,
        f"""
sources:
  test-drive:
    kind: weights
    files:
      - name: w.pth
        sha256: {sha(PAYLOAD)}
        extract: false
        mirrors: [{{kind: gdrive, id: ID1}}]
""",
    )
    out = tmp_path / "out"
    [path] = download(["test-drive"], dir=out, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.requests_to("/uc")[-1].query["confirm"] == "t0k3n"


def test_confirm_url_parsers_resolve_relative_actions():
    form = (
        '<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
        '<input type="hidden" name="id" value="X"><input type="hidden" name="export" value="download">'
        '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="U"></form>'
    )
    assert (
        drive_confirm_url(form, "https://drive.google.com/uc?id=X")
        == "https://drive.usercontent.google.com/download?id=X&export=download&confirm=t&uuid=U"
    )
    link = '<a href="/uc?export=download&amp;confirm=AbC_1&amp;id=X">Download anyway</a>'
    assert (
        drive_confirm_url(link, "https://docs.google.com/uc?id=X")
        == "https://docs.google.com/uc?export=download&confirm=AbC_1&id=X"
    )
    assert drive_confirm_url("<html>quota exceeded</html>", "https://x/") is None


def refused(out: Path, source: str = "test-blob") -> str:
    """The one-line error of downloading ``source`` into ``out``, which the failure must leave empty."""
    with pytest.raises(HmtirError) as err:
        download([source], dir=out, progress=False)
    assert list(out.iterdir()) == []
    return str(err.value)


def test_drive_page_without_file_fails_and_leaves_nothing(server, tmp_path, monkeypatch):
    server.routes["/download"] = drive_route(
        {"1Yt_YViFCpxgO-MfBlINVt4-jHAgsalv_": PAYLOAD}, style="html-only"
    )
    monkeypatch.setenv("HMTIR_GDRIVE_URL", server.url + "/download")
    spec = load_sources().meta("ppfn-official").files[0]
    with pytest.raises(HmtirError) as err:
        fetch_file("ppfn-official", spec, tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "Google Drive returned a web page without a download link" in msg
    assert msg.endswith(
        "download it from https://drive.google.com/uc?id=1Yt_YViFCpxgO-MfBlINVt4-jHAgsalv_ "
        f"and put it at {tmp_path / 'Restormer_PPFN.pth'}"
    )
    assert list(tmp_path.iterdir()) == []


def test_plain_http_html_instead_of_file(server, tmp_path, monkeypatch):
    def page(req: Request) -> None:  # served as octet-stream: only the first bytes give it away
        req.reply(
            200,
            b"\n<!DOCTYPE html><html><body>Sign in</body></html>",
            {"Content-Type": "application/octet-stream"},
        )

    server.routes["/w.bin"] = page
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin"))
    out = tmp_path / "out"
    assert "returned a web page instead of the file" in refused(out)


@pytest.mark.parametrize(("etag", "resumed"), [('"v1"', True), (None, False)])
def test_dropped_connection_resumes_only_under_a_strong_etag(server, tmp_path, monkeypatch, etag, resumed):
    """The piece is asked from OVERLAP bytes before our end, under If-Range; without an ETag nothing proves
    the server still has the same file, so it starts again even though a sha256 is published."""
    cut = 40_000
    validators = {"ETag": etag} if etag else {}

    def flaky(req: Request) -> None:
        if len(server.requests_to("/w.bin")) == 1:
            req.reply_truncated(PAYLOAD, cut, **validators)
        else:
            req.reply_file(PAYLOAD, **validators)

    server.routes["/w.bin"] = flaky
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin", sha(PAYLOAD)))
    out = tmp_path / "out"
    [path] = download(["test-blob"], dir=out, progress=False)
    assert path.read_bytes() == PAYLOAD
    reqs = server.requests_to("/w.bin")
    assert len(reqs) == 2 and "range" not in reqs[0].headers
    second = (reqs[1].headers.get("range"), reqs[1].headers.get("if-range"))
    assert second == ((f"bytes={cut - OVERLAP}-", etag) if resumed else (None, None))
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


def test_server_ignoring_range_restarts_from_zero_never_appends(server, tmp_path, monkeypatch):
    """A 200 to a Range request is the whole file again: it replaces the partial file, never extends it."""
    cut = 40_000

    def no_ranges(req: Request) -> None:
        if len(server.requests_to("/w.bin")) == 1:
            req.reply_truncated(PAYLOAD, cut, ETag='"v1"')
        else:
            req.reply_file(PAYLOAD, ranges=False, ETag='"v1"')

    server.routes["/w.bin"] = no_ranges
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin"))
    out = tmp_path / "out"
    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == PAYLOAD
    assert [r.headers.get("range") for r in server.requests_to("/w.bin")] == [None, f"bytes={cut - OVERLAP}-"]
    lock = json.loads((out / LOCK_FILE).read_text())["files"]["blob.bin"]
    assert (lock["sha256"], lock["size"], lock["verified"]) == (sha(PAYLOAD), len(PAYLOAD), "transfer")
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


def test_416_discards_the_partial_file_and_restarts_clean(server, tmp_path, monkeypatch):
    """The file shrank under the same ETag while we held 80,000 bytes of the old one."""
    old, new = PAYLOAD, PAYLOAD[::-1][:50_000]

    def shrinking(req: Request) -> None:
        if len(server.requests_to("/w.bin")) == 1:
            req.reply_truncated(old, 80_000, ETag='"v1"')
        else:
            req.reply_file(new, ETag='"v1"')

    server.routes["/w.bin"] = shrinking
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin", sha(new)))
    out = tmp_path / "out"
    [path] = download(["test-blob"], dir=out, progress=False)

    assert path.read_bytes() == new
    ranges = [r.headers.get("range") for r in server.requests_to("/w.bin")]
    assert ranges == [None, f"bytes={80_000 - OVERLAP}-", None]
    lock = json.loads((out / LOCK_FILE).read_text())["files"]["blob.bin"]
    assert (lock["sha256"], lock["size"], lock["verified"]) == (sha(new), len(new), "sha256")
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "blob.bin"])


START = 40_000 - OVERLAP  # where a piece resumed after 40,000 bytes must start


@pytest.mark.parametrize(
    "content_range",
    [
        "bytes 0-102399/102400",
        f"bytes {START}-102399/99999",
        f"bytes {START}-50000/102400",
        "bytes */102400",
        None,
    ],
)
def test_wrong_content_range_is_refused_and_nothing_is_kept(server, tmp_path, monkeypatch, content_range):
    def wrong_part(req: Request) -> None:
        if "range" not in req.headers:
            req.reply_truncated(PAYLOAD, 40_000, ETag='"v1"')
            return
        headers = {"ETag": '"v1"', "Content-Type": "application/octet-stream"}
        if content_range:
            headers["Content-Range"] = content_range
        req.reply(206, PAYLOAD[START:], headers)

    server.routes["/w.bin"] = wrong_part
    url = server.url + "/w.bin"
    write_sources(tmp_path, monkeypatch, http_source(url))
    out = tmp_path / "out"
    assert refused(out) == (
        f"could not download blob.bin for 'test-blob': tried http ({url} answered bytes={START}- with the wrong "
        f"part (Content-Range {content_range!r})); download it from {url} and put it at {out / 'blob.bin'}"
    )


@pytest.mark.parametrize("start", [0, 30_000, 40_000, 50_000])
def test_a_self_consistent_piece_at_another_offset_is_refused(server, tmp_path, monkeypatch, start):
    """A 206 whose Content-Range, Content-Length and body agree with each other but start elsewhere than
    the piece asked for (before: the whole file again or a longer overlap; after: no overlap or a gap) is
    not our next piece."""

    def misplaced(req: Request) -> None:
        if "range" not in req.headers:
            req.reply_truncated(PAYLOAD, 40_000, ETag='"v1"')
            return
        headers = {"ETag": '"v1"', "Content-Range": f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"}
        req.reply(206, PAYLOAD[start:], {"Content-Type": "application/octet-stream", **headers})

    server.routes["/w.bin"] = misplaced
    url = server.url + "/w.bin"
    write_sources(tmp_path, monkeypatch, http_source(url))
    out = tmp_path / "out"
    wrong = (
        f"({url} answered bytes={START}- with the wrong part (Content-Range 'bytes {start}-102399/102400'))"
    )
    assert wrong in refused(out)
    assert [r.headers.get("range") for r in server.requests_to("/w.bin")] == [None, f"bytes={START}-"]


LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize("last_modified", [LAST_MODIFIED, None])
def test_a_weak_etag_never_guards_a_range_request(server, tmp_path, monkeypatch, last_modified):
    """Only a strong ETag proves the server's file is the one our bytes came from: with a weak ETag, with
    or without Last-Modified (one-second resolution), the file starts again."""
    validators = {"ETag": 'W/"v1"', **({"Last-Modified": last_modified} if last_modified else {})}

    def weak(req: Request) -> None:
        if len(server.requests_to("/w.bin")) == 1:
            req.reply_truncated(PAYLOAD, 40_000, **validators)
        else:
            req.reply_file(PAYLOAD, **validators)

    server.routes["/w.bin"] = weak
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin"))
    [path] = download(["test-blob"], dir=tmp_path / "out", progress=False)
    assert path.read_bytes() == PAYLOAD
    second = server.requests_to("/w.bin")[1].headers
    assert (second.get("range"), second.get("if-range")) == (None, None)


def _reply_until_close(req: Request, status: int, body: bytes, headers: dict[str, str]) -> None:
    """A reply without Content-Length: its end is the connection closing, so nothing bounds its size."""
    h = req.handler
    h.send_response(status)
    for key, value in {**headers, "Connection": "close"}.items():
        h.send_header(key, value)
    h.end_headers()
    h.wfile.write(body)
    h.wfile.flush()
    h.close_connection = True


def test_more_bytes_than_declared_is_a_failed_transfer(server, tmp_path, monkeypatch):
    def overlong(req: Request) -> None:
        if "range" not in req.headers:
            req.reply_truncated(PAYLOAD, 40_000, ETag='"v1"')
            return
        headers = {"ETag": '"v1"', "Content-Range": f"bytes {START}-102399/102400"}
        _reply_until_close(req, 206, PAYLOAD[START:] + b"x" * 5000, headers)

    server.routes["/w.bin"] = overlong
    url = server.url + "/w.bin"
    write_sources(tmp_path, monkeypatch, http_source(url))
    out = tmp_path / "out"
    assert f"tried http ({url} sent 107400 bytes, more than the 102400 it declared)" in refused(out)


def test_checksum_mismatch_rejects_file_and_leaves_nothing(server, tmp_path, monkeypatch):
    server.routes["/w.bin"] = lambda req: req.reply_file(PAYLOAD[:-1] + b"X")
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin", sha(PAYLOAD)))
    out = tmp_path / "out"
    assert f"gave a bad file (sha256 {sha(PAYLOAD[:-1] + b'X')}, expected {sha(PAYLOAD)})" in refused(out)


def test_first_download_is_locked_and_a_changed_upstream_is_refused(server, tmp_path, monkeypatch):
    content = {"data": PAYLOAD}
    server.routes["/w.bin"] = lambda req: req.reply_file(content["data"])
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin"))
    out = tmp_path / "out"
    [path] = download(["test-blob"], dir=out, progress=False)
    lock = json.loads((out / LOCK_FILE).read_text())["files"]["blob.bin"]
    assert lock["sha256"] == sha(PAYLOAD) and lock["size"] == len(PAYLOAD) and lock["url"].endswith("/w.bin")
    assert lock["verified"] == "transfer"  # pinned: the declared Content-Length arrived in one response

    path.unlink()
    content["data"] = PAYLOAD[::-1]
    with pytest.raises(HmtirError, match=r"differs from .* recorded in .*hmtir\.lock\.json"):
        download(["test-blob"], dir=out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]

    # a local file that does not match the lock is not trusted either
    path.write_bytes(b"tampered")
    with pytest.raises(HmtirError, match=r"exists but its sha256 is not"):
        download(["test-blob"], dir=out, progress=False)


def test_github_raw_prompt_bank_matches_pinned_sha256(server, tmp_path, monkeypatch):
    # multi2.npy is np.random.seed(1234); np.random.rand(2, 64) saved with np.save: regenerate it.
    np.random.seed(1234)
    buf = io.BytesIO()
    np.save(buf, np.random.rand(2, 64))
    server.routes["/Zihang-Chen/HM-TIR/main/data/multi2.npy"] = lambda req: req.reply_file(buf.getvalue())
    monkeypatch.setenv("HMTIR_GITHUB_RAW_URL", server.url)
    spec = next(f for f in load_sources().meta("ppfn-official").files if f.name == "multi2.npy")
    path = fetch_file("ppfn-official", spec, weights_dir())
    assert path == weights_dir() / "multi2.npy"
    assert resolve_weights(WeightsSpec("multi2.npy", sha256=spec.sha256, source="ppfn-official")) == path
    assert np.load(path).shape == (2, 64)


def test_hf_hub_download_through_local_endpoint(server, tmp_path, monkeypatch):
    files = {"daclip_ViT-B-32.pt": PAYLOAD, "universal-ir.pth": PAYLOAD[::-1]}
    server.routes["*"] = hf_route("weblzw/daclip-uir-ViT-B-32-irsde", files)
    monkeypatch.setenv("HMTIR_HF_ENDPOINT", server.url)

    paths = download(["daclip"], progress=False)

    assert paths == [weights_dir() / "daclip_ViT-B-32.pt", weights_dir() / "universal-ir.pth"]
    assert [p.read_bytes() for p in paths] == [PAYLOAD, PAYLOAD[::-1]]
    assert resolve_weights(WeightsSpec("universal-ir.pth", source="daclip")) == paths[1]
    methods = {(r.method, r.path) for r in server.log}
    assert ("GET", "/weblzw/daclip-uir-ViT-B-32-irsde/resolve/main/universal-ir.pth") in methods
    assert any(m == "HEAD" for m, _ in methods)
    assert sorted(p.name for p in weights_dir().iterdir()) == sorted([*files, LOCK_FILE])


def niqe_npz(seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A BasicSR-layout ``niqe_pris_params.npz`` (36-vector mean, 36x36 covariance) and its arrays."""
    rng = np.random.default_rng(seed)
    mu, a = rng.normal(size=36), rng.normal(size=(36, 36))
    cov = a @ a.T + np.eye(36)
    buf = io.BytesIO()
    np.savez(buf, mu_pris_param=mu, cov_pris_param=cov)
    return buf.getvalue(), mu, cov


def sdist(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tarball like a PyPI sdist, built in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"


def niqe_source(url: str, archive: bytes, member: str = MEMBER) -> str:
    """``pyiqa-niqe`` as packaged, but with the sdist served from ``url`` (a later registry entry wins)."""
    return f"""
sources:
  pyiqa-niqe:
    kind: metric-weights
    files:
      - name: niqe_modelparameters.mat
        from:
          archive:
            name: basicsr-1.4.2.tar.gz
            sha256: {sha(archive)}
            size: {len(archive)}
            mirrors: [{{kind: http, name: pypi, url: "{url}"}}]
          member: {member}
          convert: niqe-basicsr-npz
"""


def test_file_made_from_an_sdist_member_is_converted_verified_and_locked(server, tmp_path, monkeypatch):
    npz, mu, cov = niqe_npz()
    archive = sdist({"basicsr-1.4.2/setup.py": b"# setup", MEMBER: npz}, links={"basicsr-1.4.2/l": "/etc"})
    server.routes["/basicsr-1.4.2.tar.gz"] = lambda req: req.reply_file(archive, "application/gzip")
    url = server.url + "/basicsr-1.4.2.tar.gz"
    write_sources(tmp_path, monkeypatch, niqe_source(url, archive))
    out = tmp_path / "out"

    [path] = download(["pyiqa-niqe"], dir=out, progress=False)

    assert path == out / "niqe_modelparameters.mat"
    mat = scipy.io.loadmat(path)
    assert np.array_equal(mat["mu_prisparam"], mu[None, :]) and np.array_equal(mat["cov_prisparam"], cov)
    (tmp_path / "m.npz").write_bytes(npz)
    assert path.read_bytes() == niqe_params_from_basicsr(tmp_path / "m.npz", tmp_path / "m.mat").read_bytes()
    entry = json.loads((out / LOCK_FILE).read_text())["files"]["niqe_modelparameters.mat"]
    assert (entry["sha256"], entry["verified"], entry["url"]) == (sha(path.read_bytes()), "derived", url)
    assert entry["derived_from"] == (
        f"{MEMBER} of basicsr-1.4.2.tar.gz (sha256 {sha(archive)}) converted by niqe-basicsr-npz"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, "niqe_modelparameters.mat"])

    before = len(server.log)  # present and pinned: nothing is fetched again
    assert download(["pyiqa-niqe"], dir=out, progress=False) == [path]
    assert len(server.log) == before
    path.write_bytes(b"tampered")
    with pytest.raises(HmtirError, match=r"exists but its sha256 is not .*--repair pyiqa-niqe"):
        download(["pyiqa-niqe"], dir=out, progress=False)
    assert download(["pyiqa-niqe"], dir=out, repair=True, progress=False) == [path]
    assert path.read_bytes() == (tmp_path / "m.mat").read_bytes()


def test_sdist_placed_by_hand_is_used_offline_and_kept(server, tmp_path, monkeypatch):
    npz, mu, _ = niqe_npz(1)
    archive = sdist({MEMBER: npz})
    write_sources(tmp_path, monkeypatch, niqe_source(server.url + "/gone.tar.gz", archive))
    out = tmp_path / "out"
    with pytest.raises(HmtirError) as err:
        download(["pyiqa-niqe"], dir=out, offline=True, progress=False)
    assert str(err.value) == (
        "offline: 'pyiqa-niqe' needs niqe_modelparameters.mat; download it from "
        f"{server.url}/gone.tar.gz and put it at {out / 'basicsr-1.4.2.tar.gz'}"
    )
    (out / "basicsr-1.4.2.tar.gz").write_bytes(archive)
    [path] = download(["pyiqa-niqe"], dir=out, offline=True, progress=False)
    assert np.array_equal(scipy.io.loadmat(path)["mu_prisparam"], mu[None, :])
    assert (out / "basicsr-1.4.2.tar.gz").read_bytes() == archive and server.log == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"basicsr-1.4.2/other.npz": b"x"}, f"has no member '{MEMBER}'"),
        ({}, f"refusing to extract .*: member '{MEMBER}' is a symlink"),
    ],
)
def test_sdist_without_the_member_as_a_file_is_refused(server, tmp_path, monkeypatch, members, message):
    archive = sdist(members, links={} if members else {MEMBER: "/etc/passwd"})
    server.routes["/s.tar.gz"] = lambda req: req.reply_file(archive)
    write_sources(tmp_path, monkeypatch, niqe_source(server.url + "/s.tar.gz", archive))
    out = tmp_path / "out"
    with pytest.raises(HmtirError, match=message) as err:
        download(["pyiqa-niqe"], dir=out, progress=False)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in out.iterdir()) in ([], [LOCK_FILE])


def test_sdist_with_a_wrong_checksum_is_refused(server, tmp_path, monkeypatch):
    archive = sdist({MEMBER: niqe_npz()[0]})
    server.routes["/s.tar.gz"] = lambda req: req.reply_file(archive[:-1] + b"\xff")
    url = server.url + "/s.tar.gz"
    write_sources(tmp_path, monkeypatch, niqe_source(url, archive))
    out = tmp_path / "out"
    assert (
        f"could not download basicsr-1.4.2.tar.gz for 'pyiqa-niqe': tried pypi ({url} gave a bad file (sha256 "
        in refused(out, "pyiqa-niqe")
    )


def test_pyiqa_weights_land_in_pyiqa_cache_and_hf_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HMTIR_HF_ENDPOINT", server.url)
    iqa = {
        "NIMA_InceptionV2_ava-b0c77c00.pth": PAYLOAD,
        "musiq_koniq_ckpt-e95806b9.pth": PAYLOAD[:999],
        "brisque_svm_weights.pth": PAYLOAD[:500],
    }
    archive = sdist({MEMBER: niqe_npz()[0]})
    write_sources(tmp_path, monkeypatch, niqe_source(server.url + "/basicsr-1.4.2.tar.gz", archive))
    iqa_route = hf_route("chaofengc/IQA-PyTorch-Weights", iqa)
    timm_route = hf_route("timm/inception_resnet_v2.tf_in1k", {"model.safetensors": b"safetensors!"})

    def route(req: Request) -> None:
        if req.path == "/basicsr-1.4.2.tar.gz":
            req.reply_file(archive)
        else:
            (timm_route if req.path.startswith("/timm/") else iqa_route)(req)

    server.routes["*"] = route

    paths = download(["pyiqa-weights"], progress=False)

    cache = pyiqa_cache_dir()
    assert cache == tmp_path / "torch" / "hub" / "pyiqa"
    assert paths[0] == cache / "niqe_modelparameters.mat" and scipy.io.loadmat(paths[0])[
        "cov_prisparam"
    ].shape == (
        36,
        36,
    )
    assert {p.name: p.read_bytes() for p in paths[1:] if p.parent == cache} == iqa
    [backbone] = [p for p in paths if p.parent != cache]
    assert backbone.is_relative_to(tmp_path / "hf") and backbone.read_bytes() == b"safetensors!"


def test_packaged_niqe_entry_reads_basicsr_from_pypi():
    """The registry itself says where NIQE comes from: BasicSR 1.4.2's sdist on PyPI, checksum pinned."""
    [spec] = load_sources().meta("pyiqa-niqe").files
    assert spec.origin is not None and spec.origin.convert == "niqe-basicsr-npz"
    assert spec.origin.member == MEMBER and spec.origin.archive.size == 172524
    assert spec.origin.archive.sha256 == "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
    assert [m.location() for m in spec.mirrors] == [
        "https://files.pythonhosted.org/packages/86/41/00a6b000f222f0fa4c6d9e1d6dcc9811a374cabb8abb9d408b77de39648c/"
        "basicsr-1.4.2.tar.gz"
    ]


def test_offline_names_the_manual_route(tmp_path):
    with pytest.raises(HmtirError) as err:
        download(["ppfn-official"], offline=True, progress=False)
    assert str(err.value) == (
        "offline: 'ppfn-official' needs Restormer_PPFN.pth; download it from "
        "https://drive.google.com/uc?id=1Yt_YViFCpxgO-MfBlINVt4-jHAgsalv_ and put it at "
        f"{weights_dir() / 'Restormer_PPFN.pth'}"
    )


def test_unreachable_mirror_error_names_mirror_and_manual_route(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HMTIR_GDRIVE_URL", f"http://127.0.0.1:{port}/download")
    with pytest.raises(HmtirError) as err:
        download(["hm-tir"], dir=tmp_path, progress=False)
    msg = str(err.value)
    assert msg.startswith(
        f"could not download HM-TIR.zip for 'hm-tir': tried gdrive (http://127.0.0.1:{port}/download?id="
    )
    assert msg.endswith(f"put it at {tmp_path / 'HM-TIR.zip'}") and "\n" not in msg


def test_manual_only_source_explains_itself(tmp_path):
    with pytest.raises(
        HmtirError, match=r"folders/1Wg9-5hwzZVQ_kXMomRoFSC-ZU4X6FwSH needs a manual download.*put it at"
    ):
        download(["diffuir"], dir=tmp_path, progress=False)


def test_cli_download_and_offline_error(server, tmp_path, monkeypatch):
    server.routes["/w.bin"] = lambda req: req.reply_file(PAYLOAD)
    write_sources(tmp_path, monkeypatch, http_source(server.url + "/w.bin", sha(PAYLOAD)))
    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(cli, ["download", "test-blob", "--dir", str(out), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert "blob.bin" in ok.output and (out / "blob.bin").read_bytes() == PAYLOAD

    off = runner.invoke(cli, ["download", "iray-select", "--dir", str(tmp_path / "x"), "--offline"])
    assert off.exit_code == 1
    assert off.output.startswith("Error: offline: 'iray-select' needs iray-select.zip; download it from")

    unknown = runner.invoke(cli, ["download", "nope"])
    assert unknown.exit_code == 1 and "unknown source 'nope'" in unknown.output


def test_registry_file_errors_are_one_line(tmp_path, monkeypatch):
    write_sources(
        tmp_path,
        monkeypatch,
        "sources:\n  bad:\n    kind: weights\n    files:\n      - name: x\n        mirrors: [{kind: ftp}]\n",
    )
    with pytest.raises(HmtirError, match=r"entry 'bad' file 'x': mirror kind 'ftp' is not one of"):
        load_sources()
