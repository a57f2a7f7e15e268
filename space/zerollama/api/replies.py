"""What both APIs share: an API's shape (`Endpoints`), and running a job for a request and answering with
its events.

A job's events (text, tool calls, the end, or a failure) come from `Service.run`. `answer` turns them into
one JSON object or a stream; what each chunk looks like is the API's `ReplyShape` (Ollama's NDJSON chunks in
ollama.py, OpenAI's server-sent events in openai.py). A failure before any output is raised, so it still
gets its HTTP status; once a stream has started, the shape writes it in-stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..core.costs import CostSettings, reply_cost
from ..core.errors import ApiError
from ..core.jobs import Service
from ..core.registry import ModelRegistry
from ..gpu.generation import Event, Failed, Finished, Job, TextDelta, ToolCalls
from .http import Route, error_response, json_response, log_refusal, router

Chunk = dict[str, Any]


class Reply:
    """Accumulates one generation's events into the fields of the final answer."""

    def __init__(self, costs: CostSettings) -> None:
        self.costs = costs
        self.started = time.monotonic()
        self.text = ""
        self.tool_calls: list[dict[str, Any]] = []
        self.logprobs: list[dict[str, Any]] = []  # Ollama's shape, when the request asked for them
        self.finished: Finished | None = None
        self.deltas = 0  # output events so far (OpenAI streams put the role on the first one only)

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
            self.logprobs.extend(event.logprobs)
            self.deltas += 1
        elif isinstance(event, ToolCalls):
            self.tool_calls.extend(event.calls)
            self.deltas += 1
        elif isinstance(event, Finished):
            self.finished = event

    def cost(self) -> dict[str, float]:
        return reply_cost(self.finished.gpu_seconds if self.finished else 0.0, self.costs).as_dict()

    def final_fields(self) -> dict[str, Any]:
        """Ollama's fields of a finished reply (`done`, the counts and durations, zerollama's cost)."""
        done = self.finished or Finished(done_reason="stop")
        fields: dict[str, Any] = {"done": True, "done_reason": done.done_reason}
        if done.done_reason not in ("load", "unload"):
            fields.update(
                total_duration=int((time.monotonic() - self.started) * 1e9),
                load_duration=done.load_duration,
                prompt_eval_count=done.prompt_eval_count,
                prompt_eval_duration=done.prompt_eval_duration,
                eval_count=done.eval_count,
                eval_duration=done.eval_duration,
            )
        fields["zerollama"] = self.cost() | ({"note": done.note} if done.note else {})
        return fields

    def cost_headers(self) -> dict[str, str]:
        cost = self.cost()
        return {"X-Zerollama-GPU-Seconds": str(cost["gpu_seconds"]), "X-Zerollama-Cost-COP": str(cost["cost_cop"])}


class Endpoints:
    """One API: its handlers (methods) over the server's parts, listed in its route table (`routes`)."""

    def __init__(self, service: Service, registry: ModelRegistry, costs: CostSettings) -> None:
        self.service = service
        self.registry = registry
        self.costs = costs

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @staticmethod
    def error_shape(error: ApiError) -> Response:
        """How this API writes an error (Ollama's shape unless an API says otherwise)."""
        return error_response(error)

    def router(self) -> APIRouter:
        return router(self.routes(), self.error_shape)


class ReplyShape(Protocol):
    """How one API writes a reply: whole, as chunks of a stream, and a failure inside that stream."""

    def whole(self, reply: Reply) -> Chunk: ...

    def chunks(self, reply: Reply, event: Event) -> list[Chunk]: ...

    def failure(self, failed: Failed) -> Chunk: ...

    def stream(self, chunks: AsyncIterator[Chunk]) -> Response: ...


async def settled(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """The events of a job answered at once: a failure raises its error, which `guarded` answers."""
    async for event in events:
        if isinstance(event, Failed):
            raise event.error()
        yield event


async def answer(service: Service, request: Request, job: Job, stream: bool, shape: ReplyShape) -> Response:
    """Runs `job` for `request` and answers as one JSON object (`shape.whole`) or a stream of chunks."""
    reply = Reply(service.costs)
    events = service.run(job, request, watch_disconnect=True)
    if not stream:
        async for event in settled(events):
            reply.add(event)
        return json_response(shape.whole(reply), headers=reply.cost_headers())
    # The first event is awaited before the 200 is sent, so a failure before any output keeps its status.
    first = await anext(events, None)
    if isinstance(first, Failed):
        raise first.error()

    async def chunks() -> AsyncIterator[Chunk]:
        event = first
        while event is not None:
            if isinstance(event, Failed):
                log_refusal(request.method, request.url.path, event.error(), job.entry.name)
                yield shape.failure(event)
                return
            reply.add(event)
            for chunk in shape.chunks(reply, event):
                yield chunk
            event = await anext(events, None)

    return shape.stream(chunks())


async def embedded(service: Service, request: Request, job: Job | None) -> Finished:
    """Runs an embedding job; no job (empty input) is a finished reply with no vectors."""
    if job is None:
        return Finished(done_reason="stop", embeddings=[])
    finished = None
    async for event in settled(service.run(job, request, watch_disconnect=True)):
        if isinstance(event, Finished):
            finished = event
    if finished is None:
        raise ApiError(500, "the GPU job ended without a result")
    return finished
