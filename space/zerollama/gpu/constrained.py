"""Constrained decoding with xgrammar: `format` ("json" or a JSON schema) and forced tool calls.

The grammar masks every token that would break the structure, so the output parses by construction;
once the structure is complete only end-of-sequence stays allowed, so generation stops there.
"""

from __future__ import annotations

import json
from typing import Any

import xgrammar as xgr
from xgrammar.contrib.hf import LogitsProcessor

from ..core.errors import bad_request
from .textstream import ToolSyntax


def validate_format(fmt: Any) -> str | dict | None:
    """Checks `format` as Ollama does; returns None for "no format"."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return "json"
    if isinstance(fmt, dict):
        try:
            xgr.Grammar.from_json_schema(json.dumps(fmt), any_whitespace=False)
        except Exception as error:  # noqa: BLE001 - xgrammar raises several types for bad schemas
            raise bad_request(f'invalid format: {error}; expected "json" or a valid JSON Schema object') from None
        return fmt
    raise bad_request(f'invalid format: {json.dumps(fmt)}; expected "json" or a valid JSON Schema object')


def tool_call_schema(tools: list[dict[str, Any]], arguments_key: str = "arguments") -> dict[str, Any]:
    """JSON schema of one call to any of `tools`: {"name": <const>, <arguments_key>: <its parameters>}."""
    options = []
    for tool in tools:
        function = tool.get("function", {})
        parameters = function.get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": function.get("name", "")}, arguments_key: parameters},
                "required": ["name", arguments_key],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def _literal(text: str) -> xgr.Grammar:
    return xgr.Grammar.from_ebnf(f"root ::= {json.dumps(text)}")


def compiler_for(tokenizer: Any, vocab_size: int) -> xgr.GrammarCompiler:
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
    return xgr.GrammarCompiler(info)


# What surrounds one forced call in each syntax (the parser accepts these exact forms).
CALL_WRAPPERS = {"qwen": ("<tool_call>\n", "\n</tool_call>"), "mistral": ("[TOOL_CALLS] [", "]"), "json": ("", "")}


def logits_processor(
    compiler: xgr.GrammarCompiler,
    fmt: str | dict | None,
    forced_tools: list[dict[str, Any]] | None = None,
    syntax: ToolSyntax | None = None,
) -> LogitsProcessor | None:
    """A fresh processor for one generate() call (xgrammar's processors are single-use)."""
    if forced_tools and syntax is not None:
        schema = tool_call_schema(forced_tools, syntax.arguments_key)
        call = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False)
        before, after = CALL_WRAPPERS[syntax.name]
        parts = [_literal(before)] if before else []
        parts += [call] + ([_literal(after)] if after else [])
        grammar = xgr.Grammar.concat(*parts) if len(parts) > 1 else call
        return LogitsProcessor(compiler.compile_grammar(grammar))
    if fmt is None:
        return None
    if fmt == "json":
        # Ollama's "json" grammar is a JSON object; no free whitespace, so a weak model cannot pad forever.
        fmt = {"type": "object"}
    return LogitsProcessor(compiler.compile_json_schema(json.dumps(fmt), any_whitespace=False))
