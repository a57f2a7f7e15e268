"""OpenAI-compatible routes (/v1/*) as Ollama serves them, mapped onto the same jobs as /api/*.

Converters (OpenAI's request fields to Ollama's, the reply's fields back) are module functions; the
handlers, methods of `OpenAIApi` listed in `OpenAIApi.routes`, only parse, convert and answer through
replies.py, as /api/* does.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from ..core.costs import CostSettings, reply_cost
from ..core.errors import ApiError, bad_request
from ..core.schemas import ChatRequest, EmbedRequest, GenerateRequest, parse_json
from ..gpu.generation import Event, Failed, Finished, TextDelta, ToolCalls
from .http import Route, json_response, off_loop, read_body
from .replies import Chunk, Endpoints, Reply, answer, embedded

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


def chat_choice(reply: Reply, event: Event | Literal["finish"] | None) -> Chunk:
    """A chat completion's choice: the whole reply (`event` None), a stream's delta, or its last chunk."""
    if event is None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = _openai_tool_calls(reply.tool_calls)
        choice = {"index": 0, "message": message, "finish_reason": _finish_reason(reply)}
        return {**choice, "logprobs": chat_logprobs(reply.logprobs)} if reply.logprobs else choice
    if event == "finish":  # a reply with no output still opens with the role, as OpenAI's streams do
        delta = {} if reply.deltas else {"role": "assistant"}
        return {"index": 0, "delta": delta, "finish_reason": _finish_reason(reply)}
    delta: dict[str, Any] = {"role": "assistant"} if reply.deltas == 1 else {}
    if isinstance(event, TextDelta):
        delta["content"] = event.text
    elif isinstance(event, ToolCalls):
        delta["tool_calls"] = _openai_tool_calls(event.calls)
    choice = {"index": 0, "delta": delta, "finish_reason": None}
    scored = event.logprobs if isinstance(event, TextDelta) else ()
    return {**choice, "logprobs": chat_logprobs(scored)} if scored else choice


def text_choice(reply: Reply, event: Event | Literal["finish"] | None) -> Chunk:
    """A /v1/completions choice, in the same three cases as `chat_choice`."""
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


class CompletionShape:
    """OpenAI's completion objects (chat or text), whole or as server-sent chunks of one `id`."""

    def __init__(self, body: dict[str, Any], kind: Literal["chat", "text"]) -> None:
        self.choice = chat_choice if kind == "chat" else text_choice
        self.whole_object = "chat.completion" if kind == "chat" else "text_completion"
        self.head = {
            "id": f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{random.randint(0, 998)}",
            "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "system_fingerprint": "fp_ollama",
        }
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def whole(self, reply: Reply) -> Chunk:
        choices = [self.choice(reply, None)]
        return {
            **self.head,
            "object": self.whole_object,
            "choices": choices,
            "usage": _usage(reply),
            "zerollama": reply.cost(),
        }

    def chunks(self, reply: Reply, event: Event) -> list[Chunk]:
        if isinstance(event, Finished):
            last = {**self.head, "choices": [self.choice(reply, "finish")], "zerollama": reply.cost()}
            return [last, {**self.head, "choices": [], "usage": _usage(reply)}] if self.include_usage else [last]
        if isinstance(event, TextDelta | ToolCalls):
            return [{**self.head, "choices": [self.choice(reply, event)]}]
        return []

    def failure(self, failed: Failed) -> Chunk:
        return {"error": {"message": failed.message, "type": "api_error", "param": None, "code": None}}

    def stream(self, chunks: AsyncIterator[Chunk]) -> StreamingResponse:
        return sse(chunks)


def chat_request(body: dict[str, Any]) -> tuple[ChatRequest, bool]:
    """A chat completion's body as Ollama's chat request, and whether a tool call is forced."""
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
    return _validated(ChatRequest, data), force


def generate_request(body: dict[str, Any]) -> GenerateRequest:
    """A /v1/completions body as Ollama's generate request."""
    if not isinstance(body.get("prompt"), str):
        raise bad_request("prompt must be a string")
    data = {
        "model": body.get("model"),
        "prompt": body["prompt"],
        "suffix": body.get("suffix"),
        "options": _options(body),
        **_scoring(body.get("logprobs")),
    }
    return _validated(GenerateRequest, data)


def embed_request(body: dict[str, Any]) -> EmbedRequest:
    """A /v1/embeddings body as Ollama's embed request."""
    inputs = body.get("input")
    if inputs == "":
        inputs = [""]
    if inputs == [] or inputs is None:
        raise bad_request("invalid input")
    return _validated(EmbedRequest, {"model": body.get("model"), "input": inputs, "dimensions": body.get("dimensions")})


def embedding_list(body: dict[str, Any], finished: Finished, costs: CostSettings) -> Chunk:
    """OpenAI's embedding list: the vectors as floats, or base64 of little-endian float32 when asked."""
    encoding = body.get("encoding_format", "float")
    data = []
    for index, vector in enumerate(finished.embeddings or []):
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "embedding": value, "index": index})
    usage = {"prompt_tokens": finished.prompt_eval_count, "total_tokens": finished.prompt_eval_count}
    return {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": usage,
        "zerollama": reply_cost(finished.gpu_seconds, costs).as_dict(),
    }


def model_object(name: str, modified: float) -> Chunk:
    return {"id": name, "object": "model", "created": int(modified), "owned_by": "library"}


async def json_body(request: Request) -> dict[str, Any]:
    return _object(await off_loop(parse_json, await read_body(request)))


class OpenAIApi(Endpoints):
    """The /v1 endpoints over the same `Service` and `ModelRegistry` as /api; errors in OpenAI's shape."""

    error_shape = staticmethod(openai_error)

    def routes(self) -> list[Route]:
        """Every endpoint of /v1, with its handler."""
        return [
            Route("/v1/chat/completions", ("POST",), self.chat_completions),
            Route("/v1/completions", ("POST",), self.completions),
            Route("/v1/embeddings", ("POST",), self.embeddings),
            Route("/v1/models", ("GET",), self.models),
            Route("/v1/models/{model:path}", ("GET",), self.model),
        ]

    async def chat_completions(self, request: Request) -> Response:
        body = await json_body(request)
        req, force = chat_request(body)
        job = await off_loop(self.service.chat_job, req, force)
        return await answer(self.service, request, job, bool(body.get("stream")), CompletionShape(body, "chat"))

    async def completions(self, request: Request) -> Response:
        body = await json_body(request)
        job = await off_loop(self.service.generate_job, generate_request(body))
        return await answer(self.service, request, job, bool(body.get("stream")), CompletionShape(body, "text"))

    async def embeddings(self, request: Request) -> Response:
        body = await json_body(request)
        job = await off_loop(self.service.embed_job, embed_request(body), False)
        finished = await embedded(self.service, request, job)
        return json_response(embedding_list(body, finished, self.costs))

    async def models(self, request: Request) -> Response:
        data = []
        for entry in self.registry.catalog.models:
            stored = self.registry.stored(entry)
            if stored is not None:
                data.append(model_object(entry.display_name, stored.modified_at.timestamp()))
        return json_response({"object": "list", "data": data})

    async def model(self, request: Request) -> Response:
        name = request.path_params["model"]
        _, stored = self.registry.find(name)
        return json_response(model_object(name, stored.modified_at.timestamp()))  # as asked, like Ollama
