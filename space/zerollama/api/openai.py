"""OpenAI-compatible routes (/v1/*) as Ollama serves them, mapped onto the same jobs as /api/*."""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from ..core.costs import CostSettings, reply_cost
from ..core.errors import ApiError, bad_request
from ..core.jobs import Service
from ..core.registry import ModelRegistry
from ..core.schemas import ChatRequest, EmbedRequest, GenerateRequest, parse_json
from ..gpu.generation import Failed, Finished, TextDelta, ToolCalls
from .http import guarded, json_response, off_loop, read_body
from .ollama import Reply, chain, collect, first_then_rest

ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def openai_error(error: ApiError) -> Response:
    body = {
        "error": {
            "message": error.message,
            "type": ERROR_TYPES.get(error.status, "api_error"),
            "param": None,
            "code": None,
        }
    }
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return json_response(body, error.status, headers)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def _validated(schema: type, data: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise bad_request(f"invalid request: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI sampling fields as Ollama options; missing temperature/top_p are 1.0, as in Ollama."""
    options: dict[str, Any] = {"temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0)}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    for key, value in (
        ("num_predict", max_tokens),
        ("seed", body.get("seed")),
        ("frequency_penalty", body.get("frequency_penalty")),
        ("presence_penalty", body.get("presence_penalty")),
    ):
        if value is not None:
            options[key] = value
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    return options


def _format(response_format: Any) -> Any:
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise bad_request("response_format must be an object")
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise bad_request("response_format.json_schema.schema must be an object")
        return schema
    if kind in (None, "text"):
        return None
    raise bad_request(f"invalid response_format type: {kind!r}")


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise bad_request("messages must be objects")
    content = message.get("content")
    images: list[str] = []
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict):
                raise bad_request("content parts must be objects")
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if not isinstance(url, str) or not url.startswith("data:"):
                    raise bad_request("image URLs must be base64 data URLs")
                images.append(url.partition(",")[2])
            else:
                raise bad_request(f"unsupported content part type: {part.get('type')!r}")
        content = "".join(texts)
    converted: dict[str, Any] = {"role": message.get("role"), "content": content or ""}
    if images:
        converted["images"] = images
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            arguments = function.get("arguments") or "{}"
            try:
                arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
            except json.JSONDecodeError:
                raise bad_request("tool_calls[].function.arguments must be a JSON object string") from None
            calls.append({"function": {"name": function.get("name"), "arguments": arguments}})
        converted["tool_calls"] = calls
    if message.get("role") == "tool" and (message.get("name") or message.get("tool_call_id")):
        converted["tool_name"] = message.get("name") or message.get("tool_call_id")
    return converted


def _openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": call["id"],
            "index": call["function"]["index"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": json.dumps(call["function"]["arguments"])},
        }
        for call in calls
    ]


def chat_logprobs(entries: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """A chat choice's `logprobs` (OpenAI's shape, which Ollama's /v1 shares): every entry has its list."""
    return {"content": [{**entry, "top_logprobs": entry.get("top_logprobs", [])} for entry in entries]}


def text_logprobs(entries: list[dict[str, Any]] | tuple[dict[str, Any], ...], offset: int) -> dict[str, Any]:
    """A /v1/completions choice's `logprobs` in OpenAI's legacy shape; `offset`: characters before them."""
    offsets = []
    for entry in entries:
        offsets.append(offset)
        offset += len(entry["token"])
    return {
        "tokens": [entry["token"] for entry in entries],
        "token_logprobs": [entry["logprob"] for entry in entries],
        "top_logprobs": [{top["token"]: top["logprob"] for top in entry.get("top_logprobs", [])} for entry in entries],
        "text_offset": offsets,
    }


def _scoring(value: Any) -> dict[str, Any]:
    """/v1/completions' `logprobs` (how many alternatives; 0: the chosen tokens only) as Ollama's two fields."""
    if value is None:
        return {}
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request("logprobs must be an integer")
    return {"logprobs": True, "top_logprobs": value}


def _finish_reason(reply: Reply) -> str:
    reason = reply.finished.done_reason if reply.finished else "stop"
    if reply.tool_calls and reason == "stop":
        return "tool_calls"
    return "length" if reason == "length" else "stop"


def _usage(reply: Reply) -> dict[str, int]:
    done = reply.finished or Finished(done_reason="stop")
    return {
        "prompt_tokens": done.prompt_eval_count,
        "completion_tokens": done.eval_count,
        "total_tokens": done.prompt_eval_count + done.eval_count,
    }


def sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def encode() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(encode(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


def build_router(service: Service, registry: ModelRegistry, costs: CostSettings) -> APIRouter:
    router = APIRouter()

    def route(path: str, methods: list[str]) -> Callable:
        def register(handler: Callable) -> Callable:
            router.add_api_route(path, guarded(handler, openai_error), methods=methods, include_in_schema=False)
            return handler

        return register

    async def completion(
        request: Request, body: dict[str, Any], job: Any, kind: str, shape: Callable[..., dict[str, Any]]
    ) -> Response:
        model = body.get("model")
        ident = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{random.randint(0, 998)}"
        created = int(time.time())
        head = {
            "id": ident,
            "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_ollama",
        }
        reply = Reply(costs)
        first, rest = await first_then_rest(service.run(job, request, watch_disconnect=True))
        if not body.get("stream"):
            async for event in chain(first, rest):
                if isinstance(event, Failed):
                    raise event.error()
                reply.add(event)
            whole = {**head, "object": "chat.completion" if kind == "chat" else "text_completion"}
            result = {**whole, "choices": [shape(reply, None)], "usage": _usage(reply), "zerollama": reply.cost()}
            return json_response(result, headers=reply.cost_headers())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            async for event in chain(first, rest):
                if isinstance(event, Failed):
                    yield {"error": {"message": event.message, "type": "api_error", "param": None, "code": None}}
                    return
                reply.add(event)
                if isinstance(event, Finished):
                    yield {**head, "choices": [shape(reply, "finish")], "zerollama": reply.cost()}
                    if include_usage:
                        yield {**head, "choices": [], "usage": _usage(reply)}
                elif isinstance(event, TextDelta | ToolCalls):
                    yield {**head, "choices": [shape(reply, event)]}

        return sse(chunks())

    def chat_choice(reply: Reply, event: Any) -> dict[str, Any]:
        if event is None:
            message: dict[str, Any] = {"role": "assistant", "content": reply.text}
            if reply.tool_calls:
                message["tool_calls"] = _openai_tool_calls(reply.tool_calls)
            choice = {"index": 0, "message": message, "finish_reason": _finish_reason(reply)}
            return {**choice, "logprobs": chat_logprobs(reply.logprobs)} if reply.logprobs else choice
        if event == "finish":
            return {"index": 0, "delta": {}, "finish_reason": _finish_reason(reply)}
        delta: dict[str, Any] = {"role": "assistant"} if reply.deltas == 1 else {}
        if isinstance(event, TextDelta):
            delta["content"] = event.text
        else:
            delta["tool_calls"] = _openai_tool_calls(event.calls)
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        scored = event.logprobs if isinstance(event, TextDelta) else ()
        return {**choice, "logprobs": chat_logprobs(scored)} if scored else choice

    def text_choice(reply: Reply, event: Any) -> dict[str, Any]:
        if event is None or event == "finish":
            choice = {"text": reply.text if event is None else "", "index": 0, "finish_reason": _finish_reason(reply)}
            scored = reply.logprobs if event is None else []
            return {**choice, "logprobs": text_logprobs(scored, 0)} if scored else choice
        choice = {"text": event.text if isinstance(event, TextDelta) else "", "index": 0, "finish_reason": None}
        scored = event.logprobs if isinstance(event, TextDelta) else ()
        if not scored:
            return choice
        before = sum(len(entry["token"]) for entry in reply.logprobs[: len(reply.logprobs) - len(scored)])
        return {**choice, "logprobs": text_logprobs(scored, before)}

    @route("/v1/chat/completions", ["POST"])
    async def chat_completions(request: Request) -> Response:
        body = _object(await off_loop(parse_json, await read_body(request)))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("[] is too short - 'messages'")
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        force = choice == "required" or isinstance(choice, dict)
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            tools = [t for t in tools if isinstance(t, dict) and (t.get("function") or {}).get("name") == wanted]
            if not tools:
                raise bad_request(f"tool_choice names an unknown function: {wanted!r}")
        if choice == "none":
            tools = []
        data = {
            "model": body.get("model"),
            "messages": [_message(m) for m in messages],
            "tools": tools,
            "format": _format(body.get("response_format")),
            "options": _options(body),
            "logprobs": body.get("logprobs"),
            "top_logprobs": body.get("top_logprobs"),
        }
        req = _validated(ChatRequest, data)
        job = await off_loop(service.chat_job, req, force)
        return await completion(request, body, job, "chat", chat_choice)

    @route("/v1/completions", ["POST"])
    async def completions(request: Request) -> Response:
        body = _object(await off_loop(parse_json, await read_body(request)))
        if not isinstance(body.get("prompt"), str):
            raise bad_request("prompt must be a string")
        data = {
            "model": body.get("model"),
            "prompt": body["prompt"],
            "suffix": body.get("suffix"),
            "options": _options(body),
            **_scoring(body.get("logprobs")),
        }
        req = _validated(GenerateRequest, data)
        job = await off_loop(service.generate_job, req)
        return await completion(request, body, job, "text", text_choice)

    @route("/v1/embeddings", ["POST"])
    async def embeddings(request: Request) -> Response:
        body = _object(await off_loop(parse_json, await read_body(request)))
        inputs = body.get("input")
        if inputs == "":
            inputs = [""]
        if inputs == [] or inputs is None:
            raise bad_request("invalid input")
        req = _validated(
            EmbedRequest, {"model": body.get("model"), "input": inputs, "dimensions": body.get("dimensions")}
        )
        job = await off_loop(service.embed_job, req, False)
        finished = Finished(done_reason="stop", embeddings=[])
        if job is not None:
            finished = await collect(service.run(job, request, watch_disconnect=True))
        encoding = body.get("encoding_format", "float")
        data = []
        for index, vector in enumerate(finished.embeddings or []):
            value: Any = vector
            if encoding == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "embedding": value, "index": index})
        usage = {"prompt_tokens": finished.prompt_eval_count, "total_tokens": finished.prompt_eval_count}
        result = {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": usage,
            "zerollama": reply_cost(finished.gpu_seconds, costs).as_dict(),
        }
        return json_response(result)

    def model_object(name: str, modified: float) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": int(modified), "owned_by": "library"}

    @route("/v1/models", ["GET"])
    async def models(request: Request) -> Response:
        data = []
        for entry in registry.catalog.models:
            stored = registry.stored(entry)
            if stored is not None:
                data.append(model_object(entry.display_name, stored.modified_at.timestamp()))
        return json_response({"object": "list", "data": data})

    @route("/v1/models/{model:path}", ["GET"])
    async def model(request: Request) -> Response:
        name = request.path_params["model"]
        _, stored = registry.find(name)
        return json_response(model_object(name, stored.modified_at.timestamp()))  # as asked, like Ollama

    return router
