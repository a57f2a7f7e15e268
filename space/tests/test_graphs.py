"""The GPU decode step (static KV cache, CUDA-graph replay) decodes exactly as the eager step does.

CUDA graphs need a GPU; here a stand-in capture replays the captured step by running it again over the
same buffers, and checks on every replay that no buffer the graph would have baked in moved. Everything
else (the static cache, the 4D masks, spare rows, rows that stop early, the once-per-graph check against
the eager step and the fallbacks) is the production code, on the tiny random models."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import torch

from zerollama.core.catalog import load_catalog
from zerollama.core.schemas import GenerateRequest
from zerollama.gpu.engine import LoopEngine, engine_for
from zerollama.gpu.generation import Finished, Tagged
from zerollama.gpu.graphs import GraphForward, static_cache_bytes
from zerollama.gpu.runner import GpuRunner
from zerollama.gpu.runtime import ModelRuntime
from zerollama.gpu.steps import EagerForward, EagerSteps
from zerollama.server import Server
from zerollama.settings import GpuSettings, Settings
from zerollama.store import ModelStore


def _addresses(graph: Any) -> list[int]:
    layers = graph.cache.layers
    tensors = [graph.ids, graph.positions, graph.mask] + [t for layer in layers for t in (layer.keys, layer.values)]
    return [t.data_ptr() for t in tensors] + [layer.cumulative_length.data_ptr() for layer in layers]


class Replayed:
    """A CPU stand-in for torch.cuda.graph: `skew` corrupts replayed logits; `fail` makes capture raise."""

    def __init__(self, skew: float = 0.0, fail: bool = False) -> None:
        self.skew, self.fail = skew, fail
        self.replays = 0

    def supports(self, device: torch.device) -> bool:
        return True

    def capture(self, step: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        step()
        baked = _addresses(step.__self__)

        def replay() -> torch.Tensor:
            assert _addresses(step.__self__) == baked, "a buffer the graph reads was reallocated"
            self.replays += 1
            logits = step()
            logits[:, 7] += self.skew
            return logits

        return replay


@pytest.fixture
def service(model_dir) -> tuple[Any, ModelRuntime]:
    runtime = ModelRuntime("cpu", torch.float32, int(4e9))
    server = Server(load_catalog(), ModelStore(model_dir), runtime, GpuRunner(entry=lambda batch: iter(())), Settings())
    return server.service, runtime


MEMBERS = [
    ("Tell me about the sea", {"num_predict": 12}),
    ("Hi", {"num_predict": 4}),
    ("Write a long story about a lighthouse keeper and the storm", {"num_predict": 20, "stop": ["e t"]}),
]


def decode(service: Any, runtime: ModelRuntime, model: str, forward: Any, members=MEMBERS) -> list[tuple]:
    """Each member's generated ids and done reason, one call of the engine over `forward`."""
    return [(f.output_ids, f.done_reason) for f in finish(service, runtime, model, forward, members)]


def finish(service: Any, runtime: ModelRuntime, model: str, forward: Any, members=MEMBERS) -> list[Finished]:
    jobs = [
        service.generate_job(GenerateRequest(model=model, prompt=p, options={"temperature": 0, **o}))
        for p, o in members
    ]
    loaded, _ = runtime.acquire(jobs[0].entry, jobs[0].path)
    finished: dict[int, Finished] = {}
    try:
        for item in LoopEngine(forward).stream(jobs, loaded, float("inf"), lambda member: False):
            if isinstance(item, Tagged):
                assert isinstance(item.event, Finished) or hasattr(item.event, "text"), item.event
                if isinstance(item.event, Finished):
                    finished[item.member] = item.event
    finally:
        runtime.release(loaded, None)
    return [finished[i] for i in range(len(jobs))]


@pytest.mark.parametrize("model", ["qwen2.5:7b", "phi3", "codellama:7b", "llama3.2:3b"])
def test_the_graph_step_decodes_every_member_as_the_eager_step_does(service, model):
    graphs = GraphForward(Replayed())
    expected = decode(*service, model, EagerForward())
    assert decode(*service, model, graphs) == expected
    assert [len(ids) for ids, _ in expected][:2] == [12, 4]  # members that stop at different steps
    assert graphs.stats.captures == 1 and graphs.stats.fallbacks == 0
    assert graphs.capture.replays > 0


def test_a_graph_is_captured_once_per_shape_and_reused(service):
    capture = Replayed()
    graphs = GraphForward(capture)
    decode(*service, "qwen2.5:7b", graphs)
    decode(*service, "qwen2.5:7b", graphs, [*MEMBERS, ("Again", {"num_predict": 3})])  # 3 and 4 rows: one shape
    assert graphs.stats.captures == 1
    alone = decode(*service, "qwen2.5:7b", graphs, MEMBERS[:1])
    assert graphs.stats.captures == 2  # one row is another shape
    assert alone == decode(*service, "qwen2.5:7b", EagerForward(), MEMBERS[:1])


def test_a_graph_that_disagrees_with_the_eager_step_is_never_used(service, caplog):
    capture = Replayed(skew=1e4)  # a replay that would make token 7 win every step
    graphs = GraphForward(capture)
    with caplog.at_level(logging.WARNING, logger="zerollama.gpu"):
        first = decode(*service, "qwen2.5:7b", graphs)
        second = decode(*service, "qwen2.5:7b", graphs)
    expected = decode(*service, "qwen2.5:7b", EagerForward())
    assert first == second == expected
    assert capture.replays == 1 and graphs.stats.fallbacks == 1  # checked once, then never replayed again
    assert "differs from the eager step" in caplog.text


def test_a_step_that_cannot_be_captured_runs_eagerly_over_the_static_cache(service, caplog):
    graphs = GraphForward(Replayed(fail=True))
    with caplog.at_level(logging.WARNING, logger="zerollama.gpu"):
        assert decode(*service, "phi3", graphs) == decode(*service, "phi3", EagerForward())
    assert graphs.stats.fallbacks == 1 and "capture failed" in caplog.text


def test_sliding_window_models_and_oversized_caches_step_eagerly(service):
    sliding = GraphForward(Replayed())
    assert decode(*service, "gemma2:9b", sliding) == decode(*service, "gemma2:9b", EagerForward())
    oversized = GraphForward(Replayed(), max_cache_bytes=1024)
    assert decode(*service, "qwen2.5:7b", oversized) == decode(*service, "qwen2.5:7b", EagerForward())
    assert sliding.stats.captures == oversized.stats.captures == 0


def test_the_engine_uses_graphs_only_on_a_gpu_unless_turned_off(service):
    _, runtime = service
    assert isinstance(engine_for(GpuSettings(cuda_graphs=False)).forward, EagerForward)
    chosen = engine_for(GpuSettings(static_cache_gb=2.5)).forward
    assert isinstance(chosen, GraphForward) and chosen.max_cache_bytes == int(2.5e9)
    entry = load_catalog().find("qwen2.5:7b")
    loaded, _ = runtime.acquire(entry, service[0].registry.store.find(entry).path)
    assert isinstance(chosen.open(loaded, 2, 64), EagerSteps)  # a CPU model: CUDA graphs cannot serve it


def test_a_models_graphs_and_static_caches_go_when_it_is_unloaded(service):
    """Graphs live on the loaded model: a forward that kept them itself would keep every unloaded model's
    weights and caches in GPU memory."""
    _, runtime = service
    graphs = GraphForward(Replayed())
    decode(*service, "phi3", graphs)
    model = weakref.ref(runtime._models["phi3"].model)
    cache = weakref.ref(runtime._models["phi3"].graphs.shapes[(4, 256)].cache)
    assert runtime.unload("phi3")
    gc.collect()
    assert model() is None and cache() is None


def test_each_reply_says_which_step_served_it_and_what_capturing_cost(service):
    """What the diagnostics show after a first deploy: whether CUDA graphs really ran in the GPU worker."""
    graphs = GraphForward(Replayed())
    first, again = finish(*service, "llama3.2:3b", graphs), finish(*service, "llama3.2:3b", graphs)
    assert {f.decode_step for f in first + again} == {"cuda-graph"}
    assert all(f.capture_seconds > 0 for f in first) and all(f.capture_seconds == 0 for f in again)
    refused = finish(*service, "codellama:7b", GraphForward(Replayed(skew=1e4)))
    assert {f.decode_step for f in refused[:2]} == {"eager (static cache)"}  # after the failed check
    assert {f.decode_step for f in finish(*service, "gemma2:9b", graphs)} == {"eager"}


def test_every_models_graphs_share_one_cache_budget_least_recently_used_dropped_first(service):
    """ZEROLLAMA_STATIC_CACHE_GB bounds the worker's static caches together: three packed models with
    graphs each of their own would otherwise hold three times the budget."""
    _, runtime = service
    decode(*service, "qwen2.5:7b", EagerForward())
    decode(*service, "phi3", EagerForward())  # both loaded, to size their caches
    sizes = [static_cache_bytes(runtime._models[name].model, 4, 256) for name in ("qwen2.5:7b", "phi3")]
    graphs = GraphForward(Replayed(), max_cache_bytes=max(sizes) + min(sizes) - 1)  # one at a time
    decode(*service, "qwen2.5:7b", graphs)
    decode(*service, "phi3", graphs)
    assert runtime._models["qwen2.5:7b"].graphs.shapes == {}  # dropped for phi3's
    assert list(runtime._models["phi3"].graphs.shapes) == [(4, 256)]
    assert decode(*service, "qwen2.5:7b", graphs) == decode(*service, "qwen2.5:7b", EagerForward())
    assert graphs.stats.captures == 3 and runtime._models["phi3"].graphs.shapes == {}
