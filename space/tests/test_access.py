"""A keyed server (ZEROLLAMA_API_KEY set), launched by Gradio's own launch() as in production, walked
route by route: every route the app serves, listed from the app itself, is asked with no key, a wrong key
and the key. Only the page's shell answers without the key; Gradio's event entrances take the key as
the event's first input too (the page's key box); uploads are off. Also here: slow clients (headers,
body) are cut off, and bodies over the limit are refused on Gradio's routes as well."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import torch

from conftest import free_port, job_by_job
from zerollama.core.catalog import load_catalog
from zerollama.gpu.generation import Event, Finished, Job, TextDelta
from zerollama.gpu.runner import GpuRunner
from zerollama.gpu.runtime import ModelRuntime
from zerollama.server import Server, build_page, launch
from zerollama.settings import HttpSettings, Settings
from zerollama.store import ModelStore

KEY = "walk-the-routes-key"
WRONG = {"Authorization": "Bearer not-the-key"}
RIGHT = {"Authorization": f"Bearer {KEY}"}
MAX_BODY = 200_000
# The page's shell: what a browser needs to draw the page, nothing the key protects. Written out here
# (not imported from guard.py) so that opening one more route to strangers fails this test.
PUBLIC = {
    "/",
    "/config",
    "/config/",
    "/theme.css",
    "/gradio_api/theme.css",
    "/favicon.ico",
    "/robots.txt",
    "/manifest.json",
    "/pwa_icon",
    "/pwa_icon/{size}",
    "/assets/{path:path}",
    "/static/{path:path}",
    "/svelte/{path:path}",
    "/gradio_api/info",
    "/gradio_api/info/",
    "/gradio_api/heartbeat/{session_hash}",
    "/gradio_api/startup-events",
    "/gradio_api/app_id",
    "/gradio_api/app_id/",
    "/gradio_api/login_check",
    "/gradio_api/login_check/",
}
TURNED_OFF = {"/gradio_api/upload", "/gradio_api/upload_progress", "/gradio_api/process_recording"}
RESPOND = ["hi", [], "phi3"]  # the playground's inputs after the key: message, history, model


class CountingGpu:
    """Stands in for the GPU entry: counts the jobs that reach it and answers each with one word."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> Iterator[Event]:
        with self.lock:
            self.jobs.append(job)
        yield TextDelta("hello")
        yield Finished(done_reason="stop", prompt_eval_count=1, eval_count=1)


@pytest.fixture(scope="module")
def keyed(model_dir) -> Iterator[dict[str, Any]]:
    settings = HttpSettings(api_key=KEY, max_body_bytes=MAX_BODY, header_timeout_seconds=1.0, body_timeout_seconds=1.0)
    runtime = ModelRuntime("cpu", torch.float32, int(1e9))
    gpu = CountingGpu()
    runner = GpuRunner(entry=job_by_job(gpu), max_concurrency=1, max_queue=4)
    server = Server(load_catalog(), ModelStore(model_dir), runtime, runner, Settings(http=settings))
    port = free_port()
    saved = {name: os.environ.get(name) for name in ("PORT", "GRADIO_SERVER_NAME")}
    os.environ.update(PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    page = launch(server, build_page(server), quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "page": page, "gpu": gpu, "port": port}
    finally:
        page.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def served_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, included routers and mounts too."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            found += served_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "routes") and not hasattr(route, "methods"):  # a Mount
            found += [(m, p) for m, p in served_routes(route.routes, prefix + route.path)]
            if not route.routes:
                found.append(("GET", prefix + route.path + "/x"))
        else:
            for method in sorted(getattr(route, "methods", None) or ["GET"]):
                found.append((method, prefix + route.path))
    return found


def concrete(template: str) -> str:
    """A path the template matches: {api_name} is the playground's event, other parameters a dummy."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "respond" if m.group(1) == "api_name" else "x", template)


GUARD_REFUSAL = "send the Space's API key"  # how the guard's 401 reads (Gradio has 401s of its own)


def status_of(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> str:
    """The status, as "guard" when it is the guard's refusal (event streams stay open: only refusals are read)."""
    body = b"{}" if method in ("POST", "PUT", "PATCH", "DELETE") else None
    with client.stream(method, path, content=body, headers={"Content-Type": "application/json", **headers}) as reply:
        if reply.status_code == 401 and (method == "HEAD" or GUARD_REFUSAL in reply.read().decode(errors="replace")):
            return "guard"  # (a HEAD reply has no body to tell)
        return str(reply.status_code)


def test_every_route_refuses_strangers_and_serves_the_key(keyed):
    routes = served_routes(keyed["page"].app.routes)
    templates = {path for _, path in routes}
    assert {"/api/chat", "/v1/chat/completions", "/gradio_api/queue/join", "/gradio_api/upload"} <= templates
    refused: dict[str, list[str]] = {"none": [], "wrong": [], "key": []}
    walked = 0
    with httpx.Client(base_url=keyed["url"], timeout=20) as client:
        for method, template in routes:
            path = concrete(template)
            for label, headers in (("none", {}), ("wrong", WRONG), ("key", RIGHT)):
                status = status_of(client, method, path, headers)
                walked += 1
                if template in TURNED_OFF:
                    assert status == "403", (method, template, label, status)
                elif label == "key" or template in PUBLIC:
                    assert status != "guard", (method, template, label, status)
                else:
                    assert status == "guard", (method, template, label, status)
                if status == "guard" or template in TURNED_OFF:
                    refused[label].append(f"{method} {template}")
    assert keyed["gpu"].jobs == []  # none of that reached the GPU
    print(
        f"route walk: {len(routes)} routes x 3 = {walked} requests; refused without a key {len(refused['none'])}, "
        f"with a wrong key {len(refused['wrong'])}, with the key {len(refused['key'])} (uploads: off)"
    )


def test_gradio_event_entrances_need_the_key(keyed):
    gpu, page = keyed["gpu"], keyed["page"]
    dependencies = [d for d in page.config["dependencies"] if d.get("api_name")]
    names = [d["api_name"] for d in dependencies]
    assert "respond" in names and "refresh" in names
    with httpx.Client(base_url=keyed["url"], timeout=60) as client:
        for name in names:  # every event the page defines, each through the two direct entrances
            for entrance in ("run", "api", "call", "call/v2"):
                for headers in ({}, WRONG):
                    body = {"data": ["", *RESPOND]}
                    reply = client.post(f"/gradio_api/{entrance}/{name}", json=body, headers=headers)
                    assert reply.status_code == 401, (entrance, name, reply.status_code)
        fn_index = next(d["id"] for d in dependencies if d["api_name"] == "respond")
        join = {"data": ["wrong", *RESPOND], "fn_index": fn_index, "session_hash": "stranger1"}
        assert client.post("/gradio_api/queue/join", json=join).status_code == 401
        assert client.get("/gradio_api/queue/data", params={"session_hash": "stranger1"}).status_code == 401
        assert gpu.jobs == []
        # The key as the first input (the page's key box) opens the event; so does the header.
        before = len(gpu.jobs)
        answer = client.post("/gradio_api/run/respond", json={"data": [KEY, *RESPOND]})
        assert answer.status_code == 200, answer.text[:300]
        assert "hello" in answer.text
        assert client.post("/gradio_api/run/refresh", json={"data": [""]}, headers=RIGHT).status_code == 200
        assert len(gpu.jobs) == before + 1
        join = {"data": [KEY, *RESPOND], "fn_index": fn_index, "session_hash": "visitor1"}
        assert client.post("/gradio_api/queue/join", json=join).status_code == 200
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": "visitor1"}) as stream:
            assert stream.status_code == 200
            text = ""
            for chunk in stream.iter_text():
                text += chunk
                if "process_completed" in text:
                    break
        assert "hello" in text


def test_uploads_are_off_and_monitoring_is_not_served(keyed, capfd):
    with httpx.Client(base_url=keyed["url"], timeout=20) as client:
        files = {"files": ("a.txt", b"x" * 1000)}
        for headers in ({}, RIGHT):
            assert client.post("/gradio_api/upload", files=files, headers=headers).status_code == 403
        monitoring = client.get("/monitoring", headers=RIGHT)
        assert "See console" not in monitoring.text
    assert "Monitoring URL" not in capfd.readouterr().out


def test_body_limit_holds_on_gradio_routes(keyed):
    big = {"data": [KEY, "x" * (MAX_BODY + 10), [], "phi3"], "fn_index": 0, "session_hash": "big1"}
    with httpx.Client(base_url=keyed["url"], timeout=20) as client:
        for path in ("/gradio_api/queue/join", "/gradio_api/run/respond", "/api/chat"):
            reply = client.post(path, json=big, headers=RIGHT)
            assert reply.status_code == 413, (path, reply.status_code)
            assert "too large" in reply.json()["error"]


def closed_by_server(sock: socket.socket, patience: float = 30.0) -> bytes | None:
    """What the server sent before closing the connection, or None if it kept it open for `patience` s."""
    sock.settimeout(patience)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    return received


def test_slow_headers_are_cut_off(keyed):
    with socket.create_connection(("127.0.0.1", keyed["port"])) as sock:
        sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and the rest never comes
        assert closed_by_server(sock) is not None


def test_slow_bodies_are_cut_off(keyed):
    head = f"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 100\r\n"
    with socket.create_connection(("127.0.0.1", keyed["port"])) as sock:
        sock.sendall(head.encode() + b"Content-Type: application/json\r\n\r\n" + b'{"model": ')
        sent = closed_by_server(sock)
    assert sent is not None and sent.startswith(b"HTTP/1.1 408")


def test_gradio_client_with_the_key_in_the_box_works_like_the_page(keyed):
    """Gradio's own client takes the page's path (config, info, queue/join, queue/data) without headers."""
    from gradio_client import Client

    client = Client(keyed["url"], verbose=False)
    before = len(keyed["gpu"].jobs)
    history, _ = client.predict(KEY, *RESPOND, api_name="/respond")
    assert "hello" in str(history[-1]["content"]) and len(keyed["gpu"].jobs) == before + 1
    with pytest.raises(httpx.HTTPStatusError, match="401 Unauthorized"):
        client.predict("not-the-key", *RESPOND, api_name="/respond")
    assert len(keyed["gpu"].jobs) == before + 1
