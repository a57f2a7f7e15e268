"""Turning generated text into what clients see: stop strings cut, Qwen-style tool calls parsed.

Tool-calling chat templates (Qwen2.5, Mistral's, the tiny demo models') ask the model to answer a call as
<tool_call>{"name": ..., "arguments": {...}}</tool_call>. Text is streamed as it comes, except for a
tail that could still become a stop string or a tool-call tag.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"
_ID_ALPHABET = string.ascii_lowercase + string.digits


def tool_call_id() -> str:
    """Ollama's format: call_ + 8 lowercase alphanumerics."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def parse_tool_call(body: str, index: int) -> dict[str, Any] | None:
    """One call in Ollama's shape, or None when the text is not a JSON {"name", "arguments"} object."""
    try:
        # strict=False: models put raw tabs/newlines (and grammars may allow other control characters) in strings
        data = json.loads(body.strip(), strict=False)
    except json.JSONDecodeError:
        return None
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
    def __init__(self, stop: tuple[str, ...], parse_tools: bool) -> None:
        self.stop = [s for s in stop if s]
        self.parse_tools = parse_tools
        self.markers = self.stop + ([TOOL_OPEN] if parse_tools else [])
        self.pending = ""
        self.calls_seen = 0

    def feed(self, delta: str) -> Piece:
        self.pending += delta
        piece = Piece()
        for stop in self.stop:
            at = self.pending.find(stop)
            if at >= 0 and not (self.parse_tools and TOOL_OPEN in self.pending[:at]):
                self.pending = self.pending[:at]
                piece.stopped = True
        self._drain(piece, final=piece.stopped)
        return piece

    def finish(self) -> Piece:
        piece = Piece()
        self._drain(piece, final=True)
        return piece

    def _drain(self, piece: Piece, final: bool) -> None:
        while self.parse_tools and TOOL_OPEN in self.pending:
            before, _, rest = self.pending.partition(TOOL_OPEN)
            piece.text += before
            body, closed, after = rest.partition(TOOL_CLOSE)
            if not closed and not final:
                self.pending = TOOL_OPEN + rest
                return
            call = parse_tool_call(body, self.calls_seen)
            if call is None:
                piece.text += TOOL_OPEN + body + (TOOL_CLOSE if closed else "")
            else:
                piece.tool_calls.append(call)
                self.calls_seen += 1
            self.pending = after
        hold = 0 if final else _held_tail(self.pending, self.markers)
        piece.text += self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(self.pending) - hold :]
