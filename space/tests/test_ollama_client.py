"""The official ollama PyPI client against the live server."""

from __future__ import annotations

import json

import ollama
import pytest

from conftest import PULLED_MODEL, weather_tool

SHORT = {"num_predict": 8, "seed": 1}
CITY = {"city": "Tokyo"}
SCHEMA = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "count": {"type": "integer", "minimum": 0, "maximum": 9},
        "color": {"enum": ["red", "green", "blue"]},
    },
    "required": ["ok", "count", "color"],
    "additionalProperties": False,
}
WEATHER_TOOL = weather_tool({"city": {"type": "string", "maxLength": 12}})


def test_version_and_heartbeat(http):
    assert http.get("/api/version").json()["version"].count(".") == 2
    assert http.head("/").status_code == 200
    assert http.get("/").text == "Ollama is running"
    assert "<html" in http.get("/", headers={"Accept": "text/html"}).text.lower()


def test_tags_list_the_downloaded_catalog_models(ollama_client, catalog):
    names = {m.model for m in ollama_client.list().models}
    assert {"qwen2.5:7b", "phi3:latest", "codellama:7b"} <= names
    listed = ollama_client.list().models[0]
    assert listed.details.format == "safetensors" and listed.size > 0 and listed.digest


# The catalog's default models as a real Ollama lists them once pulled (`ollama list`, /api/tags: the tag is
# always shown), so as an app saved them from its Railway Ollama (shared/reference/ollama-api.md §5, §7).
SAVED_FROM_OLLAMA = ("qwen2.5:7b", "phi3:latest", "codellama:7b")
# Other spellings of those models that Ollama's name grammar or its library tags accept on input.
SPELLINGS = ("phi3", "PHI3:Latest", "library/phi3", "registry.ollama.ai/library/phi3:latest", "phi3:mini")


def langchain_finds(saved: str, listed: list[str]) -> bool:
    """How LangChain's ChatOllama(validate_model_on_init=True) looks for its model in client.list()."""
    return any(saved == name or name.startswith(f"{saved}:") for name in listed)


def test_names_saved_from_real_ollama_are_listed_as_ollama_lists_them(ollama_client, openai_client):
    tags = [m.model for m in ollama_client.list().models]
    assert all(":" in name for name in tags) and len(set(tags)) == len(tags)
    ollama_client.generate("phi3", keep_alive="10m")  # loaded under a short spelling, listed with its tag
    running = [m.model for m in ollama_client.ps().models]
    assert "phi3:latest" in running and all(":" in name for name in running)
    ids = [m.id for m in openai_client.models.list().data]
    assert set(ids) == set(tags)
    for saved in SAVED_FROM_OLLAMA:
        assert saved in tags and langchain_finds(saved, tags)


def test_every_spelling_of_a_name_reaches_the_same_model(ollama_client, openai_client):
    phi3 = ollama_client.show("phi3:latest").modelfile
    for spelling in SPELLINGS:
        assert ollama_client.show(spelling).modelfile == phi3
        reply = ollama_client.chat(spelling, messages=[{"role": "user", "content": "hi"}], options=SHORT)
        assert reply.model == spelling and reply.done  # echoed as sent, like Ollama
        assert openai_client.models.retrieve(spelling).id == spelling


def test_show_reports_model_info_and_capabilities(ollama_client):
    shown = ollama_client.show("qwen2.5:7b")
    assert shown.modelinfo["general.architecture"] == "qwen2"
    assert shown.modelinfo["qwen2.context_length"] == 32768
    assert "tools" in shown.capabilities
    assert "temperature" in shown.parameters
    assert "<|im_start|>" in shown.template


def test_show_without_a_model_is_400_as_in_ollama(http):
    # (the Python client refuses an empty name itself; other clients and curl send these)
    for body in ({}, {"model": ""}, {"name": ""}):
        response = http.post("/api/show", json=body)
        assert (response.status_code, response.json()) == (400, {"error": "model is required"})


def test_show_unknown_model_is_404(ollama_client):
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.show("llama3")
    assert error.value.status_code == 404
    assert error.value.error == "model 'llama3:latest' not found"


def test_chat_non_streaming(ollama_client):
    reply = ollama_client.chat("qwen2.5:7b", messages=[{"role": "user", "content": "Hola"}], options=SHORT)
    assert reply.done and reply.done_reason in ("stop", "length")
    assert reply.message.role == "assistant"
    assert 0 < reply.eval_count <= 8
    assert reply.prompt_eval_count > 0 and reply.total_duration >= reply.eval_duration > 0


def test_chat_streaming_has_role_on_every_chunk_and_metrics_at_the_end(ollama_client):
    chunks = list(
        ollama_client.chat(
            "phi3", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 6}, stream=True
        )
    )
    assert all(c.message.role == "assistant" for c in chunks)
    assert [c.done for c in chunks].count(True) == 1 and chunks[-1].done
    assert chunks[-1].eval_count <= 6 and chunks[-1].done_reason in ("stop", "length")


def test_generate_returns_context_and_continues_a_conversation_from_it(ollama_client):
    first = ollama_client.generate("phi3", "My name is Zed.", options=SHORT)
    assert first.context and len(first.context) == first.prompt_eval_count + first.eval_count
    fresh = ollama_client.generate("phi3", "What is my name?", options=SHORT)
    second = ollama_client.generate("phi3", "What is my name?", context=first.context, options=SHORT)
    assert second.prompt_eval_count == len(first.context) + fresh.prompt_eval_count
    assert second.context[: len(first.context)] == first.context
    chunks = list(ollama_client.generate("phi3", "Hi", context=first.context, options=SHORT, stream=True))
    assert chunks[-1].context[: len(first.context)] == first.context
    assert all(chunk.context is None for chunk in chunks[:-1])
    assert ollama_client.generate("phi3", "Hi", raw=True, options=SHORT).context is None  # as in Ollama


GREEDY = {"num_predict": 6, "temperature": 0}


def assert_greedy_logprobs(entries, top: int) -> None:
    """Ollama's shape; greedy decoding picked each token, so it leads its own alternatives."""
    assert entries
    for entry in entries:
        assert entry.logprob <= 0 and isinstance(entry.token, str)
        assert len(entry.top_logprobs) == top
        assert [t.logprob for t in entry.top_logprobs] == sorted((t.logprob for t in entry.top_logprobs), reverse=True)
        assert entry.top_logprobs[0].token == entry.token
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-5)


def test_logprobs_on_generate_and_chat_streamed_or_not(ollama_client):
    whole = ollama_client.generate("phi3", "Go", logprobs=True, top_logprobs=3, options=GREEDY)
    assert_greedy_logprobs(whole.logprobs, 3)
    streamed = list(ollama_client.generate("phi3", "Go", logprobs=True, top_logprobs=3, options=GREEDY, stream=True))
    pieces = [entry for chunk in streamed for entry in chunk.logprobs or []]
    assert [(p.token, round(p.logprob, 4)) for p in pieces] == [(w.token, round(w.logprob, 4)) for w in whole.logprobs]
    messages = [{"role": "user", "content": "Hi"}]
    chat = ollama_client.chat("qwen2.5:7b", messages=messages, logprobs=True, top_logprobs=2, options=GREEDY)
    assert_greedy_logprobs(chat.logprobs, 2)
    chunks = list(ollama_client.chat("qwen2.5:7b", messages=messages, logprobs=True, options=GREEDY, stream=True))
    assert all(entry.top_logprobs is None for chunk in chunks for entry in chunk.logprobs or [])
    assert sum(len(chunk.logprobs or []) for chunk in chunks) == len(chat.logprobs)
    assert ollama_client.generate("phi3", "Go", options=GREEDY).logprobs is None  # only when asked


def test_top_logprobs_out_of_range_is_400_as_in_ollama(http):
    body = {"model": "phi3", "prompt": "Go", "logprobs": True, "top_logprobs": 21, "stream": False}
    response = http.post("/api/generate", json=body)
    assert (response.status_code, response.json()) == (400, {"error": "top_logprobs must be between 0 and 20"})


def test_final_chunk_and_headers_carry_the_cost(http):
    body = {"model": "qwen2.5:7b", "messages": [{"role": "user", "content": "x"}], "options": SHORT}
    response = http.post("/api/chat", json={**body, "stream": False})
    cost = response.json()["zerollama"]
    assert set(cost) == {"gpu_seconds", "quota_seconds", "cost_usd", "cost_cop"} and cost["gpu_seconds"] > 0
    assert float(response.headers["X-Zerollama-GPU-Seconds"]) == cost["gpu_seconds"]
    assert "X-Zerollama-Cost-COP" in response.headers
    lines = http.post("/api/chat", json=body).text.strip().split("\n")
    assert all(line.strip() for line in lines)
    assert "zerollama" in json.loads(lines[-1]) and "zerollama" not in json.loads(lines[0])


def test_generate_streaming_and_not(ollama_client):
    whole = ollama_client.generate("codellama:7b", "def add(a, b):", options=SHORT, system="Write code")
    assert whole.done and whole.eval_count <= 8
    parts = list(ollama_client.generate("codellama:7b", "def add(a, b):", options=SHORT, stream=True))
    assert parts[-1].done and all(not p.done for p in parts[:-1])


def test_seed_makes_sampling_repeatable(ollama_client):
    options = {"num_predict": 12, "seed": 42, "temperature": 1.0}
    first = ollama_client.generate("qwen2.5:7b", "Tell me", options=options).response
    second = ollama_client.generate("qwen2.5:7b", "Tell me", options=options).response
    third = ollama_client.generate("qwen2.5:7b", "Tell me", options={**options, "seed": 7}).response
    assert first == second
    assert first != third


def test_num_predict_limits_and_reports_length(ollama_client):
    reply = ollama_client.generate("phi3", "Go", options={"num_predict": 3, "temperature": 0})
    assert reply.eval_count <= 3
    if reply.eval_count == 3:
        assert reply.done_reason == "length"


def test_stop_string_cuts_the_output(ollama_client):
    options = {"num_predict": 40, "seed": 3, "temperature": 1.0}
    free = ollama_client.generate("qwen2.5:7b", "Say", options=options).response
    stop = free[len(free) // 2 : len(free) // 2 + 2]
    if not stop.strip():
        pytest.skip("the sampled text has no usable stop string")
    cut = ollama_client.generate("qwen2.5:7b", "Say", options={**options, "stop": [stop]})
    assert stop not in cut.response
    assert cut.done_reason == "stop"
    assert free.startswith(cut.response)


def test_format_json_schema_is_enforced(ollama_client):
    for seed in range(3):
        reply = ollama_client.chat(
            "qwen2.5:7b",
            messages=[{"role": "user", "content": "Give me a status"}],
            format=SCHEMA,
            options={"seed": seed, "num_predict": 60},
        )
        data = json.loads(reply.message.content)
        assert set(data) == {"ok", "count", "color"}
        assert (
            isinstance(data["ok"], bool)
            and 0 <= data["count"] <= 9
            and data["color"] in SCHEMA["properties"]["color"]["enum"]
        )
        assert reply.done_reason == "stop"


def test_format_json_gives_an_object(ollama_client):
    reply = ollama_client.generate("phi3", "JSON please", format="json", options={"num_predict": 40, "seed": 5})
    assert reply.response.startswith("{")
    if reply.done_reason == "stop":
        assert isinstance(json.loads(reply.response), dict)


def test_invalid_format_is_400(http):
    for bad in ("yaml", 3, ["json"], {"type": "no-such-type"}):
        response = http.post("/api/generate", json={"model": "phi3", "prompt": "x", "format": bad, "stream": False})
        assert response.status_code == 400, bad
        assert response.json()["error"].startswith("invalid")


def test_tools_are_accepted_by_a_tool_model_and_refused_by_others(ollama_client):
    messages = [
        {"role": "user", "content": "Weather in Tokyo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}],
        },
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ]
    reply = ollama_client.chat("qwen2.5:7b", messages=messages, tools=[WEATHER_TOOL], options=SHORT)
    assert reply.done
    for call in reply.message.tool_calls or []:
        assert call.function.name == "get_weather"
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.chat("phi3", messages=messages[:1], tools=[WEATHER_TOOL])
    assert error.value.status_code == 400 and "does not support tools" in error.value.error


def test_embed_and_legacy_embeddings(ollama_client):
    result = ollama_client.embed("qwen2.5:7b", input=["hello", "hola mundo"])
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) == 64
    norm = sum(v * v for v in result.embeddings[0]) ** 0.5
    assert abs(norm - 1) < 1e-4
    assert result.prompt_eval_count > 0
    legacy = ollama_client.embeddings("qwen2.5:7b", prompt="hello")
    assert len(legacy.embedding) == 64
    assert abs(sum(v * v for v in legacy.embedding) ** 0.5 - 1) > 1e-3  # legacy vectors are not normalised
    assert ollama_client.embed("qwen2.5:7b", input=[]).embeddings == []


def test_embed_unknown_model_uses_ollamas_wording(ollama_client):
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.embed("nope", input="x")
    assert error.value.status_code == 404
    assert error.value.error == 'model "nope" not found, try pulling it first'


def test_load_unload_and_ps(ollama_client):
    ollama_client.generate("codellama:7b", keep_alive=0)  # empty prompt + keep_alive 0 = unload
    assert "codellama:7b" not in {m.model for m in ollama_client.ps().models}
    loaded = ollama_client.generate("codellama:7b")  # empty prompt = load
    assert loaded.done_reason == "load"
    resident = {m.model: m for m in ollama_client.ps().models}
    assert "codellama:7b" in resident and resident["codellama:7b"].size > 0
    assert resident["codellama:7b"].expires_at is not None


def test_keep_alive_zero_unloads_after_the_reply(ollama_client):
    ollama_client.generate("gemma2:9b", "hi", options=SHORT, keep_alive=0)
    assert "gemma2:9b" not in {m.model for m in ollama_client.ps().models}


def test_residency_stays_within_the_memory_budget(ollama_client):
    for name in ("qwen2.5:7b", "phi3", "codellama:7b", "gemma2:9b", "llama3.2:3b"):
        ollama_client.generate(name, "x", options={"num_predict": 1}, keep_alive="10m")
    resident = [m.model for m in ollama_client.ps().models]
    assert len(resident) == 3  # the budget holds three tiny models
    assert "llama3.2:3b" in resident and "gemma2:9b" in resident
    assert "qwen2.5:7b" not in resident  # least recently used went first


def test_pull_streams_progress_then_the_model_serves(ollama_client, fake_hub):
    ollama_client.delete(PULLED_MODEL) if PULLED_MODEL in {m.model for m in ollama_client.list().models} else None
    progress = list(ollama_client.pull(PULLED_MODEL, stream=True))
    statuses = [p.status for p in progress]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    sized = [p for p in progress if p.total]
    assert sized and all(p.completed is None or p.completed <= p.total for p in sized)
    assert any(p.completed == p.total and p.digest.startswith("sha256:") for p in sized)
    assert any("/resolve/" in r for r in fake_hub.requests)
    assert PULLED_MODEL in {m.model for m in ollama_client.list().models}
    reply = ollama_client.chat(PULLED_MODEL, messages=[{"role": "user", "content": "hi"}], options=SHORT)
    assert reply.done
    ollama_client.delete(PULLED_MODEL)
    assert PULLED_MODEL not in {m.model for m in ollama_client.list().models}
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.chat(PULLED_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 404


def test_pull_of_a_name_outside_the_catalog_fails(ollama_client):
    with pytest.raises(ollama.ResponseError) as error:
        list(ollama_client.pull("not-a-model:1b", stream=True))
    assert "file does not exist" in error.value.error
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.pull("not-a-model:1b")
    assert error.value.status_code == 404  # Ollama says 500; a name outside the catalog is the caller's error


def test_delete_unknown_is_404(ollama_client):
    with pytest.raises(ollama.ResponseError) as error:
        ollama_client.delete("nope:1b")
    assert error.value.status_code == 404
