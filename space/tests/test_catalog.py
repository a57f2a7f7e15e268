"""GET /api/zerollama/catalog: fields against the catalog and the contract, costs against costs.py, quota
bookkeeping, and the page's table built from the same document."""

from __future__ import annotations

import base64
import json
import math
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from conftest import REPO
from zerollama.api.catalog_route import CATALOG_PATH, build_catalog, register
from zerollama.core.catalog import load_catalog
from zerollama.core.costs import estimated_tokens_per_second, load_cost_settings, per_1k_tokens
from zerollama.core.quota import QuotaLedger, caller_key
from zerollama.core.registry import ModelStatus
from zerollama.demo import NOTES
from zerollama.ui import DEMO_NOTE_ID, build_demo, format_cop, models_table

MODEL_KEYS = {
    "name",
    "aliases",
    "purpose",
    "recommended_use",
    "parameter_size",
    "size_bytes",
    "context_length",
    "capabilities",
    "display_order",
    "loaded",
    "tokens_per_second",
    "cost",
}
COST_KEYS = {
    "basis",
    "gpu_seconds_per_1k_tokens",
    "per_1k_tokens_usd",
    "per_1k_tokens_cop",
    "quota_seconds_per_1k_tokens",
    "over_quota_per_1k_tokens_cop",
    "typical_reply_tokens",
    "typical_reply_cop",
}
CATALOG = load_catalog()
SPEEDS = {"qwen2.5:7b": 42.0}  # measured for one model only: the others fall back to estimates
LOADED = {"qwen2.5:7b", "phi3"}
TOKEN_HEADERS = {"Authorization": "Bearer hf_exampletoken"}


def statuses(speeds: dict[str, float] = SPEEDS, loaded: set[str] = LOADED) -> list[ModelStatus]:
    return [
        ModelStatus(
            entry=entry,
            downloaded=True,
            loaded=entry.name in loaded,
            tokens_per_second=speeds.get(entry.name),
            expires_at=math.inf if entry.name in loaded else None,
        )
        for entry in reversed(CATALOG.models)  # out of order on purpose: the route sorts
    ]


class StatusesOnly:
    """The one registry method the route reads."""

    def statuses(self) -> list[ModelStatus]:
        return statuses()


def settings(**env: str):
    return load_cost_settings({"ZEROLLAMA_USD_COP": "4000", **env})


def test_curated_models_in_display_order_with_contract_fields() -> None:
    document = build_catalog(statuses(), settings(), QuotaLedger(), {})
    curated = sorted((m for m in CATALOG.models if m.curated), key=lambda m: m.display_order)
    assert [m["name"] for m in document["models"]] == [m.name for m in curated]
    for shown, entry in zip(document["models"], curated, strict=True):
        assert set(shown) == MODEL_KEYS
        assert set(shown["cost"]) == COST_KEYS
        assert shown["purpose"] == entry.purpose
        assert shown["size_bytes"] == entry.bf16_bytes
        assert shown["aliases"] == list(entry.aliases)
        assert shown["loaded"] is (entry.name in LOADED)
    assert document["currency"] == "COP"
    assert document["usd_cop"] == 4000
    assert document["tier"] == "pro" and document["hardware"] == "zero-a10g"


def test_excluded_models_carry_their_reason() -> None:
    document = build_catalog(statuses(), settings(), QuotaLedger(), {})
    expected = [{"name": m.name, "reason": m.excluded_reason} for m in CATALOG.models if not m.curated]
    assert expected, "models.json should exclude at least one model"
    assert document["excluded"] == expected


def test_measured_model_costs_match_the_cost_model() -> None:
    loaded = settings()
    document = build_catalog(statuses(), loaded, QuotaLedger(), {})
    qwen = next(m for m in document["models"] if m["name"] == "qwen2.5:7b")
    assert qwen["tokens_per_second"] == 42.0
    assert qwen["cost"] == per_1k_tokens(42.0, loaded).as_dict()
    assert qwen["cost"]["basis"] == "measured"
    # 1000/42 s at $1 per 600 s and 4000 COP/USD
    assert math.isclose(qwen["cost"]["over_quota_per_1k_tokens_cop"], 1000 / 42 / 600 * 4000, abs_tol=0.01)
    assert qwen["cost"]["per_1k_tokens_cop"] == 0  # inside the daily quota nothing is billed


def test_unmeasured_models_are_estimated_from_their_size() -> None:
    loaded = settings()
    document = build_catalog(statuses(), loaded, QuotaLedger(), {})
    phi3 = next(m for m in document["models"] if m["name"] == "phi3")
    entry = CATALOG.find("phi3")
    assert phi3["tokens_per_second"] is None
    estimate = estimated_tokens_per_second(entry.bf16_bytes, loaded)
    assert phi3["cost"] == per_1k_tokens(estimate, loaded, basis="estimated").as_dict()


def test_free_tier_shows_no_over_quota_price_and_dedicated_hardware_bills() -> None:
    free = build_catalog(statuses(), settings(ZEROLLAMA_TIER="free"), QuotaLedger(), {})
    assert all(m["cost"]["over_quota_per_1k_tokens_cop"] is None for m in free["models"])
    dedicated = build_catalog(statuses(), settings(ZEROLLAMA_HARDWARE="l40sx1"), QuotaLedger(), TOKEN_HEADERS)
    qwen = dedicated["models"][0]
    assert math.isclose(qwen["cost"]["per_1k_tokens_cop"], 1000 / 42 * 1.8 / 3600 * 4000, abs_tol=0.01)
    assert dedicated["quota"] == {"daily_seconds": 0, "used_seconds": None, "left_seconds": None}


def test_models_too_large_for_the_hardware_are_excluded() -> None:
    document = build_catalog(statuses(), settings(ZEROLLAMA_HARDWARE="t4-small"), QuotaLedger(), {})
    reasons = {e["name"]: e["reason"] for e in document["excluded"]}
    assert "Too large for Nvidia T4 small" in reasons["gemma2:9b"]  # 18.5 GB > 16 GB
    assert "qwen2.5:7b" not in reasons  # 15.2 GB fits
    assert "gemma2:9b" not in [m["name"] for m in document["models"]]


def test_quota_is_unknown_for_anonymous_callers() -> None:
    ledger = QuotaLedger()
    ledger.record({}, 30)
    document = build_catalog(statuses(), settings(), ledger, {})
    assert document["quota"] == {"daily_seconds": 2400, "used_seconds": None, "left_seconds": None}


def test_quota_counts_the_callers_own_usage_for_24_hours() -> None:
    now = [1_000_000.0]
    ledger = QuotaLedger(clock=lambda: now[0])
    ledger.record(TOKEN_HEADERS, 100)
    ledger.record({"Authorization": "Bearer hf_someoneelse"}, 500)
    now[0] += 3600
    ledger.record(TOKEN_HEADERS, 20.5)
    quota = build_catalog(statuses(), settings(), ledger, TOKEN_HEADERS)["quota"]
    assert quota == {"daily_seconds": 2400, "used_seconds": 120.5, "left_seconds": 2279.5}
    now[0] += 23 * 3600 + 1  # the first call is now older than 24 h
    assert ledger.quota_used(TOKEN_HEADERS) == 20.5


def test_caller_key_hashes_tokens_and_reads_the_browser_ip_token() -> None:
    key = caller_key({"authorization": "Bearer hf_secret"})
    assert key is not None and "hf_secret" not in key
    assert key == caller_key({"X-HF-Authorization": "Bearer hf_secret"})
    payload = base64.urlsafe_b64encode(json.dumps({"user": "ana"}).encode()).decode().rstrip("=")
    assert caller_key({"x-ip-token": f"e30.{payload}.sig"}) == "user:ana"
    assert caller_key({"x-ip-token": "not-a-jwt"}) is None
    assert caller_key({"authorization": "Basic abc"}) is None


def test_page_table_shows_each_curated_model_with_its_cop_figures() -> None:
    document = build_catalog(statuses(), settings(), QuotaLedger(), {})
    table = models_table(document)
    for model in document["models"]:
        assert f"<code>{model['name']}</code>" in table
        assert format_cop(model["cost"]["typical_reply_cop"]) in table
        assert format_cop(model["cost"]["over_quota_per_1k_tokens_cop"]) in table
    for excluded in document["excluded"]:
        assert excluded["name"] in table


def demo_notes_on_page(demo_mode: str) -> list[str]:
    config = build_demo(StatusesOnly(), settings(), demo_note=NOTES.get(demo_mode, "")).get_config_file()
    return [c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == DEMO_NOTE_ID]


def test_page_says_when_a_demo_model_stands_in_for_the_catalog_names() -> None:
    assert demo_notes_on_page("") == []  # the real Space shows nothing extra
    (smollm2,) = demo_notes_on_page("smollm2")
    assert "SmolLM2-135M-Instruct" in smollm2 and "Sizes are the catalog models'" in smollm2
    (tiny,) = demo_notes_on_page("tiny")
    assert "random-weight" in tiny and "Sizes are the catalog models'" in tiny


COP_CASES = json.loads((REPO / "test" / "fixtures" / "cop-format.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", COP_CASES, ids=[str(case["cop"]) for case in COP_CASES])
def test_format_cop_writes_pesos_as_the_typescript_does(case: dict) -> None:
    assert format_cop(case["cop"]) == case["text"]


def test_format_cop_writes_a_missing_figure_as_a_dash() -> None:
    assert format_cop(None) == "—"


@pytest.fixture(scope="module")
def served_route() -> Iterator[tuple[str, QuotaLedger]]:
    """The route on a real HTTP server (uvicorn), the way the Space serves it."""
    app = FastAPI()
    ledger = register(app, StatusesOnly(), settings())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", ledger
    server.should_exit = True
    thread.join(5)


def test_route_answers_plain_http_with_the_callers_quota(served_route: tuple[str, QuotaLedger]) -> None:
    base, ledger = served_route
    ledger.record(TOKEN_HEADERS, 60)
    request = urllib.request.Request(base + CATALOG_PATH, headers=TOKEN_HEADERS)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/json")
        document = json.load(response)
    assert document == build_catalog(statuses(), settings(), ledger, TOKEN_HEADERS)
    assert document["quota"]["used_seconds"] == 60


# ---- the real server (space/app.py with tiny models, conftest's base_url) ----------------------------

LIVE_TOKEN = {"Authorization": "Bearer hf_catalog_test_caller"}
SHORT_REPLY = {"num_predict": 8, "temperature": 0, "seed": 1}


def test_live_catalog_lists_the_curated_models_with_cost_model_figures(http) -> None:
    document = http.get(CATALOG_PATH).json()
    curated = sorted((m for m in CATALOG.models if m.curated), key=lambda m: m.display_order)
    assert [m["name"] for m in document["models"]] == [m.name for m in curated]
    assert [e["name"] for e in document["excluded"]] == [m.name for m in CATALOG.models if not m.curated]
    server_costs = load_cost_settings({})  # the test server runs without ZEROLLAMA_* cost variables
    for model in document["models"]:
        assert set(model) == MODEL_KEYS and set(model["cost"]) == COST_KEYS
        speed = model["tokens_per_second"]
        if speed is not None:  # measured by earlier replies: the figures follow from the rounded speed
            expected = per_1k_tokens(speed, server_costs).as_dict()
            assert model["cost"]["basis"] == "measured"
            assert math.isclose(model["cost"]["typical_reply_cop"], expected["typical_reply_cop"], rel_tol=0.01)
    defaults = [m for m in document["models"] if m["name"] in CATALOG.default_models]
    assert defaults and all(m["loaded"] for m in defaults)  # preloaded at start


def test_live_official_client_ignores_the_extra_cost_fields(base_url: str) -> None:
    import ollama

    client = ollama.Client(host=base_url, timeout=60)
    reply = client.chat(model="phi3", messages=[{"role": "user", "content": "hola"}], options=SHORT_REPLY)
    assert reply.message.role == "assistant" and reply.done and reply.eval_count >= 1
    chunks = list(client.generate(model="phi3", prompt="hola", options=SHORT_REPLY, stream=True))
    assert chunks[-1].done and chunks[-1].eval_count >= 1


def test_live_replies_fill_the_callers_quota_and_the_measured_speed(http) -> None:
    before = http.get(CATALOG_PATH, headers=LIVE_TOKEN).json()["quota"]
    assert before == {"daily_seconds": 2400, "used_seconds": 0, "left_seconds": 2400}
    body = {"model": "phi3", "messages": [{"role": "user", "content": "x"}], "options": SHORT_REPLY, "stream": False}
    spent = sum(
        http.post("/api/chat", json=body, headers=LIVE_TOKEN).json()["zerollama"]["quota_seconds"] for _ in range(2)
    )
    after = http.get(CATALOG_PATH, headers=LIVE_TOKEN).json()
    assert spent > 0
    assert math.isclose(after["quota"]["used_seconds"], spent, abs_tol=0.06)
    assert math.isclose(after["quota"]["left_seconds"], 2400 - spent, abs_tol=0.06)
    phi3 = next(m for m in after["models"] if m["name"] == "phi3")
    assert phi3["tokens_per_second"] > 0 and phi3["cost"]["basis"] == "measured"
    assert http.get(CATALOG_PATH).json()["quota"]["used_seconds"] is None  # anonymous callers are not tracked
