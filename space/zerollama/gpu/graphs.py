"""The GPU decode step: a static KV cache and the step captured once as a CUDA graph, then replayed.

Why: an eager decode step of a 7B model launches ~2,000 kernels, 18-27 ms of host time per token, while
the GPU needs ~3-17 ms to read the weights; replaying a captured graph launches them all in one call.
ZeroGPU forbids torch.compile, but a CUDA graph is plain PyTorch. Every tensor the graph reads or writes
must keep its address, so the step reads fixed input buffers (token ids, position ids, an additive 4D
attention mask) and writes the KV cache in place: transformers' StaticCache keeps its write position as a
device tensor that the graph itself advances.

Shapes are fixed per graph: rows are rounded up to a power of two (spare rows decode padding, unread) and
the cache length to a power of two that holds the longest member. A row that finishes stays in the graph
(on a bandwidth-bound GPU a spare row costs almost nothing); its output is no longer read. Graphs are kept
per model and shape in the worker, within one KV-cache budget for all of them (a new ZeroGPU worker captures
again: `capture_seconds` says how long).

Each new graph is checked once against the same step run eagerly; on a mismatch, or if capture fails,
that model decodes eagerly over the same static cache (never wrong output, only slower). Models with
sliding-window layers, whose static layers keep a Python-side position the graph cannot advance, and
shapes whose cache would exceed `max_cache_bytes` use the eager step (gpu/steps.py).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import StaticCache
from transformers.cache_utils import StaticLayer

from .runtime import LoadedModel
from .steps import EagerSteps, Steps, last_logits, positions_of

log = logging.getLogger("zerollama.gpu")

MIN_CACHE_TOKENS = 256


class Capture(Protocol):
    def supports(self, device: torch.device) -> bool: ...

    def capture(self, step: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        """A replay of `step`: running it has the effects of `step` on the same buffers, returning its output."""
        ...


class CudaCapture:
    """torch.cuda.CUDAGraph, after warm-up runs on a side stream (cuBLAS workspaces, allocator pools)."""

    def supports(self, device: torch.device) -> bool:
        return device.type == "cuda"

    def capture(self, step: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: another thread's CUDA calls meanwhile (a concurrent call off ZeroGPU) neither break
        # this capture nor are broken by it.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            output = step()

        def replay() -> torch.Tensor:
            graph.replay()
            return output

        return replay


def _pow2(n: int, floor: int = 1) -> int:
    return max(floor, 1 << max(n - 1, 0).bit_length())


@dataclass
class GraphStats:
    """What the diagnostics and the benchmark read: captures made, their cost, checks failed."""

    captures: int = 0
    capture_seconds: float = 0.0
    fallbacks: int = 0


@dataclass
class _Graph:
    """One captured shape: its cache and input buffers, and the replay (None: decode this shape eagerly)."""

    model: Any
    cache: StaticCache
    ids: torch.Tensor  # (rows, 1)
    positions: torch.Tensor  # (rows, 1)
    mask: torch.Tensor  # (rows, 1, 1, cache length): 0 where a row may attend, the dtype's minimum elsewhere
    replay: Callable[[], torch.Tensor] | None = None
    checked: bool = False

    def eager(self) -> torch.Tensor:
        return last_logits(
            self.model,
            input_ids=self.ids,
            attention_mask=self.mask,
            position_ids=self.positions,
            past_key_values=self.cache,
        )


@dataclass
class _ModelGraphs:
    shapes: dict[tuple[int, int], _Graph] = field(default_factory=dict)
    broken: bool = False  # a graph of this model failed its check: decode it eagerly from now on


@dataclass(frozen=True)
class _Held:
    """One graph in the worker's budget; `owner` is weak, so an unloaded model's entries simply lapse."""

    owner: weakref.ref[_ModelGraphs]
    shape: tuple[int, int]
    cache_bytes: int


class GraphForward:
    """Static cache and CUDA graphs where the device and model allow; the eager step elsewhere. The graphs
    of every model together hold at most `max_cache_bytes` of KV cache: the least recently used go first."""

    def __init__(self, capture: Capture | None = None, max_cache_bytes: int = int(4e9)) -> None:
        self.capture = capture or CudaCapture()
        self.max_cache_bytes = max_cache_bytes
        self.stats = GraphStats()
        self._held: OrderedDict[tuple[int, tuple[int, int]], _Held] = OrderedDict()  # least recently used first

    def open(self, loaded: LoadedModel, rows: int, capacity: int) -> Steps:
        model = loaded.model
        if not self.capture.supports(model.device):
            return EagerSteps(model)
        shape = (_pow2(rows), _pow2(capacity, MIN_CACHE_TOKENS))
        needed = static_cache_bytes(model, *shape)
        if needed > self.max_cache_bytes:
            return EagerSteps(model)
        if loaded.graphs is None:  # kept with the model: unloading it frees its graphs and caches
            loaded.graphs = _ModelGraphs()
        graphs = loaded.graphs
        graph = graphs.shapes.get(shape)
        capture_seconds = 0.0
        key = (id(graphs), shape)
        if graph is None:
            self._make_room(needed)
            started = time.monotonic()
            graph = self._new_graph(model, *shape)
            if graph is None:
                return EagerSteps(model)
            seconds = time.monotonic() - started
            self.stats.captures += 1
            self.stats.capture_seconds += seconds
            capture_seconds = seconds if graph.replay else 0.0
            graphs.shapes[shape] = graph
            self._held[key] = _Held(weakref.ref(graphs), shape, needed)
        self._held.move_to_end(key)
        return StaticSteps(graph, graphs, self.stats, capture_seconds)

    def _make_room(self, needed: int) -> None:
        """Drops the least recently used graphs, of any model, until `needed` more bytes fit the budget."""
        for key, held in list(self._held.items()):
            owner = held.owner()
            if owner is None or held.shape not in owner.shapes:  # unloaded with its model
                del self._held[key]
        total = sum(h.cache_bytes for h in self._held.values())
        while self._held and total + needed > self.max_cache_bytes:
            _, held = self._held.popitem(last=False)
            owner = held.owner()
            if owner is not None:
                owner.shapes.pop(held.shape, None)
            total -= held.cache_bytes

    def _new_graph(self, model: Any, rows: int, length: int) -> _Graph | None:
        cache = StaticCache(config=model.config, max_cache_len=length)
        if not all(type(layer) is StaticLayer for layer in cache.layers):
            return None  # sliding-window layers (see the module docstring)
        _, kv_heads, head_dim = _kv_shape(model)
        cache.early_initialization(rows, kv_heads, head_dim, model.dtype, model.device)
        device = model.device
        minimum = torch.finfo(model.dtype).min
        graph = _Graph(
            model=model,
            cache=cache,
            ids=torch.zeros((rows, 1), dtype=torch.long, device=device),
            positions=torch.zeros((rows, 1), dtype=torch.long, device=device),
            mask=torch.full((rows, 1, 1, length), minimum, dtype=model.dtype, device=device),
        )
        graph.mask[..., 0] = 0
        try:
            graph.replay = self.capture.capture(graph.eager)
        except Exception:  # an op that cannot be captured: this shape decodes eagerly
            log.warning("CUDA graph capture failed for %s; decoding eagerly", type(model).__name__, exc_info=True)
            self.stats.fallbacks += 1
        return graph


def _kv_shape(model: Any) -> tuple[int, int, int]:
    """Layers, key/value heads and head size of the model's KV cache."""
    config = model.config.get_text_config(decoder=True)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return config.num_hidden_layers, config.num_key_value_heads, head_dim


def static_cache_bytes(model: Any, rows: int, length: int) -> int:
    layers, kv_heads, head_dim = _kv_shape(model)
    return rows * length * 2 * layers * kv_heads * head_dim * model.dtype.itemsize


class StaticSteps:
    """One call over a captured shape: the prefill runs eagerly into the static cache, steps replay."""

    def __init__(self, graph: _Graph, graphs: _ModelGraphs, stats: GraphStats, capture_seconds: float) -> None:
        self.graph = graph
        self.graphs = graphs
        self.stats = stats
        self.capture_seconds = capture_seconds
        self.length = 0  # the next cache slot

    @property
    def kind(self) -> str:
        return "eager (static cache)" if self.graph.replay is None or self.graphs.broken else "cuda-graph"

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Eager, as on the CPU (a DynamicCache, the model's own masks), then copied into the static cache:
        attending over the whole static length would need a rows × prompt × cache-length mask."""
        g = self.graph
        rows, prompt = ids.shape
        spare = g.ids.shape[0] - rows
        # Spare rows are whole sequences of padding: every query attends to something, so nothing is NaN.
        full_mask = torch.cat([mask, mask.new_ones((spare, prompt))])
        positions = positions_of(full_mask)
        out = g.model(
            input_ids=torch.cat([ids, ids.new_zeros((spare, prompt))]),
            attention_mask=full_mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        g.cache.reset()
        for static, dynamic in zip(g.cache.layers, out.past_key_values.layers, strict=True):
            static.keys[:, :, :prompt].copy_(dynamic.keys)
            static.values[:, :, :prompt].copy_(dynamic.values)
            static.cumulative_length.fill_(prompt)
        g.positions.copy_(positions[:, -1:])
        g.mask.fill_(torch.finfo(g.mask.dtype).min)
        g.mask[:, 0, 0, :prompt].masked_fill_(full_mask > 0, 0)
        self.length = prompt
        return out.logits[:rows, -1, :]

    def step(self, tokens: list[int], rows: list[int]) -> torch.Tensor:
        g = self.graph
        if self.length >= g.mask.shape[-1]:
            raise RuntimeError(f"the static cache of {g.mask.shape[-1]} tokens is full")
        index = torch.tensor(rows, device=g.ids.device)
        g.ids.zero_()
        g.ids[index, 0] = torch.tensor(tokens, device=g.ids.device)
        g.positions.add_(1)
        g.mask[..., self.length] = 0
        self.length += 1
        return self._run()[index]

    def _run(self) -> torch.Tensor:
        g = self.graph
        if g.replay is None or self.graphs.broken:
            return g.eager()
        if g.checked:
            return g.replay()
        expected = g.eager()
        for layer in g.cache.layers:  # the replay writes the same slot again
            layer.cumulative_length.sub_(1)
        replayed = g.replay()
        g.checked = True
        if not torch.allclose(replayed.float(), expected.float(), rtol=1e-2, atol=1e-2):
            log.warning("a CUDA graph's step differs from the eager step; decoding this model eagerly")
            self.graphs.broken = True
            self.stats.fallbacks += 1
        return expected
