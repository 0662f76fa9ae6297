"""The leaderboard page in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

The site is built from a small leaderboard written by the test (known values, a tie, a missing subset,
all three trust tiers), opened from file://, then a column header is clicked with real mouse events, a
filter is applied and the resulting row order is asserted; a screenshot is taken. Every request the page
makes must be a file:// URL (no CDN, no network). The DevTools client is a ~60-line stdlib websocket.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.columns import empty_metrics
from hmtir.leaderboard.render import build_site
from hmtir.leaderboard.schema import RESULT_SCHEMA_ID, records_relpath
from hmtir.leaderboard.scoring import records_csv
from hmtir.leaderboard.store import write_entry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Debian chromium is not installed (CI installs it: apt-get install chromium)",
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-allow-origins=*", "--window-size=1280,900", "--remote-debugging-port=0",
]  # fmt: skip
DEMO_SUBSETS = ["composited/normal", "composited/hard", "single/contrast", "single/blur", "single/noise"]


class DevTools:
    """Minimal Chrome DevTools Protocol client over a raw RFC 6455 websocket (client frames are masked)."""

    def __init__(self, url: str) -> None:
        host_port, path = url.removeprefix("ws://").split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert b" 101 " in response.split(b"\r\n", 1)[0], response
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "DevTools connection closed"
            data += chunk
        return data

    def _read_message(self) -> dict[str, Any]:
        payload = b""
        while True:
            first, second = self._recv_exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._recv_exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._recv_exact(8))[0]
            data = self._recv_exact(length)
            opcode = first & 0x0F
            if opcode in (0x1, 0x0):
                payload += data
                if first & 0x80:
                    return json.loads(payload)
            elif opcode == 0x8:
                raise AssertionError("DevTools closed the connection")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        if len(message) < 126:
            header += bytes([0x80 | len(message)])
        elif len(message) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(message))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(message))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(message)))
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def open(self, page: Path) -> None:
        """Load a local page and wait (30 s at most) until it says it is ready (``body[data-ready]``)."""
        self.call("Network.enable")
        self.call("Page.enable")
        self.call("Page.navigate", url=page.as_uri())
        deadline = time.monotonic() + 30
        while self.js("document.body && document.body.dataset.ready") != "true":
            assert time.monotonic() < deadline, "page never became ready"
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the centre of the element."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center', inline: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


def _entry(method: str, kind: str, trust: str, psnr: dict[str, float], seconds: float | None, params: int | None,
           bench: str = "demo") -> dict[str, Any]:  # fmt: skip
    subsets = {}
    for subset, value in psnr.items():
        metrics = empty_metrics()
        metrics.update({"psnr": value, "ssim": round(value / 40, 4)})
        subsets[subset] = {"images": 8, "metrics": metrics, "seconds_per_image": seconds}
    return {
        "schema": RESULT_SCHEMA_ID,
        "method": {"name": method, "display_name": method.upper(), "kind": kind, "parameters": params},
        "benchmark": {
            "name": bench,
            "version": "1",
            "manifest_sha256": (get_benchmark(bench).manifest_sha256 or "ab" * 32)
            if trust != "reported"
            else None,
        },
        "trust": trust,
        "subsets": subsets,
        "runtime": {
            "seconds_per_image": seconds,
            "hardware": "test CPU",
            "measured_by": "hmtir" if seconds else None,
        },
        "records": None,
        "provenance": {
            "hmtir_version": "0",
            "source": "test",
            **({"submission": method} if trust == "recomputed" else {}),  # a submission's row names its id
        },
    }


def _write(board: Path, entry: dict[str, Any]) -> None:
    if entry["trust"] != "reported":
        rows = [
            {"subset": s, "name": "a.png", "psnr": b["metrics"]["psnr"]} for s, b in entry["subsets"].items()
        ]
        text = records_csv(rows, ["psnr"], [])
        import hashlib

        entry["records"] = {
            "file": records_relpath(entry),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "rows": len(rows),
        }
        write_entry(board, entry, text)
    else:
        write_entry(board, entry, None)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    board = tmp_path_factory.mktemp("board")
    full = dict.fromkeys(DEMO_SUBSETS)
    _write(board, _entry("alpha", "learned", "verified", {s: 30.0 for s in full}, 0.5, 2_000_000))
    _write(
        board, _entry("bravo", "classical", "verified", {s: 29.5 + i for i, s in enumerate(full)}, 0.05, 0)
    )
    _write(
        board, _entry("charlie", "classical", "recomputed", {s: 30.0 for s in full}, None, None)
    )  # ties alpha
    _write(
        board, _entry("delta", "learned", "verified", {"composited/normal": 35.0}, 1.0, 5_000)
    )  # one subset only
    _write(board, _entry("echo", "learned", "reported", {"composited/normal": 40.0}, None, None))
    return build_site(board, tmp_path_factory.mktemp("out") / "site").out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            assert proc.poll() is None, "chromium exited during start-up"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port within 60 s"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _order(tools: DevTools) -> list[str]:
    return tools.js("Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.dataset.method)")


def _cells(tools: DevTools, key: str) -> list[str]:
    return tools.js(
        f"Array.from(document.querySelectorAll('#board tbody td[data-key={key}]')).map(t => t.textContent)"
    )


def test_sort_filter_and_screenshot_in_chromium(site: Path, browser: DevTools, tmp_path: Path) -> None:
    browser.open(site / "index.html")

    # default order: measured rows by overall rank, then reported rows (ranked on their own)
    # bravo: subset ranks 4,1,1,1,1 → mean 1.6; alpha and charlie tie (2 everywhere); delta misses 4 subsets
    assert _order(browser) == ["bravo", "alpha", "charlie", "delta", "echo"]
    assert _cells(browser, "rank") == ["1", "2", "2", "", "1"]

    browser.click("th[data-key=avg_psnr]")  # first click: best first (PSNR: descending)
    assert _order(browser) == ["bravo", "alpha", "charlie", "delta", "echo"]
    browser.click("th[data-key=avg_psnr]")  # second click reverses; empty cells stay last
    assert _order(browser) == ["alpha", "charlie", "bravo", "delta", "echo"]
    assert (
        browser.js("document.querySelector('th[data-key=avg_psnr]').getAttribute('aria-sort')") == "ascending"
    )
    browser.click("th[data-key=seconds]")  # runtime: fastest first
    assert _order(browser) == ["bravo", "alpha", "delta", "charlie", "echo"]
    assert _cells(browser, "avg_psnr") == ["31.50", "30.00", "", "30.00", ""]

    browser.js("(() => { const s = document.getElementById('filter-tier'); s.value = 'verified';"
               " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
    browser.click("#tabs button[data-subset='composited/normal']")
    browser.click("th[data-key=psnr]")
    assert _order(browser) == ["delta", "alpha", "bravo"]
    assert _cells(browser, "rank") == [
        "1",
        "2",
        "4",
    ]  # charlie (filtered out) still holds rank 2 with alpha: ties kept

    browser.js("window.scrollTo(0, 0)")
    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    path = tmp_path / "leaderboard.png"
    path.write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
    if os.environ.get("HMTIR_SCREENSHOT"):
        Path(os.environ["HMTIR_SCREENSHOT"]).write_bytes(shot)

    urls = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert urls and all(u.startswith("file://") for u in urls), urls
