"""The Ollama HTTP API (/api/*), wire-compatible with the official ollama-js and ollama-python clients."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import iterate_in_threadpool

from ..core.catalog import CatalogModel, display_name
from ..core.costs import CostSettings, reply_cost
from ..core.errors import ApiError, bad_request, model_not_found
from ..core.jobs import Service
from ..core.registry import ModelRegistry, expiry_for_display
from ..core.schemas import (
    ChatRequest,
    DeleteRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    PullRequest,
    ShowRequest,
    parse_body,
)
from ..gpu.generation import Event, Failed, Finished, Job, TextDelta, ToolCalls
from ..store import StoredModel, stand_in_for
from .http import guarded, iso, json_response, ndjson_response, now_iso, off_loop, read_body

OLLAMA_VERSION = "0.33.0"  # a recent Ollama release: some integrations gate features on it


class Reply:
    """Accumulates one generation's events into Ollama's final fields."""

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


def with_logprobs(chunk: dict[str, Any], logprobs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """Ollama's `logprobs` field, present only when there are some (asked for, and tokens came)."""
    return {**chunk, "logprobs": list(logprobs)} if logprobs else chunk


async def first_then_rest(events: AsyncIterator[Event]) -> tuple[Event | None, AsyncIterator[Event]]:
    """Pulls the first event so a failure before any output can still get a proper HTTP status."""
    first = await anext(events, None)
    if isinstance(first, Failed):
        raise first.error()
    return first, events


async def chain(first: Event | None, rest: AsyncIterator[Event]) -> AsyncIterator[Event]:
    if first is not None:
        yield first
    async for event in rest:
        yield event


def details(entry: CatalogModel, stored: StoredModel) -> dict[str, Any]:
    """The catalog model's facts, or those of the model standing in for it (the SmolLM2 demo)."""
    stand_in = stand_in_for(stored.path)
    if stand_in is not None:
        return {
            "parent_model": f"{stand_in.model} ({stand_in.source}), zerollama demo standing in for {entry.name}",
            "format": stand_in.format,
            "family": stand_in.family,
            "families": [stand_in.family],
            "parameter_size": stand_in.parameter_size,
            "quantization_level": stand_in.quantization_level,
        }
    return {
        "parent_model": "",
        "format": "safetensors",
        "family": entry.family,
        "families": [entry.family],
        "parameter_size": entry.parameter_size,
        "quantization_level": "BF16",
    }


def list_item(entry: CatalogModel, stored: StoredModel, capabilities: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": entry.display_name,
        "model": entry.display_name,
        "modified_at": iso(stored.modified_at),
        "size": stored.size,
        "digest": stored.digest,
        "details": details(entry, stored),
        "capabilities": list(capabilities),
    }


def build_router(service: Service, registry: ModelRegistry, costs: CostSettings) -> APIRouter:
    router = APIRouter()

    def route(path: str, methods: list[str]) -> Callable:
        def register(handler: Callable) -> Callable:
            router.add_api_route(path, guarded(handler), methods=methods, include_in_schema=False)
            return handler

        return register

    async def respond(
        request: Request,
        job: Job,
        stream: bool,
        shape: Callable[[Reply, Event | None], dict[str, Any]],
    ) -> Response:
        """Runs a job and answers as one JSON object or an NDJSON stream of `shape`d chunks."""
        reply = Reply(costs)
        first, rest = await first_then_rest(service.run(job, request, watch_disconnect=True))
        if not stream or job.op != "generate":
            async for event in chain(first, rest):
                if isinstance(event, Failed):
                    raise event.error()
                reply.add(event)
            return json_response(shape(reply, None), headers=reply.cost_headers())

        async def lines() -> AsyncIterator[dict[str, Any]]:
            async for event in chain(first, rest):
                if isinstance(event, Failed):
                    yield {"error": event.message}
                    return
                reply.add(event)
                yield shape(reply, event)

        return ndjson_response(lines())

    def chat_shape(echo: str) -> Callable[[Reply, Event | None], dict[str, Any]]:
        def shape(reply: Reply, event: Event | None) -> dict[str, Any]:
            head = {"model": echo, "created_at": now_iso()}
            if event is None:  # the whole reply at once
                message: dict[str, Any] = {"role": "assistant", "content": reply.text}
                if reply.tool_calls:
                    message["tool_calls"] = reply.tool_calls
                return with_logprobs({**head, "message": message, **reply.final_fields()}, reply.logprobs)
            if isinstance(event, TextDelta):
                chunk = {**head, "message": {"role": "assistant", "content": event.text}, "done": False}
                return with_logprobs(chunk, event.logprobs)
            if isinstance(event, ToolCalls):
                message = {"role": "assistant", "content": "", "tool_calls": event.calls}
                return {**head, "message": message, "done": False}
            return {**head, "message": {"role": "assistant", "content": ""}, **reply.final_fields()}

        return shape

    def generate_shape(
        echo: str, prompt_ids: tuple[int, ...] | None
    ) -> Callable[[Reply, Event | None], dict[str, Any]]:
        """`prompt_ids` (None for raw prompts, as in Ollama): the final chunk's `context` starts with them."""

        def final(reply: Reply) -> dict[str, Any]:
            fields = reply.final_fields()
            done = reply.finished
            if prompt_ids is not None and done is not None and done.done_reason not in ("load", "unload"):
                fields["context"] = [*prompt_ids, *done.output_ids]  # send it back as `context` to continue
            return fields

        def shape(reply: Reply, event: Event | None) -> dict[str, Any]:
            head = {"model": echo, "created_at": now_iso()}
            if event is None:
                return with_logprobs({**head, "response": reply.text, **final(reply)}, reply.logprobs)
            if isinstance(event, TextDelta):
                return with_logprobs({**head, "response": event.text, "done": False}, event.logprobs)
            if isinstance(event, ToolCalls):
                return {**head, "response": "", "done": False}
            return {**head, "response": "", **final(reply)}

        return shape

    @route("/api/chat", ["POST"])
    async def chat(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), ChatRequest)
        job = await off_loop(service.chat_job, req)
        return await respond(request, job, req.stream is not False, chat_shape(req.model or ""))

    @route("/api/generate", ["POST"])
    async def generate(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), GenerateRequest)
        job = await off_loop(service.generate_job, req)
        shape = generate_shape(req.model or "", None if req.raw else job.prompt_ids)
        return await respond(request, job, req.stream is not False, shape)

    @route("/api/embed", ["POST"])
    async def embed(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), EmbedRequest)
        started = time.monotonic()
        job = await off_loop(service.embed_job, req, False)
        vectors: list[list[float]] = []
        finished = Finished(done_reason="stop")
        if job is not None:
            finished = await collect(service.run(job, request, watch_disconnect=True))
            vectors = finished.embeddings or []
        body = {
            "model": req.model,
            "embeddings": vectors,
            "total_duration": int((time.monotonic() - started) * 1e9),
            "load_duration": finished.load_duration,
            "prompt_eval_count": finished.prompt_eval_count,
            "zerollama": reply_cost(finished.gpu_seconds, costs).as_dict(),
        }
        return json_response(body)

    @route("/api/embeddings", ["POST"])
    async def embeddings(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), EmbeddingsRequest)
        job = await off_loop(service.embed_job, req, True)
        if job is None:
            return json_response({"embedding": []})
        finished = await collect(service.run(job, request, watch_disconnect=True))
        return json_response({"embedding": (finished.embeddings or [[]])[0]})

    @route("/api/tags", ["GET", "HEAD"])
    async def tags(request: Request) -> Response:
        models = []
        for entry in registry.catalog.models:
            stored = registry.stored(entry)
            if stored is not None:
                capabilities = await off_loop(registry.capabilities, entry, stored)
                models.append(list_item(entry, stored, capabilities))
        models.sort(key=lambda m: m["modified_at"], reverse=True)
        return json_response({"models": models})

    @route("/api/ps", ["GET"])
    async def ps(request: Request) -> Response:
        models = []
        for resident in sorted(registry.resident(), key=lambda r: r.expires_at, reverse=True):
            found = registry.lookup(resident.name)
            if found is None:
                continue
            entry, stored = found
            item = list_item(entry, stored, ())
            item.pop("modified_at")
            item.pop("capabilities")
            expires = datetime.fromtimestamp(expiry_for_display(resident.expires_at), UTC)
            item.update(
                size=resident.size_bytes,
                expires_at=iso(expires),
                size_vram=resident.size_bytes if resident.device.startswith("cuda") else 0,
                context_length=entry.context_length,
                zerollama={"packed": resident.packed},  # packed on ZeroGPU: resident for good, never unloaded
            )
            models.append(item)
        return json_response({"models": models})

    @route("/api/version", ["GET", "HEAD"])
    async def version(request: Request) -> Response:
        return json_response({"version": OLLAMA_VERSION})

    @route("/api/show", ["POST"])
    async def show(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), ShowRequest)
        name = req.model or ""
        if not name:
            raise bad_request("model is required")
        entry, stored = registry.find(name, lambda unknown: model_not_found(display_name(unknown)))
        config = json.loads((stored.path / "config.json").read_text())
        tokenizer = await off_loop(registry.runtime.tokenizer, stored.path)
        parameters = "\n".join(f"{k:<16}{v}" for k, v in entry.default_options.items())
        stand_in = stand_in_for(stored.path)
        family = stand_in.family if stand_in else entry.family
        served_from = f"a demo: {stand_in.model} from {stand_in.source} stands in for" if stand_in else "Hugging Face"
        body = {
            "license": entry.license,
            "modelfile": f"# {entry.display_name}: served by zerollama from {served_from} {entry.repo}\n"
            f"FROM {entry.repo}\n",
            "parameters": parameters,
            "template": tokenizer.chat_template or "",
            "details": details(entry, stored),
            "model_info": {
                "general.architecture": family,
                "general.basename": entry.name.split(":")[0],
                "general.parameter_count": stand_in.parameter_count if stand_in else entry.parameters,
                f"{family}.context_length": entry.context_length,
                f"{family}.embedding_length": config.get("hidden_size"),
                f"{family}.block_count": config.get("num_hidden_layers"),
            },
            "capabilities": list(await off_loop(registry.capabilities, entry, stored)),
            "modified_at": iso(stored.modified_at),
        }
        return json_response(body)

    @route("/api/pull", ["POST"])
    async def pull(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), PullRequest)
        name = req.model or ""
        entry = registry.catalog.find(name) if name else None

        def progress() -> Any:
            if entry is None:
                yield {"status": "pulling manifest"}
                raise FileNotFoundError("pull model manifest: file does not exist")
            for step in registry.store.pull(entry):
                yield {k: v for k, v in step.__dict__.items() if v is not None}

        if req.stream is False:
            if entry is None:  # not a failure of the server: the name is not in the catalog
                raise ApiError(404, "pull model manifest: file does not exist")
            # A failure is a 500, as in Ollama; its detail goes to the log (guarded), not to the caller.
            async for _ in iterate_in_threadpool(progress()):
                pass
            return json_response({"status": "success"})

        async def lines() -> AsyncIterator[dict[str, Any]]:
            try:
                async for line in iterate_in_threadpool(progress()):
                    yield line
            except Exception as error:  # noqa: BLE001 - the 200 is already sent: report in-stream
                yield {"error": str(error)}

        return ndjson_response(lines())

    @route("/api/delete", ["DELETE"])
    async def delete(request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), DeleteRequest)
        name = req.model or ""
        entry, _ = registry.find(name)
        registry.runtime.unload(entry.name)
        registry.store.delete(entry)
        return Response(status_code=200)

    async def not_here(request: Request) -> Response:
        raise ApiError(
            501,
            f"{request.url.path} is not supported by zerollama: models come from the catalog "
            "(space/models.json) and are fetched with /api/pull",
        )

    for path, methods in [
        ("/api/create", ["POST"]),
        ("/api/push", ["POST"]),
        ("/api/copy", ["POST"]),
        ("/api/blobs/{digest}", ["POST", "HEAD"]),
    ]:
        router.add_api_route(path, guarded(not_here), methods=methods, include_in_schema=False)

    return router


async def collect(events: AsyncIterator[Event]) -> Finished:
    finished = None
    async for event in events:
        if isinstance(event, Failed):
            raise event.error()
        if isinstance(event, Finished):
            finished = event
    if finished is None:
        raise ApiError(500, "the GPU job ended without a result")
    return finished
