"""A stand-in for the Hugging Face Hub's write API on 127.0.0.1, for huggingface_hub's own client
(``HfApi(endpoint=...)``). Only what ``create_repo`` + ``create_commit`` call, read from huggingface_hub 2.4.0
in .venv:

* ``POST /api/repos/create`` json ``{name, organization, visibility, type}`` -> ``{"url"}``; 409 when it exists
  (hf_api.py ``create_repo``: ``exist_ok`` swallows 409).
* ``POST /api/validate-yaml`` json ``{content, repoType}`` -> ``{"errors", "warnings"}``, 400 on errors
  (hf_api.py ``_validate_yaml``, called for a README.md in the commit).
* ``POST /api/models/{repo}/preupload/{revision}`` json ``{files: [{path, sample, size}]}`` ->
  ``{files: [{path, uploadMode: "lfs"|"regular", shouldIgnore, oid}]}`` (_commit_api.py ``_fetch_upload_modes``).
* ``POST /{repo}.git/info/lfs/objects/batch`` (git LFS batch API, ``transfers: ["basic", "multipart"]``) ->
  ``{transfer, objects: [{oid, size, actions: {upload: {href}, verify: {href}}}]}`` (lfs.py ``post_lfs_batch_info``);
  then ``PUT`` of the bytes to the upload href (pre-signed, no token) and ``POST {oid, size}`` to the verify href (lfs.py ``lfs_upload``).
* ``POST /api/models/{repo}/commit/{revision}`` ndjson: a ``header`` line ``{summary, description}``, then
  ``file`` (base64 content) and ``lfsFile`` (``{path, algo, oid, size}``) lines -> ``{commitUrl, commitOid}``
  (_commit_api.py ``_prepare_commit_payload`` / ``_send_commit``).

Which files are LFS: the Hub decides per repo from ``.gitattributes`` (binary model formats) and size; here
anything that is not UTF-8 text or is over 10 MB, which is what the Hub's default .gitattributes amounts to for
the files a checkpoint holds. Every request needs ``Authorization: Bearer <token>``, else 401.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
from dataclasses import dataclass, field

import yaml


@dataclass
class Repo:
    private: bool
    commits: list[dict] = field(default_factory=list)  # {"summary", "files": {path: bytes}}

    def files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for commit in self.commits:
            out.update(commit["files"])
        return out


class HubApiServer:
    def __init__(self, *, token: str = "hf_write_token") -> None:
        self.token = token
        self.signature = hashlib.sha256(token.encode()).hexdigest()[:16]
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, code: int, body: object = None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body if body is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                hub.requests.append((self.command, self.path))
                hub.bodies.append(body)
                path, _, query = self.path.partition("?")
                # The upload href is a pre-signed storage URL: the client PUTs to it with no token
                # (lfs.py _upload_single_part), so it is authorised by its signature instead.
                presigned = path.startswith("/lfs-upload/") and query == f"X-Signature={hub.signature}"
                if not presigned and self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._reply(401, {"error": "Invalid credentials in Authorization header"})
                if self.command == "POST" and path == "/api/repos/create":
                    return hub._create(self, json.loads(body))
                if self.command == "POST" and path == "/api/validate-yaml":
                    return hub._validate_yaml(self, json.loads(body))
                if self.command == "POST" and (m := re.fullmatch(r"/api/models/(.+)/preupload/([^/]+)", path)):
                    return hub._preupload(self, m.group(1), json.loads(body))
                if self.command == "POST" and (m := re.fullmatch(r"/(.+)\.git/info/lfs/objects/batch", path)):
                    return hub._batch(self, m.group(1), json.loads(body))
                if self.command == "PUT" and (m := re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)):
                    if hashlib.sha256(body).hexdigest() != m.group(1):
                        return self._reply(400, {"error": "sha256 mismatch"})
                    hub.lfs[m.group(1)] = body
                    return self._reply(200, {})
                if self.command == "POST" and path == "/lfs-verify":
                    info = json.loads(body)
                    ok = info["oid"] in hub.lfs and len(hub.lfs[info["oid"]]) == info["size"]
                    return self._reply(200 if ok else 404, {} if ok else {"error": "object not uploaded"})
                if self.command == "POST" and (m := re.fullmatch(r"/api/models/(.+)/commit/([^/]+)", path)):
                    return hub._commit(self, m.group(1), body)
                return self._reply(404, {"error": f"no route {self.command} {path}"})

            do_GET = do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _create(self, handler, payload: dict) -> None:
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        if payload.get("type") not in (None, "model"):
            return handler._reply(400, {"error": "only model repos here"})
        if repo_id in self.repos:
            return handler._reply(409, {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"})
        self.repos[repo_id] = Repo(private=payload.get("visibility") == "private")
        return handler._reply(200, {"url": f"{self.url}/{repo_id}", "name": repo_id})

    def _validate_yaml(self, handler, payload: dict) -> None:
        match = re.match(r"^---\n(.*?)\n---\n", payload["content"], re.S)
        try:
            meta = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as exc:
            return handler._reply(400, {"errors": [{"message": f"invalid YAML: {exc}"}], "warnings": []})
        if not isinstance(meta, dict):
            return handler._reply(200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]})
        return handler._reply(200, {"errors": [], "warnings": []})

    def _preupload(self, handler, repo_id: str, payload: dict) -> None:
        if repo_id not in self.repos:
            return handler._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        files = []
        for f in payload["files"]:
            sample = base64.b64decode(f["sample"])
            try:
                sample.decode("utf-8")
                text = True
            except UnicodeDecodeError:
                text = False
            mode = "lfs" if (not text or f["size"] > 10 * 1024 * 1024) else "regular"
            files.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": None})
        return handler._reply(200, {"files": files})

    def _batch(self, handler, repo_id: str, payload: dict) -> None:
        if repo_id not in self.repos:
            return handler._reply(404, {"message": "Repository not found"})
        objects = []
        for obj in payload["objects"]:
            actions = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}?X-Signature={self.signature}"},
                       "verify": {"href": f"{self.url}/lfs-verify"}}
            objects.append({"oid": obj["oid"], "size": obj["size"], **({} if obj["oid"] in self.lfs else {"actions": actions})})
        return handler._reply(200, {"transfer": "basic", "objects": objects})

    def _commit(self, handler, repo_id: str, body: bytes) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return handler._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            return handler._reply(400, {"error": "the first line must be the header"})
        files: dict[str, bytes] = {}
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return handler._reply(422, {"error": f"LFS object {value['oid']} of {value['path']} was not uploaded"})
                files[value["path"]] = self.lfs[value["oid"]]
            else:
                return handler._reply(400, {"error": f"unexpected operation {line['key']}"})
        sha = hashlib.sha1(body).hexdigest()
        repo.commits.append({"summary": lines[0]["value"]["summary"], "files": files})
        return handler._reply(200, {"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None})

    def __enter__(self) -> HubApiServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
