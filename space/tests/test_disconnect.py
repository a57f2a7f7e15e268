"""A client that goes away mid-stream stops the generation and frees the GPU slot."""

from __future__ import annotations

import json
import time

import httpx

# Greedy decoding of the tiny random models never meets end-of-sequence, so this would run all 2,048 tokens.
LONG = {"model": "qwen2.5:7b", "prompt": "Write a very long story", "options": {"num_predict": 2048, "temperature": 0}}


def test_disconnect_stops_generation_and_frees_the_slot(base_url):
    # The test server runs one generation at a time (ZEROLLAMA_MAX_CONCURRENCY=1): a generation left running
    # would hold the next request back until its 2,048 tokens are done.
    with httpx.Client(base_url=base_url, timeout=120) as client:
        sample = client.post("/api/generate", json={**LONG, "stream": False, "options": {"num_predict": 30}}).json()
        assert sample["eval_count"] == 30 and sample["done_reason"] == "length"
        per_token = sample["eval_duration"] / 1e9 / 30

        with client.stream("POST", "/api/generate", json=LONG) as response:
            lines = response.iter_lines()
            first = [json.loads(next(lines)) for _ in range(3)]
        assert all(not line["done"] for line in first)
        # leaving the block closed the connection after 3 of 2,048 tokens

        started = time.monotonic()
        short = client.post("/api/generate", json={**LONG, "stream": False, "options": {"num_predict": 2}})
        waited = time.monotonic() - started
    assert short.status_code == 200 and short.json()["eval_count"] == 2
    left_if_not_stopped = per_token * 2000
    assert waited < left_if_not_stopped / 4, (waited, left_if_not_stopped)


def test_a_non_streaming_client_that_gives_up_frees_the_slot_too(base_url):
    with httpx.Client(base_url=base_url, timeout=120) as client:
        sample = client.post("/api/generate", json={**LONG, "stream": False, "options": {"num_predict": 30}}).json()
        per_token = sample["eval_duration"] / 1e9 / 30
        try:
            client.post("/api/generate", json={**LONG, "stream": False}, timeout=1.0)
        except httpx.TimeoutException:
            pass  # the client hung up after one second
        started = time.monotonic()
        short = client.post("/api/generate", json={**LONG, "stream": False, "options": {"num_predict": 2}})
        waited = time.monotonic() - started
    assert short.status_code == 200 and short.json()["eval_count"] == 2
    assert waited < per_token * 2000 / 4, (waited, per_token * 2000)
