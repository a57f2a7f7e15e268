"""The official openai PyPI client against the live server's /v1 routes."""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

from conftest import weather_tool

WEATHER_TOOL = weather_tool(
    {"city": {"type": "string", "maxLength": 12}, "days": {"type": "integer", "maximum": 7}}, closed=True
)


def test_models_lists_the_downloaded_models(openai_client):
    ids = {m.id for m in openai_client.models.list().data}
    assert {"qwen2.5:7b", "phi3:latest", "codellama:7b"} <= ids
    assert openai_client.models.retrieve("phi3").id == "phi3"


def test_chat_completion(openai_client):
    reply = openai_client.chat.completions.create(
        model="qwen2.5:7b", messages=[{"role": "user", "content": "Hola"}], max_tokens=6, seed=1
    )
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert 0 < reply.usage.completion_tokens <= 6
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_developer_messages_are_system_messages_as_in_ollama(openai_client):
    def prompt_tokens(role: str) -> int:
        messages = [{"role": role, "content": "Answer in French."}, {"role": "user", "content": "Hi"}]
        reply = openai_client.chat.completions.create(model="phi3", messages=messages, max_tokens=1)
        return reply.usage.prompt_tokens

    assert prompt_tokens("developer") == prompt_tokens("system")  # the same prompt, token for token


def test_logprobs_in_openais_shape_streamed_or_not(openai_client):
    ask = {"model": "phi3", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "temperature": 0}
    reply = openai_client.chat.completions.create(**ask, logprobs=True, top_logprobs=2)
    content = reply.choices[0].logprobs.content
    assert content and all(len(entry.top_logprobs) == 2 for entry in content)
    assert all(entry.top_logprobs[0].token == entry.token and entry.logprob <= 0 for entry in content)
    chunks = list(openai_client.chat.completions.create(**ask, logprobs=True, top_logprobs=2, stream=True))
    streamed = [entry for c in chunks if c.choices and c.choices[0].logprobs for entry in c.choices[0].logprobs.content]
    assert [e.token for e in streamed] == [e.token for e in content]
    assert openai_client.chat.completions.create(**ask).choices[0].logprobs is None

    text = openai_client.completions.create(model="phi3", prompt="Go", max_tokens=5, temperature=0, logprobs=2)
    legacy = text.choices[0].logprobs
    assert len(legacy.tokens) == len(legacy.token_logprobs) == len(legacy.top_logprobs) == len(legacy.text_offset)
    # Keyed by text, two alternatives that decode alike are one key; none is likelier than the greedy pick.
    assert all(
        1 <= len(top) <= 2 and max(top.values()) <= lp + 1e-5
        for top, lp in zip(legacy.top_logprobs, legacy.token_logprobs, strict=True)
    )
    assert legacy.text_offset[0] == 0 and legacy.tokens
    ask = {"model": "phi3", "prompt": "Go", "max_tokens": 5, "temperature": 0, "logprobs": 2, "stream": True}
    scored = [c.choices[0].logprobs for c in openai_client.completions.create(**ask) if c.choices[0].logprobs]
    assert [t for piece in scored for t in piece.tokens] == legacy.tokens
    assert [o for piece in scored for o in piece.text_offset] == legacy.text_offset  # offsets run on across chunks


def test_chat_completion_stream_with_usage(openai_client):
    stream = openai_client.chat.completions.create(
        model="phi3",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 5
    assert len({c.id for c in chunks}) == 1


def test_required_tool_choice_returns_a_parsed_call(openai_client):
    reply = openai_client.chat.completions.create(
        model="qwen2.5:7b",
        messages=[{"role": "user", "content": "Weather in Bogotá for 3 days?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=80,
        seed=2,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "days"}
    assert isinstance(arguments["city"], str) and isinstance(arguments["days"], int) and arguments["days"] <= 7


def test_required_tool_call_streams_whole(openai_client):
    stream = openai_client.chat.completions.create(
        model="qwen2.5:7b",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=80,
        seed=3,
        stream=True,
    )
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "get_weather"
    assert set(json.loads(calls[0].function.arguments)) == {"city", "days"}


def test_response_format_json_schema(openai_client):
    schema = {
        "type": "object",
        "properties": {"answer": {"enum": ["yes", "no"]}, "score": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["answer", "score"],
        "additionalProperties": False,
    }
    reply = openai_client.chat.completions.create(
        model="phi3",
        messages=[{"role": "user", "content": "Rate it"}],
        response_format={"type": "json_schema", "json_schema": {"name": "rating", "schema": schema}},
        max_tokens=40,
        seed=4,
    )
    data = json.loads(reply.choices[0].message.content)
    assert data["answer"] in ("yes", "no") and 1 <= data["score"] <= 5


def test_completions(openai_client):
    reply = openai_client.completions.create(model="codellama:7b", prompt="def f():", max_tokens=5, seed=1)
    assert reply.object == "text_completion" and reply.id.startswith("cmpl-")
    assert reply.choices[0].finish_reason in ("stop", "length") and reply.usage.completion_tokens <= 5
    streamed = list(openai_client.completions.create(model="codellama:7b", prompt="x", max_tokens=3, stream=True))
    assert streamed[-1].choices[0].finish_reason in ("stop", "length")


def test_embeddings_float_and_base64(openai_client):
    floats = openai_client.embeddings.create(model="qwen2.5:7b", input=["a", "b c"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 64
    raw = openai_client.with_options().embeddings.with_raw_response.create(
        model="qwen2.5:7b", input="a", encoding_format="base64"
    )
    encoded = json.loads(raw.text)["data"][0]["embedding"]
    decoded = struct.unpack("<64f", base64.b64decode(encoded))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_errors_have_openais_shape(openai_client, http):
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "not found" in str(missing.value)
    response = http.post("/v1/chat/completions", json={"model": "phi3", "messages": []})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError):
        openai_client.embeddings.create(model="qwen2.5:7b", input=[])
