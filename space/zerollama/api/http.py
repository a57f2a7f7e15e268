"""HTTP plumbing shared by the Ollama and OpenAI routes: body limits, auth, JSON/NDJSON responses."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Request
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
ErrorShape = Callable[[ApiError], Response]


class Route(NamedTuple):
    """One line of an API's route table: path, methods, handler."""

    path: str
    methods: tuple[str, ...]
    handler: Handler


def router(routes: Iterable[Route], error_shape: ErrorShape = error_response) -> APIRouter:
    """The FastAPI router of a route table, every handler `guarded` (errors answered in `error_shape`)."""
    built = APIRouter()
    for route in routes:
        handler = guarded(route.handler, error_shape)
        built.add_api_route(route.path, handler, methods=list(route.methods), include_in_schema=False)
    return built


def guarded(handler: Handler, error_shape: ErrorShape = error_response) -> Handler:
    """The one conversion to HTTP: an ApiError becomes its JSON error; anything unexpected a 500 whose detail
    goes to the log (with the route and the request's model), never to the caller. Both are logged
    (`log_refusal`). (The key is checked before any route runs, by the access guard: guard.py.)"""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            log_refusal(request.method, request.url.path, error, request_model(request))
            return error_shape(error)
        except Exception:  # the server keeps serving; the detail is for the log only
            where = f"{request.method} {request.url.path}"
            log.exception("internal error on %s (model %s)", where, _shown(request_model(request)))
            return error_shape(ApiError(500, INTERNAL_ERROR))

    run.__name__ = handler.__name__
    return run


def log_refusal(method: str, path: str, error: ApiError, model: str | None = None) -> None:
    """What an operator needs of a request that got an error instead of an answer: its route, its model,
    the status and the reason the caller was given. Never a header, key or token: the request's headers
    are not passed here. A 500's cause is logged where it happened (a GPU job's by `Service`, anything
    else by `guarded`), since the caller is not told it."""
    if error.status >= 500 and error.status not in (503, 504):
        level = logging.ERROR
    elif error.status in (429, 503, 504):
        level = logging.WARNING  # the GPU quota or the platform: the caller retries, the operator watches
    else:
        level = logging.INFO  # the caller's own mistake
    log.log(level, "%s %s answered %d (model %s): %s", method, path, error.status, _shown(model), error.message)


def request_model(request: Request) -> str | None:
    """The model a request named, read from the body it sent; None when there is none."""
    try:
        body = json.loads(getattr(request.state, "body", b"") or b"{}")
        name = body.get("model") or body.get("name") if isinstance(body, dict) else None
    except (ValueError, RecursionError):
        name = None
    return name if isinstance(name, str) else None


def _shown(model: str | None) -> str:
    return repr(model[:100]) if model else "?"


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
