"""A Hugging Face Hub look-alike on loopback: the few endpoints ``snapshot_download`` calls, so the real
huggingface_hub client is exercised with no network. Requests without ``Bearer <token>`` get HTTP 401."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, files: dict[str, bytes], *, token: str = "hf_good") -> None:
        self.files = files
        self.token = token
        self.requests: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, code: int, body: bytes = b"", headers: tuple = ()) -> None:
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                hub.requests.append(f"{self.command} {self.path}")
                js = [("Content-Type", "application/json")]
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._send(401, b'{"error": "Invalid credentials"}', js)
                if m := re.match(r"^/api/models/(.+?)/tree/", self.path):
                    rows = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()} for f, b in hub.files.items()]
                    return self._send(200, json.dumps(rows).encode(), js)
                if m := re.match(r"^/api/models/(.+?)/revision/", self.path):
                    body = {"id": m.group(1), "sha": SHA, "siblings": [{"rfilename": f} for f in hub.files]}
                    return self._send(200, json.dumps(body).encode(), js)
                if (m := re.match(r"^/(.+?)/resolve/([^/]+)/(.+)$", self.path)) and m.group(3) in hub.files:
                    data = hub.files[m.group(3)]
                    return self._send(200, data, (("X-Repo-Commit", SHA), ("ETag", f'"{hashlib.sha1(data).hexdigest()}"')))
                return self._send(404, b'{"error": "not found"}', (*js, ("X-Error-Code", "RepoNotFound")))

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
