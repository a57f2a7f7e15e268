"""Request bodies of the Ollama API, validated strictly (a wrong type is a 400, unknown fields ignored)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import ApiError, bad_request

T = TypeVar("T", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Named(Body):
    """Requests that accept `name` as an alias of `model` (ollama-js sends `name` to pull and delete)."""

    model: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _alias(self) -> Named:
        if not self.model and self.name:
            self.model = self.name
        return self


class ToolFunction(Body):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(Body):
    type: str = "function"
    function: ToolFunction


class Message(Body):
    role: str
    content: str | None = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    thinking: str | None = None


class Generation(Named):
    stream: bool | None = None
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | int | float | None = None
    think: bool | str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None


class ChatRequest(Generation):
    messages: list[Message] | None = None
    tools: list[Tool] | None = None


class GenerateRequest(Generation):
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None


class EmbedRequest(Named):
    input: str | list[str] | None = None
    truncate: bool | None = True
    dimensions: int | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | int | float | None = None


class EmbeddingsRequest(Named):
    prompt: str | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | int | float | None = None


class ShowRequest(Named):
    verbose: bool | None = None


class PullRequest(Named):
    stream: bool | None = None
    insecure: bool | None = None


class DeleteRequest(Named):
    pass


MAX_JSON_DEPTH = 64  # requests nest a few levels (tool schemas a few more); deeper is refused before any work


def check_tree(value: Any) -> None:
    """400 for JSON nested deeper than MAX_JSON_DEPTH or holding a lone surrogate (e.g. "\\ud800", which
    JSON allows but UTF-8 cannot encode: tokenisers and replies would fail on it). Iterative, so any depth
    is safe to check."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise bad_request(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
        children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
        for key, child in children:
            if isinstance(key, str):
                _check_text(key)
            pending.append((child, depth + 1))


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("invalid JSON: a string holds a lone surrogate (not valid Unicode)") from None


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("missing request body")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise bad_request(f"invalid JSON: {error}") from None
    except RecursionError:
        raise bad_request(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_tree(data)
    return data


def parse_body(raw: bytes, schema: type[T]) -> T:
    return _validated(parse_json(raw), schema)


def parse_value(data: Any, schema: type[T]) -> T:
    """A body built in-process (the page's) checked as parse_json checks one read from the wire."""
    check_tree(data)
    return _validated(data, schema)


def _validated(data: Any, schema: type[T]) -> T:
    if not isinstance(data, dict):
        raise bad_request("request body must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, f"invalid request: {where}: {first['msg']}") from None
