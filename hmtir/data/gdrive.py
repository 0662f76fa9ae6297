"""Google Drive's interstitial pages: find the link that confirms a large-file download.

Drive answers a large file with a web page ("can't scan this file for viruses") instead of the bytes;
the confirmation form (or the older ``confirm=`` link, or a ``download_warning`` cookie) yields the URL
that serves the file itself, which :mod:`hmtir.data.transfer` then fetches.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from hmtir.data.transfer import CHUNK, TIMEOUT, MirrorFailed, describe, looks_like_html


class _ConfirmParser(HTMLParser):
    """Collects the download form (action + hidden inputs) and any ``confirm=`` link of a Drive page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.links: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")
        elif tag == "a" and "confirm=" in a.get("href", ""):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def drive_confirm_url(page: str, page_url: str) -> str | None:
    """The URL that confirms a large-file download on a Drive interstitial page, or None.

    Handles the current ``drive.usercontent.google.com`` form (hidden ``id``/``export``/``confirm``/
    ``uuid`` inputs) and the older ``/uc?export=download&confirm=TOKEN&id=ID`` link.
    """
    parser = _ConfirmParser()
    parser.feed(page)
    for action, inputs in parser.forms:
        if "confirm" in inputs and "id" in inputs:
            target = urlsplit(urljoin(page_url, action or page_url))
            query = dict(parse_qsl(target.query))
            query.update(inputs)
            return urlunsplit(target._replace(query=urlencode(query)))
    if parser.links:
        return urljoin(page_url, parser.links[0])
    return None


def confirmed_url(session, url: str) -> str:  # noqa: ANN001
    """Follow Drive's confirmation pages until the URL serves the file itself."""
    import requests

    for _ in range(3):
        try:
            with session.get(url, stream=True, timeout=TIMEOUT) as resp:
                if resp.status_code >= 400:
                    raise MirrorFailed(f"HTTP {resp.status_code} from {url}")
                head = next(resp.iter_content(CHUNK), b"")
                if not looks_like_html(resp.headers.get("Content-Type"), head):
                    return url
                page = (head + resp.raw.read(1 << 20)).decode("utf-8", "replace")
                token = next((v for k, v in resp.cookies.items() if k.startswith("download_warning")), None)
                page_url = resp.url
        except requests.RequestException as err:
            raise MirrorFailed(f"{url}: {describe(err)}") from None
        confirm = drive_confirm_url(page, page_url)
        if confirm is None and token:
            parts = urlsplit(url)
            confirm = urlunsplit(
                parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), "confirm": token}))
            )
        if confirm is None:
            raise MirrorFailed(
                f"Google Drive returned a web page without a download link for {url} (quota or permissions?)"
            )
        url = confirm
    raise MirrorFailed(f"Google Drive kept asking for confirmation at {url}")
