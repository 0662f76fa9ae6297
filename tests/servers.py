"""Real HTTP servers on 127.0.0.1 for download tests: Drive-like, plain (with drops), and a minimal HF hub.

Each server runs ``http.server`` in a thread on an ephemeral port and logs every request it gets
(method, path, query, headers), so tests can assert what the client actually sent.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Route = Callable[["Request"], None]


@dataclass
class Request:
    """What a route sees; ``reply`` helpers write the response."""

    handler: BaseHTTPRequestHandler
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        h = self.handler
        h.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        if "content-length" not in sent:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self.method != "HEAD":
            h.wfile.write(body)

    def reply_file(
        self, data: bytes, content_type: str = "application/octet-stream", ranges: bool = True, **extra: str
    ) -> None:
        """Serve ``data`` honouring ``Range: bytes=N-`` (206 + Content-Range, 416 past the end) and
        ``If-Range`` against the ``ETag``/``Last-Modified`` given in ``extra``; ``ranges=False`` is a server
        that ignores Range and always answers 200 with the whole file."""
        headers = {"Content-Type": content_type, "Accept-Ranges": "bytes" if ranges else "none", **extra}
        rng = self.headers.get("range")
        if_range = self.headers.get("if-range")
        current = {v for k, v in extra.items() if k.lower() in ("etag", "last-modified")}
        if ranges and rng and rng.startswith("bytes=") and (if_range is None or if_range in current):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self.reply(206, data[start:], headers)
            return
        self.reply(200, data, headers)

    def reply_truncated(self, data: bytes, cut: int, **extra: str) -> None:
        """Promise all of ``data`` (Content-Length) but send only ``cut`` bytes, then drop the connection."""
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Accept-Ranges", "bytes")
        for key, value in extra.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data[:cut])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(2)  # socket.SHUT_RDWR: the client sees the stream end early

    def reply_unsized(self, data: bytes) -> None:
        """200 without Content-Length, the end marked only by closing the connection (HTTP/1.0 style)."""
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        h.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply (as the downloader does when it refuses a reply) is no server error."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Loopback:
    """An HTTP server on 127.0.0.1 with path → route handlers and a request log."""

    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                req = Request(
                    self, self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}
                )
                server.log.append(req)
                route = server.routes.get(parts.path) or server.routes.get("*")
                if route is None:
                    req.reply(404, b"not found", {"Content-Type": "text/plain"})
                else:
                    route(req)

            do_GET = do_HEAD = _dispatch

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def drive_route(files: dict[str, bytes], style: str = "form") -> Route:
    """A Google-Drive-like ``/download`` endpoint: an interstitial page first, the file after confirming.

    ``style="form"`` mimics drive.usercontent.google.com (hidden id/export/confirm/uuid inputs);
    ``style="link"`` the older ``/uc?export=download&confirm=TOKEN&id=ID`` link; ``style="html-only"``
    a quota page that never yields the file.
    """

    def route(req: Request) -> None:
        file_id = req.query.get("id", "")
        if file_id not in files:
            req.reply(404, b"<!DOCTYPE html><html>not found</html>", {"Content-Type": "text/html"})
            return
        confirmed = req.query.get("confirm") == "t0k3n" and (
            style != "form" or req.query.get("uuid") == "u-123"
        )
        if style == "html-only" or not confirmed:
            if style == "form":
                page = (
                    "<!DOCTYPE html><html><body><p>Google Drive can't scan this file for viruses.</p>"
                    f'<form id="download-form" action="{req.path}" method="get">'
                    '<input type="submit" value="Download anyway"/>'
                    f'<input type="hidden" name="id" value="{file_id}">'
                    '<input type="hidden" name="export" value="download">'
                    '<input type="hidden" name="confirm" value="t0k3n">'
                    '<input type="hidden" name="uuid" value="u-123"></form></body></html>'
                )
            elif style == "link":
                page = (
                    "<html><body>Virus scan warning. "
                    f'<a id="uc-download-link" href="{req.path}?export=download&amp;confirm=t0k3n&amp;id={file_id}">'
                    "Download anyway</a></body></html>"
                )
            else:
                page = "<!DOCTYPE html><html><body>Too many users have viewed or downloaded this file recently.</body></html>"
            req.reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
            return
        req.reply_file(files[file_id], **{"Content-Disposition": f'attachment; filename="{file_id}.bin"'})

    return route


def hf_route(repo_id: str, files: dict[str, bytes], commit: str = "a" * 40) -> Route:
    """The slice of the Hugging Face hub that ``hf_hub_download`` uses: HEAD then GET on
    ``/{repo_id}/resolve/{revision}/{filename}``, with X-Repo-Commit, ETag and Content-Length."""
    prefix = f"/{repo_id}/resolve/"

    def route(req: Request) -> None:
        if not req.path.startswith(prefix):
            req.reply(
                404, b"Repository not found", {"X-Error-Code": "RepoNotFound", "Content-Type": "text/plain"}
            )
            return
        _revision, _, filename = req.path[len(prefix) :].partition("/")
        if filename not in files:
            req.reply(
                404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "Content-Type": "text/plain"}
            )
            return
        data = files[filename]
        etag = hashlib.sha256(data).hexdigest()
        req.reply_file(data, "application/octet-stream", **{"X-Repo-Commit": commit, "ETag": f'"{etag}"'})

    return route
