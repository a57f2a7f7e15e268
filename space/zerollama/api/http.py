"""HTTP plumbing shared by the Ollama and OpenAI routes: body limits, auth, JSON/NDJSON responses."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ..core.errors import ApiError

NDJSON = "application/x-ndjson"
INTERNAL_ERROR = "internal error: the server could not answer this request (details are in the server log)"
log = logging.getLogger("zerollama.http")
R = TypeVar("R")


async def off_loop(work: Callable[..., R], *args: Any) -> R:
    """Runs CPU work (parsing, templating, tokenising) in a worker thread, so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(partial(work, *args))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def read_body(request: Request) -> bytes:
    """The request body, already held to ZEROLLAMA_MAX_BODY_BYTES and its timeout by the access guard
    (guard.py), which every route sits behind. Kept on the request, so an internal error can be logged
    with the request's model."""
    request.state.body = await request.body()
    return request.state.body


UNAUTHORIZED = "unauthorized: send the Space's API key as 'Authorization: Bearer <key>' or 'X-API-Key'"


def offered_keys(headers: Mapping[str, str]) -> list[str]:
    """The keys a request offers: `X-API-Key: <key>` or `Authorization: Bearer <key>`.

    X-API-Key exists for private Spaces, where Authorization already carries the caller's HF token.
    """
    offered = [headers.get("x-api-key", "")]
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        offered.append(authorization[7:].strip())
    return offered


def key_matches(offered: Iterable[Any], expected: str) -> bool:
    """Constant-time comparison of each offered key with the Space's key (never logged)."""
    return any(
        isinstance(o, str) and o and hmac.compare_digest(o.encode(errors="replace"), expected.encode()) for o in offered
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, allow_nan=False),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def error_response(error: ApiError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return json_response({"error": error.message}, error.status, headers)


def ndjson_response(lines: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def encode() -> AsyncIterator[bytes]:
        async for line in lines:
            yield (json.dumps(line, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(encode(), media_type=NDJSON, headers={"X-Accel-Buffering": "no"})


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler, error_shape: Callable[[ApiError], Response] = error_response) -> Handler:
    """The one conversion to HTTP: an ApiError becomes its JSON error; anything unexpected a 500 whose detail
    goes to the log (with the route and the request's model), never to the caller. (The key is checked
    before any route runs, by the access guard: guard.py.)"""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error_shape(error)
        except Exception:  # the server keeps serving; the detail is for the log only
            where = f"{request.method} {request.url.path}"
            log.exception("internal error on %s (model %s)", where, request_model(request))
            return error_shape(ApiError(500, INTERNAL_ERROR))

    run.__name__ = handler.__name__
    return run


def request_model(request: Request) -> str:
    """The model a request named (for the log), read from the body it sent; "?" when there is none."""
    try:
        body = json.loads(getattr(request.state, "body", b"") or b"{}")
        name = body.get("model") or body.get("name") if isinstance(body, dict) else None
    except (ValueError, RecursionError):
        name = None
    return repr(name[:100]) if isinstance(name, str) else "?"


class RootProbe:
    """ASGI middleware: `GET /` and `HEAD /` answer "Ollama is running" unless a browser asks for HTML.

    Gradio owns `/` for its page; API clients (the Go CLI's heartbeat, health checks) expect Ollama's text.
    Until `ready` is set (the API routes are attached after launch) GET answers 503, so "running" means usable;
    HEAD then goes to Gradio, whose own start-up check probes `HEAD /`.
    """

    def __init__(self, app: Any, ready: threading.Event) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
            ready = self.ready.is_set()
            if "text/html" not in accept and (ready or scope["method"] == "GET"):
                body = b"Ollama is running" if ready else b"starting"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200 if ready else 503,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
                return
        await self.app(scope, receive, send)
