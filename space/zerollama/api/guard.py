"""The access guard: one ASGI middleware in front of every route the app serves (the Ollama and OpenAI
routes, the catalog route, and all of Gradio's own), so nothing can be reached around it.

For every request it
- holds the body to `max_body_bytes` (413) and to `body_timeout_seconds` (408), on every route;
- turns Gradio's uploads off (nothing on the page takes files);
- with a key set (ZEROLLAMA_API_KEY), lets a request through only if it offers the key, except:
  - the page's shell (PAGE_SHELL: HTML, scripts, styles, config, heartbeat), which shows no protected data;
  - Gradio's event entrances (EVENT_ENTRANCES), which also take the key as the event's first input: the
    page's key box, since a browser page cannot add headers to Gradio's calls. Sessions that joined with
    the key may then read their own results (`queue/data`) and cancel their own events.
  Anything else (a route added later included) needs the key: the guard allows by list, not by exception.

Event bodies are also checked like API bodies (JSON nesting depth, lone surrogates): 400, before Gradio
parses them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from ..core.errors import ApiError
from ..core.schemas import check_tree
from ..settings import HttpSettings
from .http import UNAUTHORIZED, error_response, key_matches, log_refusal, off_loop, offered_keys
from .openai import openai_error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Read-only parts of the page: what a browser needs to draw it and nothing the key protects.
PAGE_SHELL = re.compile(
    r"/|/config/?|/gradio_api/config/?|/gradio_api/info/?|/theme\.css|/gradio_api/theme\.css|/favicon\.ico"
    r"|/robots\.txt|/manifest\.json|/pwa_icon(/[^/]+)?|/(assets|static|svelte)/.+"
    r"|/gradio_api/heartbeat/[^/]+|/gradio_api/startup-events|/gradio_api/app_id/?|/gradio_api/login_check/?"
)
# Where Gradio starts an event (that can run a handler, so spend GPU): the key may come as its first input.
EVENT_ENTRANCES = re.compile(r"/gradio_api/(queue/join|run/[^/]+/?|api/[^/]+/?|call/(v2/)?[^/]+/?)")
# Where a session reads or stops its own events: allowed for sessions that joined with the key.
SESSION_ROUTES = re.compile(r"/gradio_api/(queue/data|cancel|reset/?)")
# Off whatever the key: the page has no file inputs, so nothing needs to upload.
TURNED_OFF = re.compile(r"/gradio_api/(upload|upload_progress|process_recording)/?")
ADMITTED_SESSIONS = 10_000


class AccessGuard:
    def __init__(self, app: Any, settings: HttpSettings) -> None:
        self.app = app
        self.settings = settings
        self._admitted: OrderedDict[str, None] = OrderedDict()  # session hashes that joined with the key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            if scope["type"] == "websocket":
                self._check_key(scope)
                await self.app(scope, receive, send)
                return
            body = await self._read_body(scope, receive)
            if body is None:
                return  # the client left
            await self._check(scope, body)
        except ApiError as error:
            if scope["type"] == "http":
                await _send_error(scope, send, error)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _check(self, scope: Scope, body: bytes) -> None:
        path = scope["path"]
        if TURNED_OFF.fullmatch(path):
            raise ApiError(403, "uploads are turned off on this server")
        event = scope["method"] == "POST" and EVENT_ENTRANCES.fullmatch(path)
        payload = await off_loop(_event_payload, body) if event else None
        if not self.settings.api_key or PAGE_SHELL.fullmatch(path) or self._has_key(scope):
            self._admit(payload)
            return
        if event and isinstance(payload, dict) and self._page_key(payload):
            self._admit(payload)
            return
        if SESSION_ROUTES.fullmatch(path) and self._session(scope, body) in self._admitted:
            return
        raise ApiError(401, UNAUTHORIZED)

    def _check_key(self, scope: Scope) -> None:
        if self.settings.api_key and not self._has_key(scope):
            raise ApiError(401, UNAUTHORIZED)

    def _has_key(self, scope: Scope) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        return key_matches(offered_keys(headers), self.settings.api_key)

    def _page_key(self, payload: dict[str, Any]) -> bool:
        data = payload.get("data")
        return isinstance(data, list) and bool(data) and key_matches([data[0]], self.settings.api_key)

    def _admit(self, payload: Any) -> None:
        session = payload.get("session_hash") if isinstance(payload, dict) else None
        if isinstance(session, str) and session:
            self._admitted[session] = None
            self._admitted.move_to_end(session)
            while len(self._admitted) > ADMITTED_SESSIONS:
                self._admitted.popitem(last=False)

    @staticmethod
    def _session(scope: Scope, body: bytes) -> str | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("session_hash"):
            return query["session_hash"][0]
        try:
            payload = json.loads(body) if body and len(body) < 4096 else None
        except (ValueError, RecursionError):
            return None
        session = payload.get("session_hash") if isinstance(payload, dict) else None
        return session if isinstance(session, str) else None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, within the size limit (413) and the body timeout (408); None if the client left."""
        limit = self.settings.max_body_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"request body too large: limit is {limit} bytes")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_seconds
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise ApiError(408, "request body timed out: send it faster or smaller") from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"request body too large: limit is {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _event_payload(body: bytes) -> Any:
    """An event body, parsed and checked like an API body (400 for nesting too deep or lone surrogates)."""
    if not body.strip():
        return None
    try:
        payload = json.loads(body)
    except RecursionError:
        raise ApiError(400, "invalid JSON: nested too deeply") from None
    except ValueError:
        return None  # Gradio answers malformed JSON itself
    check_tree(payload)
    return payload


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the client's later messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_error(scope: Scope, send: Send, error: ApiError) -> None:
    """The error in the shape of the route's API: OpenAI's for /v1, Ollama's everywhere else."""
    log_refusal(scope.get("method", "?"), scope["path"], error)
    shape = openai_error if scope["path"].startswith("/v1/") else error_response
    response = shape(error)
    if error.status in (408, 413):
        response.headers["Connection"] = "close"
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
