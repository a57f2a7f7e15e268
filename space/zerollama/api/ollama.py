"""The Ollama HTTP API (/api/*), wire-compatible with the official ollama-js and ollama-python clients.

One handler per endpoint, all methods of `OllamaApi`; `OllamaApi.routes` is the route table (as Ollama's
own server/routes.go is). The handlers parse, ask `Service` for a job and answer through replies.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from ..core.catalog import CatalogModel, display_name
from ..core.costs import reply_cost
from ..core.errors import ApiError, bad_request, model_not_found
from ..core.registry import expiry_for_display
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
from ..gpu.generation import Event, Failed, TextDelta, ToolCalls
from ..store import StoredModel, stand_in_for
from .http import Route, iso, json_response, log_refusal, ndjson_response, now_iso, off_loop, read_body
from .replies import Chunk, Endpoints, Reply, answer, embedded

OLLAMA_VERSION = "0.33.0"  # a recent Ollama release: some integrations gate features on it
NOT_HERE = (
    "is not supported by zerollama: models come from the catalog (space/models.json) and are fetched with /api/pull"
)


def with_logprobs(chunk: Chunk, logprobs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> Chunk:
    """Ollama's `logprobs` field, present only when there are some (asked for, and tokens came)."""
    return {**chunk, "logprobs": list(logprobs)} if logprobs else chunk


class OllamaShape:
    """Ollama's reply shapes: one object, or NDJSON lines of the same fields, each event one line."""

    def __init__(self, echo: str) -> None:
        self.echo = echo  # the model name as the request wrote it

    def head(self) -> Chunk:
        return {"model": self.echo, "created_at": now_iso()}

    def whole(self, reply: Reply) -> Chunk:
        raise NotImplementedError

    def chunk(self, reply: Reply, event: Event) -> Chunk:
        raise NotImplementedError

    def chunks(self, reply: Reply, event: Event) -> list[Chunk]:
        return [self.chunk(reply, event)]

    def failure(self, failed: Failed) -> Chunk:
        return {"error": failed.message}

    def stream(self, chunks: AsyncIterator[Chunk]) -> StreamingResponse:
        return ndjson_response(chunks)


class ChatShape(OllamaShape):
    def whole(self, reply: Reply) -> Chunk:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        return with_logprobs({**self.head(), "message": message, **reply.final_fields()}, reply.logprobs)

    def chunk(self, reply: Reply, event: Event) -> Chunk:
        if isinstance(event, TextDelta):
            chunk = {**self.head(), "message": {"role": "assistant", "content": event.text}, "done": False}
            return with_logprobs(chunk, event.logprobs)
        if isinstance(event, ToolCalls):
            message = {"role": "assistant", "content": "", "tool_calls": event.calls}
            return {**self.head(), "message": message, "done": False}
        return {**self.head(), "message": {"role": "assistant", "content": ""}, **reply.final_fields()}


class GenerateShape(OllamaShape):
    def __init__(self, echo: str, prompt_ids: tuple[int, ...] | None) -> None:
        """`prompt_ids` (None for raw prompts, as in Ollama): the final chunk's `context` starts with them."""
        super().__init__(echo)
        self.prompt_ids = prompt_ids

    def final(self, reply: Reply) -> Chunk:
        fields = reply.final_fields()
        done = reply.finished
        if self.prompt_ids is not None and done is not None and done.done_reason not in ("load", "unload"):
            fields["context"] = [*self.prompt_ids, *done.output_ids]  # send it back as `context` to continue
        return fields

    def whole(self, reply: Reply) -> Chunk:
        return with_logprobs({**self.head(), "response": reply.text, **self.final(reply)}, reply.logprobs)

    def chunk(self, reply: Reply, event: Event) -> Chunk:
        if isinstance(event, TextDelta):
            return with_logprobs({**self.head(), "response": event.text, "done": False}, event.logprobs)
        if isinstance(event, ToolCalls):
            return {**self.head(), "response": "", "done": False}
        return {**self.head(), "response": "", **self.final(reply)}


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


class OllamaApi(Endpoints):
    """The Ollama endpoints over one `Service` (jobs) and `ModelRegistry` (what is stored and resident)."""

    def routes(self) -> list[Route]:
        """Every endpoint of /api, with its handler."""
        return [
            Route("/api/chat", ("POST",), self.chat),
            Route("/api/generate", ("POST",), self.generate),
            Route("/api/embed", ("POST",), self.embed),
            Route("/api/embeddings", ("POST",), self.embeddings),
            Route("/api/tags", ("GET", "HEAD"), self.tags),
            Route("/api/ps", ("GET",), self.ps),
            Route("/api/version", ("GET", "HEAD"), self.version),
            Route("/api/show", ("POST",), self.show),
            Route("/api/pull", ("POST",), self.pull),
            Route("/api/delete", ("DELETE",), self.delete),
            # Ollama's model-building endpoints: the catalog is the only source of models here.
            Route("/api/create", ("POST",), self.not_here),
            Route("/api/push", ("POST",), self.not_here),
            Route("/api/copy", ("POST",), self.not_here),
            Route("/api/blobs/{digest}", ("POST", "HEAD"), self.not_here),
        ]

    async def chat(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), ChatRequest)
        job = await off_loop(self.service.chat_job, req)
        stream = req.stream is not False and job.op == "generate"
        return await answer(self.service, request, job, stream, ChatShape(req.model or ""))

    async def generate(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), GenerateRequest)
        job = await off_loop(self.service.generate_job, req)
        shape = GenerateShape(req.model or "", None if req.raw else job.prompt_ids)
        return await answer(self.service, request, job, req.stream is not False and job.op == "generate", shape)

    async def embed(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), EmbedRequest)
        started = time.monotonic()
        job = await off_loop(self.service.embed_job, req, False)
        finished = await embedded(self.service, request, job)
        body = {
            "model": req.model,
            "embeddings": finished.embeddings or [],
            "total_duration": int((time.monotonic() - started) * 1e9),
            "load_duration": finished.load_duration,
            "prompt_eval_count": finished.prompt_eval_count,
            "zerollama": reply_cost(finished.gpu_seconds, self.costs).as_dict(),
        }
        return json_response(body)

    async def embeddings(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), EmbeddingsRequest)
        job = await off_loop(self.service.embed_job, req, True)
        finished = await embedded(self.service, request, job)
        return json_response({"embedding": (finished.embeddings or [[]])[0]})

    async def tags(self, request: Request) -> Response:
        models = []
        for entry in self.registry.catalog.models:
            stored = self.registry.stored(entry)
            if stored is not None:
                capabilities = await off_loop(self.registry.capabilities, entry, stored)
                models.append(list_item(entry, stored, capabilities))
        models.sort(key=lambda m: m["modified_at"], reverse=True)
        return json_response({"models": models})

    async def ps(self, request: Request) -> Response:
        models = []
        for resident in sorted(self.registry.resident(), key=lambda r: r.expires_at, reverse=True):
            found = self.registry.lookup(resident.name)
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

    async def version(self, request: Request) -> Response:
        return json_response({"version": OLLAMA_VERSION})

    async def show(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), ShowRequest)
        name = req.model or ""
        if not name:
            raise bad_request("model is required")
        entry, stored = self.registry.find(name, lambda unknown: model_not_found(display_name(unknown)))
        config = json.loads((stored.path / "config.json").read_text())
        tokenizer = await off_loop(self.registry.runtime.tokenizer, stored.path)
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
            "capabilities": list(await off_loop(self.registry.capabilities, entry, stored)),
            "modified_at": iso(stored.modified_at),
        }
        return json_response(body)

    async def pull(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), PullRequest)
        name = req.model or ""
        entry = self.registry.catalog.find(name) if name else None
        store = self.registry.store

        def progress() -> Any:
            if entry is None:
                yield {"status": "pulling manifest"}
                raise FileNotFoundError("pull model manifest: file does not exist")
            for step in store.pull(entry):
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
                status = 404 if entry is None else 500
                log_refusal(request.method, request.url.path, ApiError(status, str(error)), name)
                yield {"error": str(error)}

        return ndjson_response(lines())

    async def delete(self, request: Request) -> Response:
        req = await off_loop(parse_body, await read_body(request), DeleteRequest)
        entry, _ = self.registry.find(req.model or "")
        self.registry.runtime.unload(entry.name)
        self.registry.store.delete(entry)
        return Response(status_code=200)

    async def not_here(self, request: Request) -> Response:
        raise ApiError(501, f"{request.url.path} {NOT_HERE}")
