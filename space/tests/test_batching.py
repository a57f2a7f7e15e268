"""Same-model generations waiting together are decoded in one GPU call, each as if it ran alone.

In-process over the tiny random models and the real engine; the GPU entry is the real one, watched by a
recorder that sees every batch and every event the call yields (before the runner drops any)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from starlette.testclient import TestClient
from test_gpu_layer import client_for

from zerollama.core.catalog import load_catalog
from zerollama.core.schemas import GenerateRequest
from zerollama.gpu import engine as engine_module
from zerollama.gpu.cancel import CancelBoard
from zerollama.gpu.engine import LoopEngine, warp
from zerollama.gpu.generation import Batch, Failed, Finished, Heartbeat, Tagged, TextDelta
from zerollama.gpu.runner import GpuRunner, gpu_entry
from zerollama.gpu.runtime import ModelRuntime
from zerollama.server import Server
from zerollama.settings import Settings
from zerollama.store import ModelStore

MODEL = "qwen2.5:7b"


class Recorder:
    """The real GPU entry, with every call's batch and its events kept; `hold` keeps calls from starting."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.events: list[list[Tagged]] = []
        self.seconds: list[float] = []  # each call's time inside the entry
        self.hold = threading.Event()
        self.hold.set()

    def __call__(self, batch: Batch) -> Iterator[Tagged | Heartbeat]:
        self.hold.wait(30)
        self.batches.append(batch)
        seen: list[Tagged] = []
        self.events.append(seen)
        started = time.monotonic()
        try:
            for item in gpu_entry(batch):
                if isinstance(item, Tagged):
                    seen.append(item)
                yield item
        finally:  # the runner closes the call once every member is done
            self.seconds.append(time.monotonic() - started)

    def last_finished(self, key: Callable[[Any], str]) -> dict[str, Finished]:
        """The last call's Finished events, by `key` of the member's job (members come in arrival order)."""
        batch = self.batches[-1]
        return {key(batch.jobs[t.member]): t.event for t in self.events[-1] if isinstance(t.event, Finished)}


@pytest.fixture
def served(model_dir) -> Iterator[tuple[Server, Recorder]]:
    recorder = Recorder()
    runtime = ModelRuntime("cpu", torch.float32, int(4e9))
    runner = GpuRunner(entry=recorder, max_concurrency=1, max_queue=16, max_batch=8, per_caller=True)
    yield Server(load_catalog(), ModelStore(model_dir), runtime, runner, Settings()), recorder


def generate(options: dict[str, Any], prompt: str = "Tell me about the sea", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": prompt, "stream": False, "options": options, **extra}


def together(
    client: TestClient, server: Server, recorder: Recorder, bodies: list[dict], headers: list[dict] | None = None
) -> list:
    """Posts every body at once, so that all of them wait for the same free slot (see `held`)."""
    sent = headers or [{}] * len(bodies)
    return held(
        client,
        server,
        recorder,
        [lambda i=i: client.post("/api/generate", json=bodies[i], headers=sent[i]) for i in range(len(bodies))],
    )


def held(client: TestClient, server: Server, recorder: Recorder, requests: list[Callable[[], Any]]) -> list:
    """Runs `requests` in threads while a held load request keeps the one call slot, so that all of them
    wait for it to free together; returns their results. The load's call is the one before theirs."""
    recorder.hold.clear()
    results: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        results[i] = requests[i]()

    blocker = threading.Thread(target=client.post, args=("/api/generate",), kwargs={"json": {"model": MODEL}})
    blocker.start()
    wait_until(lambda: server.runner.pending >= 1)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    wait_until(lambda: server.runner.pending >= 1 + len(requests))
    recorder.hold.set()
    for thread in [*threads, blocker]:
        thread.join(120)
    return results


def wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def client(served) -> TestClient:
    return client_for(served[0])


GREEDY = {"temperature": 0, "num_predict": 12}


def test_waiting_generations_share_one_call_and_each_reads_as_if_alone(served, client):
    _, recorder = served
    bodies = [
        generate(GREEDY, "Tell me about the sea"),
        generate({"temperature": 0, "num_predict": 5}, "A much longer prompt about mountains and rivers and the sky"),
        generate({"temperature": 0.9, "seed": 7, "top_k": 20, "top_p": 0.9, "num_predict": 9}, "Hello"),
        generate({"temperature": 0, "num_predict": 12, "repeat_penalty": 1.3}, "Tell me about the sea"),
    ]
    alone = [client.post("/api/generate", json=body).json() for body in bodies]
    assert [len(b.jobs) for b in recorder.batches] == [1, 1, 1, 1]

    batched = [r.json() for r in together(client, served[0], recorder, bodies)]
    assert [len(b.jobs) for b in recorder.batches[5:]] == [4]  # after the load that held the slot
    for solo, member in zip(alone, batched, strict=True):
        assert member["response"] == solo["response"] and member["response"]
        assert member["eval_count"] == solo["eval_count"]
        assert member["prompt_eval_count"] == solo["prompt_eval_count"]
    assert [m["eval_count"] for m in batched] == [12, 5, 9, 12]


def test_members_stop_on_their_own_and_report_their_own_share_of_the_call(served, client):
    _, recorder = served
    probe = client.post("/api/generate", json=generate(GREEDY)).json()["response"]
    stop = probe[len(probe) // 2 :][:3]
    bodies = [
        generate({"temperature": 0, "num_predict": 40}),
        generate({"temperature": 0, "num_predict": 3}),
        generate({"temperature": 0, "num_predict": 40, "stop": [stop]}),
    ]
    replies = [r.json() for r in together(client, served[0], recorder, bodies)]
    assert len(recorder.batches[-1].jobs) == 3
    assert replies[0]["eval_count"] == 40 and replies[0]["done_reason"] == "length"
    assert replies[1]["eval_count"] == 3 and replies[1]["done_reason"] == "length"
    assert replies[2]["done_reason"] == "stop" and stop not in replies[2]["response"]
    assert replies[2]["eval_count"] < 40
    finished = recorder.last_finished(lambda job: "stop" if job.options.stop else str(job.options.max_new_tokens))
    shares = {name: event.gpu_seconds for name, event in finished.items()}
    assert shares["3"] < shares["40"] and shares["stop"] < shares["40"]  # shorter members pay for fewer steps
    assert 0 < sum(shares.values()) <= recorder.seconds[-1]  # the shares split the call's time, never bill it twice


def test_only_one_callers_generations_share_a_call_on_zerogpu(served, client):
    _, recorder = served
    bodies = [generate({"temperature": 0, "num_predict": 4})] * 4
    tokens = [{"X-IP-Token": "caller-a"}, {"X-IP-Token": "caller-b"}, {"X-IP-Token": "caller-a"}, {}]
    replies = together(client, served[0], recorder, bodies, tokens)
    assert all(r.status_code == 200 for r in replies)
    sizes = sorted(len(b.jobs) for b in recorder.batches[1:])
    assert sizes == [1, 1, 2]  # caller-a's two together; caller-b and the anonymous caller alone


def test_across_callers_off_zerogpu_and_never_across_models(model_dir):
    recorder = Recorder()
    runtime = ModelRuntime("cpu", torch.float32, int(4e9))
    runner = GpuRunner(entry=recorder, max_concurrency=1, max_queue=16, max_batch=3, per_caller=False)
    server = Server(load_catalog(), ModelStore(model_dir), runtime, runner, Settings())
    client = client_for(server)
    short = {"temperature": 0, "num_predict": 3}
    bodies = [generate(short)] * 4 + [{**generate(short), "model": "phi3"}]
    tokens = [{"X-IP-Token": f"caller-{i}"} for i in range(5)]
    replies = together(client, server, recorder, bodies, tokens)
    assert all(r.status_code == 200 for r in replies)
    models = [{j.entry.name for j in b.jobs} for b in recorder.batches[1:]]
    assert all(len(names) == 1 for names in models)
    assert sorted(len(b.jobs) for b in recorder.batches[1:]) == [1, 1, 3]  # max_batch 3 of the four, phi3 alone


def test_a_member_whose_client_leaves_stops_decoding_while_the_others_go_on(served, client):
    server, recorder = served

    def stay() -> dict:
        return client.post("/api/generate", json=generate({"temperature": 0, "num_predict": 60})).json()

    def leave() -> list[str]:
        body = {**generate({"temperature": 0, "num_predict": 2000}), "stream": True}
        with client.stream("POST", "/api/generate", json=body) as response:
            lines = response.iter_lines()
            return [next(lines) for _ in range(2)]  # then hangs up

    stayed, left = held(client, server, recorder, [stay, leave])
    assert stayed["eval_count"] == 60 and len(left) == 2
    assert len(recorder.batches[-1].jobs) == 2
    departed = [t for t in recorder.events[-1] if t.member == 1 and isinstance(t.event, TextDelta)]
    assert len(departed) < 500  # its row left the batch long before its 2,000 tokens


def test_one_members_failure_leaves_the_others_running(served, client, monkeypatch):
    _, recorder = served
    made = engine_module.logits_processor

    def grammar(compiler, fmt, forced=None, syntax=None):
        if fmt == {"type": "object", "title": "breaks"}:
            raise RuntimeError("grammar exploded")
        return made(compiler, fmt, forced, syntax)

    monkeypatch.setattr(engine_module, "logits_processor", grammar)
    bodies = [
        generate({"temperature": 0, "num_predict": 6}),
        generate({"temperature": 0, "num_predict": 6}, format={"type": "object", "title": "breaks"}),
        generate({"temperature": 0, "num_predict": 6}, format="json"),
    ]
    replies = together(client, served[0], recorder, bodies)
    assert len(recorder.batches[-1].jobs) == 3
    assert replies[0].status_code == 200 and replies[0].json()["eval_count"] == 6
    assert replies[1].status_code == 500
    assert replies[2].status_code == 200 and replies[2].json()["response"].startswith("{")
    failures = [t for t in recorder.events[-1] if isinstance(t.event, Failed)]
    assert len(failures) == 1 and "grammar exploded" in failures[0].event.message
    assert recorder.batches[-1].jobs[failures[0].member].format == {"type": "object", "title": "breaks"}


def test_the_engine_alone_tags_events_and_honours_each_members_departure(model_dir):
    """The engine seam without the runner: member 1 departs at once; member 0 decodes all its tokens."""
    runtime = ModelRuntime("cpu", torch.float32, int(4e9))
    server = Server(load_catalog(), ModelStore(model_dir), runtime, GpuRunner(entry=Recorder()), Settings())
    options = [{"temperature": 0, "num_predict": n} for n in (8, 500)]
    jobs = [server.service.generate_job(GenerateRequest(model=MODEL, prompt="sea", options=o)) for o in options]
    loaded, _ = runtime.acquire(jobs[0].entry, jobs[0].path)
    board = CancelBoard(4)
    tickets = [board.take(), board.take()]
    board.cancel(tickets[1])
    stream = LoopEngine().stream(jobs, loaded, float("inf"), lambda member: board.is_set(tickets[member]))
    events = [e for e in stream if isinstance(e, Tagged)]
    finished = {e.member: e.event for e in events if isinstance(e.event, Finished)}
    assert finished[0].eval_count == 8 and finished[1].eval_count == 1
    assert all(e.member in (0, 1) for e in events)


def test_warp_filters_each_row_by_its_own_settings():
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0]])
    probs = warp(
        scores,
        temperature=torch.tensor([1.0, 1.0, 1.0]),
        top_k=torch.tensor([2, 0, 0]),
        top_p=torch.tensor([1.0, 0.5, 1.0]),
        min_p=torch.tensor([0.0, 0.0, 0.2]),
    )
    assert probs[0, 2:].sum() == 0 and probs[0, :2].sum() == pytest.approx(1.0)  # top-k 2
    assert probs[1, 0] == pytest.approx(1.0)  # the most likely token alone holds more than top-p 0.5
    kept = probs[2] > 0  # min-p 0.2: tokens at least a fifth as likely as the best
    assert kept.tolist() == [True, True, False, False]


def test_requests_sent_together_to_an_idle_server_share_the_first_call(model_dir):
    """ZEROLLAMA_BATCH_WINDOW_MS: a call that starts on an idle server waits that long for companions."""
    recorder = Recorder()
    runtime = ModelRuntime("cpu", torch.float32, int(4e9))
    runner = GpuRunner(entry=recorder, max_concurrency=1, max_queue=16, max_batch=8, batch_window_ms=500)
    server = Server(load_catalog(), ModelStore(model_dir), runtime, runner, Settings())
    client = client_for(server)
    body = generate({"temperature": 0, "num_predict": 3})
    threads = [threading.Thread(target=client.post, args=("/api/generate",), kwargs={"json": body}) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(60)
    assert [len(b.jobs) for b in recorder.batches] == [3]


def test_end_of_turn_ids_leave_the_models_generation_config_as_it_was():
    from types import SimpleNamespace

    from zerollama.gpu.engine import eos_ids

    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[7, 8]))
    tokenizer = SimpleNamespace(eos_token_id=9)
    assert eos_ids(model, tokenizer) == eos_ids(model, tokenizer) == {7, 8, 9}
    assert model.generation_config.eos_token_id == [7, 8]  # not one id longer per request
