"""A loopback stand-in of the ZeroGPU device API that `spaces` calls (SPACES_ZERO_DEVICE_API_URL).

It answers as the real scheduler does (`spaces/zero/api.py` reads these shapes): `/schedule` grants with
`{idle, nvidiaIndex, nvidiaUUID, allowToken}`, refuses with 429 `{left, wait}`, queues with an SSE stream of
ping / failed / succeeded events, or fails with 503 / 401; `/startup-report`, `/allow` and `/release` answer
200. Tests script the next `/schedule` answers and read every call back from `calls`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Call:
    path: str
    params: dict[str, str]
    at: float  # time.time() when it arrived


@dataclass(frozen=True)
class Grant:
    """200 with a grant at once (`idle`: the GPU's previous worker may be reused)."""


@dataclass(frozen=True)
class QuotaRefusal:
    """429 {left, wait}: wait < 0 is an illegal duration, 0 the runs limit, > 0 the quota's reset."""

    left: int
    wait_seconds: int
    auth: str | None = "pro"


@dataclass(frozen=True)
class Queued:
    """200 text/event-stream: `pings` pings a `gap` apart, then succeeded (a grant) or failed."""

    pings: int = 1
    gap: float = 0.05
    succeed: bool = True


@dataclass(frozen=True)
class Status:
    """A bare status: 503 (no GPU) or 401 (expired proxy token)."""

    code: int


Answer = Grant | QuotaRefusal | Queued | Status


@dataclass
class DeviceApi:
    calls: list[Call] = field(default_factory=list)
    script: list[Answer] = field(default_factory=list)
    outstanding: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> DeviceApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                api.record(Call(parts.path, params, time.time()))
                if parts.path == "/schedule":
                    api.schedule(self)
                    return
                if parts.path == "/release":
                    api.outstanding.discard(params.get("allowToken", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="device-api", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.script.clear()

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if self.script else Grant()

    def _grant(self) -> dict[str, Any]:
        with self._lock:
            idle = not self.outstanding
            token = uuid.uuid4().hex
            self.outstanding.add(token)
        return {"idle": idle, "nvidiaIndex": 0, "nvidiaUUID": "GPU-emulated-0", "allowToken": token}

    def schedule(self, handler: BaseHTTPRequestHandler) -> None:
        answer = self._next_answer()
        if isinstance(answer, Grant):
            _send_json(handler, 200, self._grant())
        elif isinstance(answer, QuotaRefusal):
            headers = {"X-Authenticated": answer.auth} if answer.auth else {}
            _send_json(handler, 429, {"left": answer.left, "wait": answer.wait_seconds}, headers)
        elif isinstance(answer, Queued):
            self._queue(handler, answer)
        else:
            handler.send_response(answer.code)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

    def _queue(self, handler: BaseHTTPRequestHandler, answer: Queued) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("X-Queuing-Reason", "node")
        handler.send_header("Connection", "close")
        handler.end_headers()
        events = ["event: ping\n\n"] * answer.pings
        final = f"event: succeeded\ndata: {json.dumps(self._grant())}\n\n" if answer.succeed else "event: failed\n\n"
        for event in [*events, final]:
            time.sleep(answer.gap)  # spaces parses one event per chunk it reads
            handler.wfile.write(event.encode())
            handler.wfile.flush()
        handler.close_connection = True


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
