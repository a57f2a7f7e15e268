"""A local stand-in for the Hugging Face Hub's download endpoints, serving files from folders.

huggingface_hub (the real client the server uses for /api/pull) reads the file list from
`GET /api/models/{repo}[/revision/{rev}]` and downloads with `HEAD`/`GET /{repo}/resolve/{rev}/{file}`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, with_body=False)

            def do_GET(self) -> None:
                hub.answer(self, with_body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def files(self, repo: str) -> dict[str, Path]:
        folder = self.repos[repo]
        return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def answer(self, handler: BaseHTTPRequestHandler, with_body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        if path.startswith("/api/models/"):
            repo = path.removeprefix("/api/models/").split("/revision/")[0]
            if repo not in self.repos:
                return self.send(handler, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            siblings = []
            for name, file in self.files(repo).items():
                data = file.read_bytes()
                sibling = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
                if name.endswith(".safetensors"):
                    sibling["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
                siblings.append(sibling)
            body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings, "private": False})
            return self.send(handler, 200, body.encode(), {"Content-Type": "application/json"}, with_body)
        for repo in self.repos:
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                _, _, name = path.removeprefix(prefix).partition("/")
                file = self.files(repo).get(name)
                if file is None:
                    return self.send(handler, 404, b"not found", {"X-Error-Code": "EntryNotFound"})
                data = file.read_bytes()
                headers = {
                    "X-Repo-Commit": COMMIT,
                    "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                    "Content-Type": "application/octet-stream",
                }
                return self.send(handler, 200, data, headers, with_body)
        self.send(handler, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str], with_body: bool = True
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if with_body:
            handler.wfile.write(body)
