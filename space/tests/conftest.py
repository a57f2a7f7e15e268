"""Shared fixtures: tiny models, a fake Hub, and the real server (space/app.py) on a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

SPACE = Path(__file__).resolve().parents[1]
REPO = SPACE.parent
sys.path.insert(0, str(SPACE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_hub import FakeHub  # noqa: E402
from zerollama.core.catalog import load_catalog  # noqa: E402
from zerollama.demo.tiny import build_all  # noqa: E402

# Served by the fake Hub instead of the model folder, so /api/pull has something real to download.
PULLED_MODEL = "mistral:7b"
# Three tiny models fit; the catalog's three defaults are preloaded, so a fourth evicts one (LRU).
BUDGET_GB = "0.0019"
MAX_BODY_BYTES = 1_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_process_env(**settings: str) -> dict[str, str]:
    """This process's environment without our own or the Hub's settings, on a free local port, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ZEROLLAMA_", "HF_"))}
    env.update(PORT=str(free_port()), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False")
    env.update(settings)
    return env


@contextmanager
def running_server(
    env: dict[str, str],
    log_path: Path,
    startup_seconds: float,
    poll_seconds: float,
    label: str = "server",
    script: Path = SPACE / "app.py",
    command: tuple[str, ...] | None = None,
) -> Iterator[str]:
    """Starts `script` (space/app.py), or `command` when given, with `env` (output to `log_path`), yields its URL
    once it answers on env's PORT, stops it and everything it started after."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command or (sys.executable, str(script)),
            cwd=SPACE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + startup_seconds
    while True:
        try:
            if httpx.get(url + "/", timeout=2).text == "Ollama is running":
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process, signal.SIGKILL)
            raise RuntimeError(f"{label} did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(poll_seconds)
    try:
        yield url
    finally:
        stop(process, signal.SIGTERM)


def stop(process: subprocess.Popen, how: signal.Signals) -> None:
    """Signals the process group `process` leads (npm, node and python for `npm run serve`), then waits."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, how)
    process.wait(timeout=20)


def weather_tool(properties: dict[str, dict], closed: bool = False) -> dict:
    """The get_weather function tool both client suites offer; every property is required, `closed` forbids others."""
    parameters: dict = {"type": "object", "properties": properties, "required": list(properties)}
    if closed:
        parameters["additionalProperties"] = False
    return {
        "type": "function",
        "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": parameters},
    }


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def tiny_models(catalog) -> Path:
    """Built once into .zerollama/tiny-models (reused between runs; the builder is idempotent)."""
    return build_all(catalog, REPO / ".zerollama" / "tiny-models")


@pytest.fixture(scope="session")
def model_dir(tiny_models: Path, catalog, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("models")
    for entry in catalog.models:
        if entry.name != PULLED_MODEL:
            shutil.copytree(tiny_models / entry.folder_name, target / entry.folder_name)
    return target


@pytest.fixture(scope="session")
def fake_hub(tiny_models: Path, catalog) -> Iterator[FakeHub]:
    entry = catalog.find(PULLED_MODEL)
    hub = FakeHub({entry.repo: tiny_models / entry.folder_name})
    yield hub
    hub.close()


@pytest.fixture(scope="session")
def server_env(model_dir: Path, fake_hub: FakeHub, tmp_path_factory) -> dict[str, str]:
    return server_process_env(
        ZEROLLAMA_MODEL_DIR=str(model_dir),
        ZEROLLAMA_MEMORY_BUDGET_GB=BUDGET_GB,
        ZEROLLAMA_MAX_CONCURRENCY="1",
        ZEROLLAMA_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        ZEROLLAMA_MAX_PREDICT="2048",
        HF_ENDPOINT=fake_hub.url,
        HF_HOME=str(tmp_path_factory.mktemp("hf-home")),
        HF_HUB_DISABLE_TELEMETRY="1",
    )


@pytest.fixture(scope="session")
def base_url(server_env: dict[str, str], tmp_path_factory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(server_env, log_path, startup_seconds=120, poll_seconds=0.3) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture
def ollama_client(base_url: str):
    import ollama

    return ollama.Client(host=base_url, timeout=60)


@pytest.fixture
def openai_client(base_url: str):
    import openai

    return openai.OpenAI(base_url=base_url + "/v1", api_key="unused-locally", timeout=60, max_retries=0)


def job_by_job(entry: Callable[[Any], Iterator[Any]]) -> Callable[[Any], Iterator[Any]]:
    """A GPU entry over batches from a stand-in that answers one job: the members run one after another."""
    from zerollama.gpu.generation import Heartbeat, Tagged

    def run(batch: Any) -> Iterator[Any]:
        for member, job in enumerate(batch.jobs):
            for event in entry(job):
                yield event if isinstance(event, Heartbeat) else Tagged(member, event)

    return run
