"""HTTP plumbing shared by the Ollama and OpenAI routes: body limits, auth, JSON/NDJSON responses."""

from __future__ import annotations

import hmac
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from .errors import ApiError

NDJSON = "application/x-ndjson"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def max_body_bytes() -> int:
    return int(os.environ.get("ZEROLLAMA_MAX_BODY_BYTES", str(16 * 1024 * 1024)))


async def read_body(request: Request) -> bytes:
    """The request body, refusing (413) anything over ZEROLLAMA_MAX_BODY_BYTES before reading it all."""
    limit = max_body_bytes()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body too large: limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body too large: limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_api_key(request: Request) -> None:
    """ZEROLLAMA_API_KEY, when set, is required as `Authorization: Bearer <key>` or `X-API-Key: <key>`.

    X-API-Key exists for private Spaces, where Authorization already carries the caller's HF token.
    """
    expected = os.environ.get("ZEROLLAMA_API_KEY", "")
    if not expected:
        return
    offered = [request.headers.get("x-api-key", "")]
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        offered.append(authorization[7:].strip())
    if not any(o and hmac.compare_digest(o.encode(), expected.encode()) for o in offered):
        raise ApiError(401, "unauthorized: send the Space's API key as 'Authorization: Bearer <key>' or 'X-API-Key'")


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
    """Auth first; any ApiError becomes its JSON error; anything unexpected a 500 JSON error, never a crash."""

    async def run(request: Request) -> Response:
        try:
            check_api_key(request)
            return await handler(request)
        except ApiError as error:
            return error_shape(error)
        except Exception as error:  # noqa: BLE001 - the server keeps serving
            return error_shape(ApiError(500, f"internal error: {type(error).__name__}: {error}"))

    run.__name__ = handler.__name__
    return run


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
