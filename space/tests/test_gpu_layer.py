"""The GPU layer in-process: ZeroGPU's scheduler errors (raised exactly as `spaces` raises them) become
429/503 with Retry-After, the caller's request reaches the GPU call, and the shared-key check."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from gradio.context import LocalContext
from spaces.zero.gradio import error as spaces_error
from starlette.testclient import TestClient

from conftest import job_by_job
from zerollama.core.catalog import load_catalog
from zerollama.core.errors import parse_retry_after, translate_gpu_error
from zerollama.core.schemas import ChatRequest
from zerollama.gpu.engine import LoopEngine
from zerollama.gpu.generation import Batch, Event, Finished, Job, Tagged, TextDelta, execute
from zerollama.gpu.runner import GpuRunner
from zerollama.gpu.runtime import ModelRuntime
from zerollama.server import Server
from zerollama.settings import HttpSettings, Settings
from zerollama.store import ModelStore

CHAT = {"model": "phi3", "messages": [{"role": "user", "content": "hi"}], "options": {"num_predict": 3}}


@pytest.fixture
def build(model_dir) -> Callable[..., Server]:
    """A server whose GPU entry is `entry`, with the given HTTP settings."""
    import torch

    def build(entry: Callable[[Job], Iterator[Event]], http: HttpSettings | None = None) -> Server:
        runtime = ModelRuntime("cpu", torch.float32, int(1e9))
        runner = GpuRunner(entry=job_by_job(entry), max_concurrency=1, max_queue=4)
        return Server(load_catalog(), ModelStore(model_dir), runtime, runner, Settings(http=http or HttpSettings()))

    return build


def client_for(server: Server) -> TestClient:
    ready = threading.Event()
    ready.set()
    app = FastAPI(middleware=server.middleware(ready))
    server.attach(app)
    return TestClient(app)


def raising(title: str, message: str):
    def entry(job: Job) -> Iterator[Event]:
        raise spaces_error(title, message)
        yield  # a generator, like the real GPU entry

    return entry


@pytest.mark.parametrize(
    ("title", "message", "status", "retry_after"),
    [
        (
            "ZeroGPU quota exceeded",
            "You have exceeded your free ZeroGPU quota (90s requested vs. 12s left). Try again in 0:12:34. ",
            429,
            754,
        ),
        ("ZeroGPU quota exceeded", "You have exceeded your ZeroGPU runs limit. ", 429, 600),
        ("ZeroGPU quota exceeded", "Space app has reached its GPU limit. Try re-running outside of examples", 429, 600),
        ("ZeroGPU pending credits exceeded", "You have too many ZeroGPU credits allocated to running tasks.", 429, 600),
        ("ZeroGPU client error", "No GPU was available", 503, 30),
        ("ZeroGPU queue timeout", "No GPU was available after 60s", 503, 30),
        # a caller without a token: spaces titles the queue timeout "quota exceeded"
        (
            "ZeroGPU quota exceeded",
            "No GPU was available after 60s. Try re-running outside of examples if it happened after clicking one",
            503,
            30,
        ),
    ],
)
def test_scheduler_refusals_become_429_or_503_with_retry_after(build, title, message, status, retry_after):
    client = client_for(build(raising(title, message)))
    for stream in (False, True):
        response = client.post("/api/chat", json={**CHAT, "stream": stream})
        assert response.status_code == status
        assert int(response.headers["Retry-After"]) == retry_after
        assert response.headers["content-type"].startswith("application/json")
        assert message.strip()[:20] in response.json()["error"]
    openai = client.post("/v1/chat/completions", json={"model": "phi3", "messages": CHAT["messages"]})
    assert openai.status_code == status and openai.json()["error"]["message"]


def test_illegal_duration_is_a_client_error_without_retry(build):
    client = client_for(build(raising("ZeroGPU illegal duration", "The requested GPU duration (900s) is larger")))
    response = client.post("/api/generate", json={"model": "phi3", "prompt": "x", "stream": False})
    assert response.status_code == 400 and "Retry-After" not in response.headers


def test_a_failure_after_output_started_ends_the_stream_with_an_error_line(build, model_dir):
    def entry(job: Job) -> Iterator[Event]:
        for tagged in execute(Batch((job,)), server.registry.runtime, LoopEngine(), lambda member: False):
            event = tagged.event if isinstance(tagged, Tagged) else tagged
            yield event
            if isinstance(event, TextDelta):
                raise spaces_error("ZeroGPU worker error", "GPU task aborted")

    server = build(entry)
    client = client_for(server)
    options = {"num_predict": 20, "seed": 1, "temperature": 1.0}
    lines = client.post("/api/chat", json={**CHAT, "options": options}).text.strip().split("\n")
    assert len(lines) == 2 and '"done": false' in lines[0]
    assert "GPU task was aborted" in json.loads(lines[-1])["error"]


def test_the_callers_request_reaches_the_gpu_call(build):
    seen: dict[str, object] = {}

    def entry(job: Job) -> Iterator[Event]:
        request = LocalContext.request.get()
        seen["token"] = request.headers.get("x-ip-token") if request else None
        seen["blocks_set"] = LocalContext.blocks.get() is server.runner.blocks
        raise spaces_error("ZeroGPU client error", "No GPU was available")
        yield

    server = build(entry)
    client = client_for(server)
    client.post("/api/chat", json=CHAT, headers={"X-IP-Token": "jwt-of-the-caller"})
    assert seen == {"token": "jwt-of-the-caller", "blocks_set": True}


def test_bad_requests_never_reach_the_gpu(build):
    calls = []

    def entry(job: Job) -> Iterator[Event]:
        calls.append(job)
        yield from ()

    client = client_for(build(entry))
    assert client.post("/api/chat", json={**CHAT, "options": {"num_ctx": 10**9}}).status_code == 400
    assert client.post("/api/chat", json={**CHAT, "model": "nope"}).status_code == 404
    assert calls == []


def test_requests_beyond_the_queue_get_503(build):
    server = build(raising("x", "y"))
    client = client_for(server)
    server.runner.pending = server.runner.max_concurrency + server.runner.max_queue  # all slots and places taken
    response = client.post("/api/chat", json=CHAT)
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_shared_key_guards_every_api_route(build):
    client = client_for(build(raising("x", "y"), HttpSettings(api_key="s3cret")))
    for method, path in [("GET", "/api/tags"), ("POST", "/api/chat"), ("GET", "/v1/models"), ("GET", "/api/ps")]:
        assert client.request(method, path).status_code == 401, path
    assert client.get("/api/tags", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/tags", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert (
        client.get("/api/tags", headers={"Authorization": "Bearer hf_other", "X-API-Key": "s3cret"}).status_code == 200
    )
    assert client.get("/api/tags", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/zerollama/catalog").status_code == 401


def test_retry_after_parsing():
    assert parse_retry_after("Try again in 1:02:03.") == 3723
    assert parse_retry_after("Try again in 1 day, 0:00:10.") == 86410
    assert parse_retry_after("no hint") is None
    assert translate_gpu_error(None, "GPU task aborted").status == 504


def test_requested_gpu_time_follows_the_request_and_the_measured_speed(build):
    server = build(raising("x", "y"))

    def job_for(num_predict: int, prompt: str = "hi") -> Job:
        messages = [{"role": "user", "content": prompt}]
        body = {"model": "phi3", "messages": messages, "options": {"num_predict": num_predict}}
        return server.service.chat_job(ChatRequest.model_validate(body))

    short, long = job_for(10), job_for(1000)
    assert short.requested_seconds < long.requested_seconds
    assert job_for(10, "word " * 3000).requested_seconds >= short.requested_seconds
    # Measured: 1,000 tokens/s decode -> a 1,000-token reply needs far less than the assumed speed gave.
    server.registry.record(short.entry, Finished(done_reason="stop", eval_count=1000, eval_duration=int(1e9)))
    assert job_for(1000).requested_seconds < long.requested_seconds
    assert job_for(1000).requested_seconds >= 5  # never below ZEROLLAMA_MIN_GPU_SECONDS


def test_a_streamed_chat_without_output_still_opens_with_the_assistant_role(build):
    """A reply that ends at once (end of turn first) is one finish chunk; OpenAI clients read the role there."""

    def entry(job: Job) -> Iterator[Event]:
        yield Finished(done_reason="stop", prompt_eval_count=1, eval_count=1)

    client = client_for(build(entry))
    body = {"model": "phi3", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    lines = [line for line in client.post("/v1/chat/completions", json=body).text.split("\n") if line.strip()]
    first = json.loads(lines[0].removeprefix("data: "))
    assert first["choices"][0]["delta"] == {"role": "assistant"} and first["choices"][0]["finish_reason"] == "stop"
