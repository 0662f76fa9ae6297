"""A minimal Hugging Face Hub on 127.0.0.1: the routes ``HfApi.create_repo`` and ``HfApi.upload_folder`` call.

Read off huggingface_hub 2.4's ``hf_api.py``, ``_commit_api.py`` and ``_upload_pipeline.py``:

    POST /api/repos/create                          {name, organization, type} -> {url}; 409 when it exists
    POST /api/validate-yaml                         {content, repoType}: the README's front matter is checked
    POST /api/{type}s/{owner}/{name}/preupload/{rev}  {files: [{path, sample, size}]} -> every file "regular"
    POST /api/{type}s/{owner}/{name}/commit/{rev}     NDJSON: a header line, then one line per file (base64)

Answering "regular" keeps LFS and Xet out of it: the file bytes travel inside the commit. Every request
must carry ``Authorization: Bearer <token>`` (else 401, as the Hub answers a bad token). ``fail`` makes a
route answer an error status instead, and anything else is a 404 recorded in ``unexpected``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field

import yaml

from tests.servers import Loopback, Request

REPO_ROUTE = re.compile(
    r"^/api/(?P<type>dataset|model|space)s/(?P<repo>[^/]+/[^/]+)/(?P<op>preupload|commit)/[^/]+$"
)


@dataclass
class Commit:
    repo: str
    summary: str
    paths: list[str]


@dataclass
class HubStandIn:
    token: str = "hf_standin_token"
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo id -> path -> bytes
    repo_types: dict[str, str] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # route names, in order
    unexpected: list[str] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # route name -> status to answer instead

    def __post_init__(self) -> None:
        self.server = Loopback(routes={"*": self._route})
        handler = self.server.httpd.RequestHandlerClass
        handler.do_POST = handler._dispatch  # type: ignore[attr-defined]  # Loopback serves GET/HEAD only

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()

    def __enter__(self) -> HubStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ routing

    def _route(self, req: Request) -> None:
        length = int(req.headers.get("content-length") or 0)
        body = req.handler.rfile.read(length) if length else b""
        match = REPO_ROUTE.match(req.path)
        if req.method == "POST" and req.path == "/api/repos/create":
            name = "create"
        elif req.method == "POST" and req.path == "/api/validate-yaml":
            name = "validate-yaml"
        elif req.method == "POST" and match:
            name = match["op"]
        else:
            self.unexpected.append(f"{req.method} {req.path}")
            self._error(req, 404, "not served by the stand-in", "EntryNotFound")
            return
        self.calls.append(name)
        if req.headers.get("authorization") != f"Bearer {self.token}":
            self._error(req, 401, "Invalid credentials in Authorization header")
            return
        if name in self.fail:
            self._error(req, self.fail[name], f"{name} refused by the stand-in")
            return
        if name == "create":
            self._create(req, json.loads(body))
        elif name == "validate-yaml":
            self._validate(req, json.loads(body))
        elif match["repo"] not in self.repos or self.repo_types[match["repo"]] != match["type"]:
            self._error(req, 404, "Repository not found", "RepoNotFound")
        elif name == "preupload":
            files = json.loads(body)["files"]
            answer = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                for f in files
            ]
            self._json(req, 200, {"files": answer, "commitOid": "0" * 40})
        else:
            self._commit(req, match["repo"], body)

    def _create(self, req: Request, payload: dict) -> None:
        repo = f"{payload['organization']}/{payload['name']}"
        kind = payload.get("type") or "model"
        url = f"{self.url}/{'' if kind == 'model' else kind + 's/'}{repo}"
        if repo in self.repos:
            self._json(req, 409, {"error": "You already created this repo", "url": url})
            return
        self.repos[repo], self.repo_types[repo] = {}, kind
        self._json(req, 200, {"url": url, "name": repo})

    def _validate(self, req: Request, payload: dict) -> None:
        content = payload["content"]
        try:
            if not content.startswith("---\n"):
                raise ValueError("no YAML front matter")
            meta = yaml.safe_load(content[4 : content.index("\n---", 4)])
            if not isinstance(meta, dict):
                raise ValueError("front matter is not a mapping")
        except (ValueError, yaml.YAMLError) as err:
            self._json(req, 400, {"errors": [{"message": str(err)}]})
            return
        self._json(req, 200, {"errors": [], "warnings": []})

    def _commit(self, req: Request, repo: str, body: bytes) -> None:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            self._error(req, 400, "commit payload must start with a header line")
            return
        added: dict[str, bytes] = {}
        for line in lines[1:]:
            if line["key"] != "file" or line["value"].get("encoding") != "base64":
                self._error(req, 422, f"the stand-in takes regular base64 files only, not {line['key']}")
                return
            added[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
        self.repos[repo].update(added)
        self.commits.append(Commit(repo, lines[0]["value"]["summary"], sorted(added)))
        oid = hashlib.sha1(json.dumps(sorted(added)).encode() + str(len(self.commits)).encode()).hexdigest()
        url = f"{self.url}/datasets/{repo}/commit/{oid}"
        self._json(req, 200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})

    # ----------------------------------------------------------------------------------------- replies

    @staticmethod
    def _json(req: Request, status: int, payload: dict) -> None:
        req.reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _error(self, req: Request, status: int, message: str, code: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        req.reply(status, json.dumps({"error": message}).encode(), headers)
