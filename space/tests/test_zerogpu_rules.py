"""ZeroGPU rules checked in-process: fork safety of the runtime, models that cannot fit beside the packed
ones, weights whose files were pruned, the durations asked for, and keeping the HF cache at launch."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from conftest import SPACE
from zerollama.core.catalog import load_catalog
from zerollama.core.errors import ApiError
from zerollama.core.gpu_budget import GpuBudget
from zerollama.core.schemas import GenerateRequest
from zerollama.gpu.runner import GpuRunner
from zerollama.gpu.runtime import ModelDoesNotFit, ModelRuntime, TransformersLoader
from zerollama.server import Server
from zerollama.store import ModelStore


def test_a_worker_forked_while_a_tokenizer_loads_is_not_deadlocked(tmp_path):
    loading, finish = threading.Event(), threading.Event()

    class SlowTokenizer(TransformersLoader):
        def load_tokenizer(self, path: Path) -> object:
            loading.set()
            finish.wait(10)
            return object()

    runtime = ModelRuntime("cpu", torch.float32, 10**9, SlowTokenizer())
    loader = threading.Thread(target=runtime.tokenizer, args=(tmp_path,))
    loader.start()
    assert loading.wait(5)
    # What a ZeroGPU worker does first: a fork of the server, then the runtime's locked work.
    worker = multiprocessing.get_context("fork").Process(target=runtime.snapshot)
    worker.start()
    worker.join(5)
    hung = worker.is_alive()
    if hung:
        worker.kill()
    finish.set()
    loader.join()
    assert not hung and worker.exitcode == 0


@pytest.fixture
def packed_server(model_dir) -> Server:
    """A ZeroGPU-like server: the three defaults packed, leaving less room than one more model needs."""
    catalog = load_catalog()
    runtime = ModelRuntime("cpu", torch.float32, int(2.0e6), packs_placed=True)
    server = Server(catalog, ModelStore(model_dir), runtime, GpuRunner())
    server.preload_defaults()
    return server


def test_a_model_that_cannot_fit_beside_the_packed_ones_is_refused_before_any_gpu_work(packed_server):
    runtime = packed_server.registry.runtime
    assert runtime.packed_bytes() > 0 and all(r.packed for r in runtime.snapshot())
    request = GenerateRequest.model_validate({"model": "llama3.2:3b", "prompt": "hi"})
    with pytest.raises(ApiError) as refused:
        packed_server.service.generate_job(request)
    assert refused.value.status == 503
    assert "ZEROLLAMA_PACKED_MODELS" in refused.value.message and "llama3.2:3b" in refused.value.message
    # and inside a worker, the load itself is refused rather than run into an out-of-memory error
    entry = packed_server.registry.catalog.find("llama3.2:3b")
    stored = packed_server.registry.store.find(entry)
    with pytest.raises(ModelDoesNotFit):
        runtime.acquire(entry, stored.path)


def test_packed_models_are_never_swept_evicted_or_unloaded(packed_server):
    runtime = packed_server.registry.runtime
    for resident in runtime.snapshot():
        assert runtime.unload(resident.name) is False
    runtime.sweep()
    assert {r.name for r in runtime.snapshot()} == {"qwen2.5:7b", "phi3", "codellama:7b"}


def test_a_snapshot_whose_weight_files_dangle_is_not_downloaded(model_dir, tmp_path):
    entry = load_catalog().find("phi3")
    folder = tmp_path / entry.folder_name
    shutil.copytree(model_dir / entry.folder_name, folder)
    store = ModelStore(tmp_path)
    assert store.find(entry) is not None
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(tmp_path / "blobs" / "pruned-by-spaces")
    assert store.find(entry) is None


def test_durations_cover_the_cold_copy_and_divide_by_the_duration_factor():
    budget = GpuBudget(on_zerogpu=True, duration_factor=1.5, min_seconds=5, max_seconds=120)
    packed = 36_000_000_000
    cold = budget.cold_start_seconds(packed)
    assert 20 < cold < 30  # 36 GB at 1.8 GB/s, plus CUDA's start
    durations = budget.durations(packed, 0, work_seconds=4.0)
    assert durations.granted_seconds == round(durations.requested_seconds * 1.5)
    assert durations.granted_seconds >= cold + 4.0
    floor = GpuBudget(on_zerogpu=True, duration_factor=1.5).durations(0, 0, 0.0)
    assert (floor.requested_seconds, floor.granted_seconds) == (5, 8)  # what spaces sends for 5 s: 7.5 rounded
    assert GpuBudget(on_zerogpu=False).durations(packed, 0, 4.0).granted_seconds == float("inf")


def test_the_space_keeps_the_hf_cache_files_spaces_would_prune():
    probe = (
        "from zerollama.zerogpu_env import keep_hf_cache; keep_hf_cache()\n"
        "from pathlib import Path; import spaces.config as c\n"
        "blob = Path.home() / '.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/blobs/0123abcd'\n"
        "print(blob.match(c.Config.zerogpu_mmap_autoprune_pattern))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ZEROGPU_MMAP_AUTOPRUNE_PATTERN"}

    def matches(code: str) -> str:
        result = subprocess.run([sys.executable, "-c", code], cwd=SPACE, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert matches(probe) == "False"
    assert matches(probe.replace("keep_hf_cache()", "pass")) == "True"  # spaces' own default would delete it


def test_the_page_queue_holds_as_many_events_as_the_api_queue_on_zerogpu(packed_server, monkeypatch):
    import gradio as gr

    from zerollama import server as server_module

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # Gradio's own test for a ZeroGPU Space
    seen: dict[str, int | None] = {}

    class Page(gr.Blocks):
        def launch(self, **kwargs):  # only the queue settings matter here, not serving
            seen["max_size"] = self._queue.max_size
            raise RuntimeError("stop before serving")

    with Page() as page:
        gr.Markdown("page")
    with pytest.raises(RuntimeError, match="stop before serving"):
        server_module.launch(packed_server, page)
    assert seen["max_size"] == packed_server.runner.max_queue > 1
