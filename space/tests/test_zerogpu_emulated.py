"""The server under the real `spaces` package in ZeroGPU mode (emulated: tests/zerogpu/launch.py), against
a loopback stand-in of the ZeroGPU device API (tests/zerogpu/device_api.py).

Everything ZeroGPU-only runs for real here: packing at launch (with blob pruning on), the fork of each new
worker and its copy of the packs, pickling of jobs and events, /schedule with the caller's token, the
duration factor, and the generator's cancel protocol.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from zerogpu.device_api import DeviceApi, Grant, Queued, QuotaRefusal, Status

from conftest import SPACE, running_server, server_process_env, weather_tool

LAUNCHER = SPACE / "tests" / "zerogpu" / "launch.py"
RTX_PRO_6000 = "NVIDIA RTX PRO 6000 Blackwell Server Edition"
# Greedy decoding of the tiny random models never meets end-of-sequence: this runs until stopped.
LONG = {"model": "qwen2.5:7b", "prompt": "Write a very long story", "options": {"num_predict": 2048, "temperature": 0}}
SHORT = {"model": "phi3", "prompt": "hi", "stream": False, "options": {"num_predict": 3}}


def ip_token(user: str) -> str:
    """An X-IP-Token shaped like the platform's (a JWT; `spaces` reads only its payload)."""
    payload = base64.urlsafe_b64encode(json.dumps({"user": user}).encode()).decode().rstrip("=")
    return f"e30.{payload}.signature"


def bf16_models(tiny_models: Path, catalog, target: Path) -> Path:
    """The tiny models saved in bf16, the dtype the ZeroGPU runtime loads: then their weights stay memory-mapped
    from the files until `spaces` packs them, as real checkpoints do, and blob pruning really deletes them."""
    import torch
    from transformers import AutoModelForCausalLM

    for entry in catalog.models:
        folder = target / entry.folder_name
        shutil.copytree(tiny_models / entry.folder_name, folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model.to(torch.bfloat16).save_pretrained(folder)
    return target


def emulated_env(tmp: Path, device_api: DeviceApi, model_dir: Path, **settings: str) -> dict[str, str]:
    cgroup = tmp / "cgroup"
    cgroup.write_text("1:devices:/emulated-space\n")
    return server_process_env(
        SPACES_ZERO_GPU="true",
        SPACES_ZERO_DEVICE_API_URL=device_api.url,
        ZEROGPU_OFFLOAD_DIR=str(tmp / "packs"),
        ZEROGPU_PROC_SELF_CGROUP_PATH=str(cgroup),
        ZEROLLAMA_MODEL_DIR=str(model_dir),
        ZEROLLAMA_MEMORY_BUDGET_GB="0.0019",
        ZEROLLAMA_MAX_CONCURRENCY="1",
        HF_HUB_OFFLINE="1",
        # One thread: bf16 on the CPU then decodes the same tokens every run (LONG never meets end-of-sequence).
        OMP_NUM_THREADS="1",
        **settings,
    )


@pytest.fixture(scope="module")
def device_api() -> Iterator[DeviceApi]:
    api = DeviceApi().start()
    yield api
    api.close()


@pytest.fixture(scope="module")
def pruned_models(tiny_models, catalog, tmp_path_factory) -> Path:
    return bf16_models(tiny_models, catalog, tmp_path_factory.mktemp("emulated-models"))


@pytest.fixture(scope="module")
def zerogpu_url(device_api: DeviceApi, pruned_models: Path, tmp_path_factory) -> Iterator[str]:
    """An RTX Pro 6000 node (duration factor 1.5) with blob pruning on for the model folder, and a slow
    assumed copy speed so the cold start is visible in the requested durations."""
    tmp = tmp_path_factory.mktemp("zerogpu")
    env = emulated_env(
        tmp,
        device_api,
        pruned_models,
        ZEROGPU_MMAP_AUTOPRUNE_PATTERN=f"{pruned_models}/*/model.safetensors",
        ZEROLLAMA_EMULATED_GPU_MODEL=RTX_PRO_6000,
        ZEROLLAMA_COLD_COPY_GB_PER_SECOND="0.0001",
    )
    with running_server(env, tmp / "server.log", 120, 0.3, "emulated ZeroGPU server", LAUNCHER) as url:
        yield url


@pytest.fixture
def zerogpu(zerogpu_url: str, device_api: DeviceApi) -> Iterator[httpx.Client]:
    device_api.clear()
    with httpx.Client(base_url=zerogpu_url, timeout=60) as client:
        yield client


def scheduled_seconds(device_api: DeviceApi) -> list[int]:
    return [int(call.params["durationSeconds"]) for call in device_api.calls_to("/schedule")]


def test_packed_models_survive_pruning_unload_and_keep_alive_0(zerogpu, device_api, pruned_models):
    # spaces packed the defaults at launch and deleted the files they were mapped from
    assert not (pruned_models / "phi3" / "model.safetensors").exists()
    unload = zerogpu.post("/api/generate", json={"model": "phi3", "keep_alive": 0})
    assert unload.status_code == 200 and unload.json()["done_reason"] == "unload"
    assert "packed" in unload.json()["zerollama"]["note"]
    once = zerogpu.post("/api/generate", json={**SHORT, "keep_alive": 0})
    again = zerogpu.post("/api/generate", json=SHORT)
    assert once.status_code == again.status_code == 200, (once.text, again.text)
    assert again.json()["eval_count"] == 3
    listed = {m["name"]: m for m in zerogpu.get("/api/ps").json()["models"]}
    assert {"qwen2.5:7b", "phi3:latest", "codellama:7b"} <= set(listed)
    assert listed["phi3:latest"]["zerollama"]["packed"] is True
    assert all(call.params.get("fail") == "false" for call in device_api.calls_to("/release"))


def test_durations_cover_the_cold_copy_and_the_duration_factor(zerogpu, device_api):
    facts = zerogpu.get("/api/zerollama/diagnostics").json()
    assert facts["gpu"]["duration_factor"] == 1.5 and facts["gpu"]["model"] == RTX_PRO_6000
    cold = facts["cold_start"]["estimated_seconds"]
    assert cold > 10  # 0.8 MB packed at the assumed 0.1 MB/s, plus CUDA's start
    assert zerogpu.post("/api/generate", json=SHORT).status_code == 200
    (granted,) = scheduled_seconds(device_api)
    assert granted >= cold


def test_on_demand_models_always_count_their_load(zerogpu, device_api):
    """A new worker starts from the packed set, whatever the last worker loaded: the duration of a model
    that is not packed includes its load every time, even right after a worker reported it resident."""
    on_demand = {**SHORT, "model": "mistral:7b"}
    for body in (SHORT, on_demand, on_demand):
        assert zerogpu.post("/api/generate", json=body).status_code == 200
    packed, first, second = scheduled_seconds(device_api)
    assert first > packed and second > packed, scheduled_seconds(device_api)


@pytest.mark.parametrize(
    ("answer", "token", "status", "retry_after"),
    [
        (Grant(), None, 200, None),
        (Queued(pings=2, succeed=True), "tester", 200, None),
        (QuotaRefusal(left=12, wait_seconds=754), "tester", 429, 754),
        (QuotaRefusal(left=0, wait_seconds=0), "tester", 429, 600),
        (QuotaRefusal(left=0, wait_seconds=30), None, 429, 600),
        (QuotaRefusal(left=0, wait_seconds=-1), "tester", 400, None),
        (Queued(pings=1, succeed=False), "tester", 503, 30),
        (Queued(pings=1, succeed=False), None, 503, 30),
        (Status(503), None, 503, 30),
        (Status(401), "tester", 503, 30),
    ],
)
def test_every_scheduler_answer_maps_to_its_http_status(zerogpu, device_api, answer, token, status, retry_after):
    device_api.script.append(answer)
    headers = {"X-IP-Token": ip_token(token)} if token else {}
    response = zerogpu.post("/api/generate", json=SHORT, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
    if status != 200:
        assert response.json()["error"]


def test_the_callers_token_reaches_schedule_from_the_ollama_route(zerogpu, device_api):
    token = ip_token("alice")
    assert zerogpu.post("/api/generate", json=SHORT, headers={"X-IP-Token": token}).status_code == 200
    (schedule,) = device_api.calls_to("/schedule")
    assert schedule.params["token"] == token
    facts = zerogpu.get("/api/zerollama/diagnostics", headers={"X-IP-Token": token})
    assert facts.json()["x_ip_token_present"] is True and token not in facts.text
    assert zerogpu.get("/api/zerollama/diagnostics").json()["x_ip_token_present"] is False


def test_diagnostics_report_the_packed_set_and_the_runtime(zerogpu):
    assert zerogpu.post("/api/generate", json=SHORT).status_code == 200
    facts = zerogpu.get("/api/zerollama/diagnostics").json()
    assert facts["zerogpu"] is True and facts["spaces_version"] == "0.51.3"
    assert facts["packed"]["models"] == ["codellama:7b", "phi3", "qwen2.5:7b"]
    assert facts["packed"]["bytes"] > 0 and facts["gpu"]["default_size"] == "large"
    speeds = {m["name"]: m["tokens_per_second"] for m in facts["models"]}
    assert speeds["phi3"] > 0
    # The worker's CPU stands in for the GPU here, so the eager step ran and nothing was captured.
    assert facts["decode"] == {"last_step": "eager", "last_capture_seconds": None}


def release_after(device_api: DeviceApi, moment: float, timeout: float = 20) -> float:
    """Seconds from `moment` to the first /release after it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        later = [c.at for c in device_api.calls_to("/release") if c.at >= moment]
        if later:
            return later[0] - moment
        time.sleep(0.02)
    raise AssertionError("the GPU was never released")


def test_a_closed_stream_releases_the_gpu_within_a_second(zerogpu, device_api):
    with zerogpu.stream("POST", "/api/generate", json=LONG) as response:
        lines = response.iter_lines()
        assert not json.loads(next(lines))["done"]
        closed = time.time()
    assert release_after(device_api, closed) < 1.0


def test_leaving_during_a_held_back_tool_call_releases_the_gpu_within_a_second(zerogpu_url, device_api):
    """A forced tool call is held back until it is complete, so the worker yields no output meanwhile: its
    heartbeats are what let ZeroGPU stop it when the client leaves. The argument's minLength keeps the call
    held back for all of its tokens (an unconstrained random model closed it within 1 s on an idle machine)."""
    device_api.clear()
    body = {
        "model": "qwen2.5:7b",
        "messages": [{"role": "user", "content": "Weather in Bogota?"}],
        "tools": [weather_tool({"city": {"type": "string", "minLength": 4000}}, closed=True)],
        "tool_choice": "required",
        "max_tokens": 2048,
        "temperature": 0,
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{zerogpu_url}/v1/chat/completions", json=body, timeout=httpx.Timeout(60, read=1.0))
    left = time.time()
    assert release_after(device_api, left - 0.05) < 1.0


def test_a_request_cancelled_while_it_waits_never_schedules(zerogpu, zerogpu_url, device_api):
    def impatient() -> None:
        try:
            httpx.post(f"{zerogpu_url}/api/generate", json=SHORT, timeout=httpx.Timeout(60, read=0.5))
        except httpx.ReadTimeout:
            pass

    with zerogpu.stream("POST", "/api/generate", json=LONG) as response:
        lines = response.iter_lines()  # kept: a dropped iterator would close the stream
        next(lines)  # the only slot is busy
        waiter = threading.Thread(target=impatient)
        waiter.start()
        waiter.join()  # gave up while waiting for the slot
        time.sleep(0.5)  # the server notices the disconnect
    release_after(device_api, 0)
    time.sleep(1.0)  # the waiter would be scheduled now, if it still were going to be
    assert len(device_api.calls_to("/schedule")) == 1


@pytest.fixture(scope="module")
def slow_copy_url(device_api: DeviceApi, tiny_models, catalog, tmp_path_factory) -> Iterator[str]:
    """A node whose new workers spend 2.5 s of a 4 s grant copying the packs."""
    tmp = tmp_path_factory.mktemp("zerogpu-slow-copy")
    models = tmp / "models"
    for entry in catalog.models:
        shutil.copytree(tiny_models / entry.folder_name, models / entry.folder_name)
    env = emulated_env(tmp, device_api, models, ZEROLLAMA_EMULATED_COPY_SECONDS="2.5", ZEROLLAMA_MAX_GPU_SECONDS="4")
    with running_server(env, tmp / "server.log", 120, 0.3, "emulated ZeroGPU server (slow copy)", LAUNCHER) as url:
        yield url


def test_a_cold_worker_ends_its_reply_inside_the_grant(slow_copy_url, device_api):
    device_api.clear()
    reply = httpx.post(f"{slow_copy_url}/api/generate", json={**LONG, "stream": False}, timeout=60)
    assert reply.status_code == 200 and reply.json()["done_reason"] == "length"
    (schedule,) = device_api.calls_to("/schedule")
    (release,) = device_api.calls_to("/release")
    granted = int(schedule.params["durationSeconds"])
    assert release.at - schedule.at < granted, (release.at - schedule.at, granted)
    facts = httpx.get(f"{slow_copy_url}/api/zerollama/diagnostics").json()
    assert facts["cold_start"]["last_measured_seconds"] >= 2.5


def test_one_callers_waiting_generations_share_one_gpu_call_across_the_fork(zerogpu, zerogpu_url, device_api):
    """While a long reply holds the slot, caller A sends three generations and caller B one: A's three go in
    one call (one /schedule with A's token), B's in its own. One of A's hangs up after two lines: the
    worker, told through the shared cancel board, drops its row, so A's call ends with the other two."""
    alice, bob = ip_token("alice"), ip_token("bob")
    short = {**LONG, "stream": False, "options": {"num_predict": 12, "temperature": 0}}
    results: dict[str, object] = {}

    def post(name: str, token: str) -> None:
        results[name] = httpx.post(f"{zerogpu_url}/api/generate", json=short, headers={"X-IP-Token": token}, timeout=60)
        results[f"{name} at"] = time.time()

    def hang_up() -> None:
        with httpx.stream("POST", f"{zerogpu_url}/api/generate", json=LONG, headers={"X-IP-Token": alice}) as response:
            lines = response.iter_lines()
            results["left"] = [next(lines), next(lines)]

    alone = httpx.post(f"{zerogpu_url}/api/generate", json=short, headers={"X-IP-Token": alice}, timeout=60).json()
    device_api.clear()
    with zerogpu.stream("POST", "/api/generate", json=LONG) as response:
        lines = response.iter_lines()  # kept: a dropped iterator would close the stream
        next(lines)  # the only slot is busy
        threads = [threading.Thread(target=post, args=(n, t)) for n, t in (("a1", alice), ("a2", alice), ("b", bob))]
        threads.append(threading.Thread(target=hang_up))
        for thread in threads:
            thread.start()
            time.sleep(0.2)  # all four wait for the slot
    for thread in threads:
        thread.join(60)
    tokens = [call.params["token"] for call in device_api.calls_to("/schedule")[1:]]
    assert tokens == [alice, bob], "A's three members in one call, then B's in another"
    replies = {name: results[name].json() for name in ("a1", "a2", "b")}
    assert all(reply["eval_count"] == 12 for reply in replies.values())
    assert replies["a1"]["response"] == replies["a2"]["response"]
    assert replies["b"]["response"] == alone["response"]  # alone in its call, as the first was
    assert len(results["left"]) == 2
    # A's call ended with its two short members: the departed member's row (2,048 tokens) was dropped
    released = [call.at for call in device_api.calls_to("/release")]
    assert len(released) == 3 and released[1] - max(results["a1 at"], results["a2 at"]) < 2.0
