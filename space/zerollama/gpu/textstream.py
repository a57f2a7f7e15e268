"""Turning generated text into what clients see: stop strings cut, tool calls parsed.

Chat templates ask for tool calls in one of three ways (ToolSyntax): Qwen2.5's (and the tiny demo models')
<tool_call>{"name": ..., "arguments": {...}}</tool_call>, Mistral's [TOOL_CALLS] [{...}], and Llama 3.x's
reply that is just {"name": ..., "parameters": {...}}. Text is streamed as it comes, except for a tail that
could still become a stop string or a call marker, and calls, which arrive whole.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ToolSyntax:
    """How a model's chat template asks it to write tool calls."""

    name: str
    open: str  # the text that starts a call; "" = the whole reply is JSON starting with "{"
    close: str | None  # the text that ends one call; None = calls run to the end of the reply
    arguments_key: str


QWEN = ToolSyntax("qwen", "<tool_call>", "</tool_call>", "arguments")  # <tool_call>{...}</tool_call>
MISTRAL = ToolSyntax("mistral", "[TOOL_CALLS]", None, "arguments")  # [TOOL_CALLS] [{...}, ...]
JSON_REPLY = ToolSyntax("json", "", None, "parameters")  # Llama 3.x: the reply is {"name", "parameters"}


def tool_syntax_for(chat_template: str) -> ToolSyntax:
    if "<tool_call>" in chat_template:
        return QWEN
    if "[TOOL_CALLS]" in chat_template:
        return MISTRAL
    return JSON_REPLY


def tool_call_id() -> str:
    """Ollama's format: call_ + 8 lowercase alphanumerics."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def parse_tool_call(data: Any, index: int) -> dict[str, Any] | None:
    """One call in Ollama's shape from {"name", "arguments"|"parameters"}, or None when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments, strict=False)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {"id": tool_call_id(), "function": {"index": index, "name": data["name"], "arguments": arguments}}


def parse_tool_calls(body: str, first_index: int) -> list[dict[str, Any]] | None:
    """All calls in `body` (one JSON object or a list of them), or None when it is not only calls."""
    try:
        # strict=False: models put raw tabs/newlines (and grammars may allow other control characters) in strings
        data = json.loads(body.strip(), strict=False)
    except json.JSONDecodeError:
        return None
    items = data if isinstance(data, list) else [data]
    calls = [parse_tool_call(item, first_index + i) for i, item in enumerate(items)]
    if not calls or any(call is None for call in calls):
        return None
    return calls  # type: ignore[return-value]


def _held_tail(text: str, markers: list[str]) -> int:
    """Length of the longest end of `text` that is the start of a marker (it may still complete one)."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:size]):
                longest = size
                break
    return longest


@dataclass
class Piece:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False


class OutputFilter:
    """Feeds on decoded text; releases what the client may see, tool calls parsed, stop strings applied."""

    def __init__(self, stop: tuple[str, ...], syntax: ToolSyntax | None) -> None:
        self.stop = [s for s in stop if s]
        self.syntax = syntax
        self.markers = self.stop + ([syntax.open] if syntax and syntax.open else [])
        self.pending = ""
        self.captured: str | None = None  # a call running to the end of the reply (MISTRAL, JSON_REPLY)
        self.released_any = False
        self.calls_seen = 0

    def feed(self, delta: str) -> Piece:
        piece = Piece()
        if self.captured is not None:
            self.captured += delta
            return piece
        self.pending += delta
        for stop in self.stop:
            at = self.pending.find(stop)
            opened = self.syntax is not None and self.syntax.open and self.syntax.open in self.pending[:at]
            if at >= 0 and not opened:
                self.pending = self.pending[:at]
                piece.stopped = True
        self._drain(piece, final=piece.stopped)
        return piece

    def finish(self) -> Piece:
        piece = Piece()
        self._drain(piece, final=True)
        if self.captured is not None:
            opener = self.syntax.open if self.syntax else ""
            calls = parse_tool_calls(self.captured, self.calls_seen)
            if calls is None:
                piece.text += opener + self.captured
            else:
                piece.tool_calls.extend(calls)
            self.captured = None
        return piece

    def _drain(self, piece: Piece, final: bool) -> None:
        syntax = self.syntax
        if syntax is not None and not syntax.open and not self.released_any:
            start = self.pending.lstrip()
            if start.startswith("{"):
                self.captured, self.pending = start, ""
                return
            if not start and not final:
                return  # only whitespace so far: the reply may still turn out to be a JSON call
        while syntax is not None and syntax.open and syntax.open in self.pending:
            before, _, rest = self.pending.partition(syntax.open)
            self._release(piece, before)
            if syntax.close is None:
                self.captured, self.pending = rest, ""
                return
            calls, after = self._closed_call(rest)
            if calls is None and not final:
                self.pending = syntax.open + rest  # not complete yet (the close tag may sit inside a string)
                return
            if calls is None:  # the reply ended: an unclosed call, or text that only looked like one
                calls, after = parse_tool_calls(rest, self.calls_seen), ""
            if calls is None:
                self._release(piece, syntax.open + rest)
            else:
                piece.tool_calls.extend(calls)
                self.calls_seen += len(calls)
            self.pending = after
        hold = 0 if final else _held_tail(self.pending, self.markers)
        self._release(piece, self.pending[: len(self.pending) - hold])
        self.pending = self.pending[len(self.pending) - hold :]

    def _closed_call(self, rest: str) -> tuple[list[dict[str, Any]] | None, str]:
        """The calls before the first close tag that ends valid JSON, and the text after that tag."""
        assert self.syntax is not None and self.syntax.close is not None
        close = self.syntax.close
        at = rest.find(close)
        while at >= 0:
            calls = parse_tool_calls(rest[:at], self.calls_seen)
            if calls is not None:
                return calls, rest[at + len(close) :]
            at = rest.find(close, at + 1)
        return None, rest

    def _release(self, piece: Piece, text: str) -> None:
        piece.text += text
        self.released_any = self.released_any or bool(text.strip())
