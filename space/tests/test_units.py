"""Pure pieces: output filtering (stop strings, tool calls), options, keep_alive, catalog names, residency."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import REPO
from zerollama.core.catalog import load_catalog, normalise_name
from zerollama.core.errors import ApiError
from zerollama.core.options import parse_keep_alive, parse_options
from zerollama.core.registry import expiry_for_display
from zerollama.gpu.runtime import ModelRuntime
from zerollama.gpu.textstream import JSON_REPLY, MISTRAL, QWEN, OutputFilter, parse_tool_call, tool_syntax_for


def feed_all(output: OutputFilter, deltas: list[str]) -> tuple[str, list[dict], bool]:
    text, calls, stopped = "", [], False
    for delta in deltas:
        piece = output.feed(delta)
        text, calls, stopped = text + piece.text, calls + piece.tool_calls, stopped or piece.stopped
        if piece.stopped:
            break
    end = output.finish()
    return text + end.text, calls + end.tool_calls, stopped


def test_stop_string_split_across_tokens_is_cut_and_never_shown():
    text, _, stopped = feed_all(OutputFilter(("END",), None), ["Hello E", "N", "D more"])
    assert text == "Hello " and stopped


def test_text_that_only_looks_like_a_stop_prefix_is_released():
    text, _, stopped = feed_all(OutputFilter(("END",), None), ["Hello E", "mma"])
    assert text == "Hello Emma" and not stopped


def test_qwen_style_tool_calls_are_parsed_out_of_the_text():
    deltas = ["Sure. <tool", '_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n</tool_call>', " done"]
    text, calls, _ = feed_all(OutputFilter((), QWEN), deltas)
    assert text == "Sure.  done"
    assert calls[0]["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}
    assert calls[0]["id"].startswith("call_") and len(calls[0]["id"]) == 13


def test_unclosed_tool_call_at_the_end_is_still_parsed_and_broken_ones_stay_text():
    _, calls, _ = feed_all(OutputFilter((), QWEN), ['<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}'])
    assert calls[0]["function"]["arguments"] == {"a": 1}
    text, calls, _ = feed_all(OutputFilter((), QWEN), ["<tool_call>not json</tool_call> after"])
    assert calls == [] and text == "<tool_call>not json</tool_call> after"
    inside = ['<tool_call>{"name": "f", "arguments": {"s": "a</tool_call>b"}}', "</tool_call>ok"]
    text, calls, _ = feed_all(OutputFilter((), QWEN), inside)
    assert calls[0]["function"]["arguments"] == {"s": "a</tool_call>b"} and text == "ok"
    assert parse_tool_call({"name": 3}, 0) is None


def test_mistral_calls_run_to_the_end_of_the_reply():
    deltas = [
        "Let me check. [TOOL",
        '_CALLS] [{"name": "a", "arguments": {"x": 1}}, ',
        '{"name": "b", "arguments": {}}]',
    ]
    text, calls, _ = feed_all(OutputFilter((), MISTRAL), deltas)
    assert text == "Let me check. "
    assert [(c["function"]["index"], c["function"]["name"]) for c in calls] == [(0, "a"), (1, "b")]


def test_llama_replies_that_are_one_json_call_become_calls_and_other_replies_stay_text():
    _, calls, _ = feed_all(OutputFilter((), JSON_REPLY), [' {"name": "f", ', '"parameters": {"q": "x"}}'])
    assert calls[0]["function"]["arguments"] == {"q": "x"}
    text, calls, _ = feed_all(OutputFilter((), JSON_REPLY), ["Hello {not a call}"])
    assert text == "Hello {not a call}" and calls == []
    text, calls, _ = feed_all(OutputFilter((), JSON_REPLY), ['{"answer": 42}'])
    assert text == '{"answer": 42}' and calls == []


def test_syntax_follows_the_chat_template():
    assert tool_syntax_for("...<tool_call>...") is QWEN
    assert tool_syntax_for("...[TOOL_CALLS]...") is MISTRAL
    assert tool_syntax_for("{{ tools }} parameters") is JSON_REPLY


@pytest.mark.parametrize("syntax", [QWEN, MISTRAL, JSON_REPLY])
def test_forced_tool_call_grammar_gives_a_call_the_parser_reads_for_each_syntax(model_dir, syntax):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from zerollama.gpu.constrained import compiler_for, logits_processor

    folder = model_dir / "qwen2.5--7b"
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    tool = {"function": {"name": "lookup", "parameters": {"type": "object", "properties": {"n": {"enum": [1, 2]}}}}}
    processor = logits_processor(compiler_for(tokenizer, model.config.vocab_size), None, [tool], syntax)
    prompt = tokenizer("hi", return_tensors="pt").input_ids
    torch.manual_seed(0)
    output = model.generate(prompt, max_new_tokens=60, do_sample=True, logits_processor=[processor])
    text = tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True)
    _, calls, _ = feed_all(OutputFilter((), syntax), [text])
    assert [c["function"]["name"] for c in calls] == ["lookup"], text


def test_keep_alive_forms():
    assert parse_keep_alive(None) is None
    assert parse_keep_alive(0) == 0 and parse_keep_alive("0") == 0
    assert parse_keep_alive("5m") == 300 and parse_keep_alive("1h30m") == 5400 and parse_keep_alive(2.5) == 2.5
    assert parse_keep_alive(-1) == math.inf and parse_keep_alive("-1m") == math.inf
    for bad in ("soon", "5 minutes", True, [1]):
        with pytest.raises(ApiError):
            parse_keep_alive(bad)


def test_options_merge_catalog_defaults_and_check_types_and_limits():
    qwen = load_catalog().find("qwen2.5:7b")
    options = parse_options({"temperature": 0.2, "num_predict": 5.0, "mirostat": 1, "stop": "x"}, qwen)
    assert options.temperature == 0.2 and options.top_k == 20 and options.max_new_tokens == 5
    assert options.stop == ("x",)
    with pytest.raises(ApiError, match="must be of type integer"):
        parse_options({"num_ctx": "big"}, qwen)
    with pytest.raises(ApiError, match="exceeds the context length"):
        parse_options({"num_ctx": 40000}, qwen)
    assert parse_options({"num_predict": -1}, qwen).max_new_tokens > 0


def test_values_the_sampler_or_the_clock_cannot_take_are_refused_with_400():
    qwen = load_catalog().find("qwen2.5:7b")
    bad_options = [
        {"min_p": 2},
        {"top_p": 1.5},
        {"repeat_penalty": 0},
        {"temperature": -1},
        {"seed": 1e30},
        {"seed": 2**64},
        {"top_k": 10**400},
        {"min_p": 10**400},
    ]
    for bad in bad_options:
        with pytest.raises(ApiError) as refused:
            parse_options(bad, qwen)
        assert refused.value.status == 400, bad
    assert parse_options({"seed": 2**63 - 1, "min_p": 1, "top_p": 0, "repeat_penalty": 0.5}, qwen).seed == 2**63 - 1
    for far in (1e308, "99999999999999h", 10**400, "1e400", "2562048h"):
        with pytest.raises(ApiError, match="keep_alive"):
            parse_keep_alive(far)
    assert parse_keep_alive("2562047h") == 2562047 * 3600 and parse_keep_alive(-(10**400)) == math.inf
    assert expiry_for_display(math.inf) == pytest.approx(expiry_for_display(1e300))
    assert expiry_for_display(math.nan) < math.inf


NAME_CASES = json.loads((REPO / "test" / "fixtures" / "model-names.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", NAME_CASES, ids=[case["name"] for case in NAME_CASES])
def test_names_normalise_as_the_pipeline_normalises_them(case):
    """The same fixture src/catalog.ts is tested against (test/unit/catalog-names.test.ts)."""
    assert normalise_name(case["name"]) == case["normalised"]


def test_catalog_names_and_aliases():
    catalog = load_catalog()
    assert normalise_name("Qwen2.5") == "qwen2.5:latest"
    assert catalog.find("phi3:latest").name == "phi3" and catalog.find("phi3").name == "phi3"
    assert catalog.find("registry.ollama.ai/library/mistral:latest").name == "mistral:7b"
    assert catalog.find("qwen2.5:14b") is None


def test_runtime_evicts_least_recently_used_within_budget_and_honours_keep_alive(model_dir):
    catalog = load_catalog()
    entries = [catalog.find(n) for n in ("qwen2.5:7b", "phi3", "codellama:7b")]
    runtime = ModelRuntime("cpu", torch.float32, int(1.2e6))  # room for two tiny models
    for entry in entries:
        loaded, seconds = runtime.acquire(entry, model_dir / entry.folder_name)
        assert seconds > 0
        runtime.release(loaded, 60)
    assert [r.name for r in runtime.snapshot()] == ["phi3", "codellama:7b"]
    loaded, seconds = runtime.acquire(entries[1], model_dir / entries[1].folder_name)
    assert seconds == 0  # already resident
    runtime.release(loaded, 0)
    assert [r.name for r in runtime.snapshot()] == ["codellama:7b"]


def test_templates_without_a_system_role_get_the_system_text_in_the_first_user_turn(model_dir):
    from transformers import AutoTokenizer

    from zerollama.core.jobs import Service

    tokenizer = AutoTokenizer.from_pretrained(model_dir / "gemma2--9b")
    # Gemma 2's template refuses the system role this way.
    tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    )
    gemma = load_catalog().find("gemma2:9b")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert Service._render(gemma, tokenizer, messages, []) == "<user>Be brief.\n\nHi"
    tokenizer.chat_template = "{{ raise_exception('Conversation roles must alternate') }}"
    with pytest.raises(ApiError, match="must alternate"):
        Service._render(gemma, tokenizer, messages, [])


def test_on_zerogpu_the_registry_shows_what_the_workers_reported(model_dir):
    import time

    from zerollama.core.registry import ModelRegistry
    from zerollama.gpu.generation import Finished
    from zerollama.gpu.runtime import ResidentModel
    from zerollama.store import ModelStore

    catalog = load_catalog()
    registry = ModelRegistry(catalog, ModelStore(model_dir), ModelRuntime("cpu", torch.float32, 10**9), False)
    registry.adopt([ResidentModel("qwen2.5:7b", 10, "cuda", math.inf)])
    assert registry.is_resident(catalog.find("qwen2.5:7b"))
    reported = [ResidentModel("phi3", 5, "cuda", time.time() + 60), ResidentModel("gemma2:9b", 5, "cuda", 0.0)]
    registry.record(
        catalog.find("phi3"), Finished(done_reason="stop", eval_count=50, eval_duration=int(1e9), resident=reported)
    )
    assert [r.name for r in registry.resident()] == ["phi3"]  # the expired one is not shown
    statuses = {s.entry.name: s for s in registry.statuses()}
    assert statuses["phi3"].loaded and statuses["phi3"].tokens_per_second == 50.0
    assert not statuses["qwen2.5:7b"].loaded and statuses["qwen2.5:7b"].downloaded
