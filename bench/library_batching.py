"""transformers' own continuous batching (the `ContinuousBatchingManager` behind `generate_batch`: a paged KV
cache, a scheduler, CUDA graphs where the device has them) over given prompts, measured the way batching.py
measures the hand-written LoopEngine: greedy, the same number of new tokens for every prompt, aggregate
tokens/s.

The manager is built once per model and kept between runs, as `generate_batch(persistent_manager=True)`
keeps it: creating it (the paged cache) and its warm-up (graph capture) are paid once and timed apart, so the
steady runs do not carry them. Between runs it is stopped, which gives the model back its own attention
implementation, so other engines can share the model between runs. A run is timed from its requests handed
over to the last one done.

Only torch and transformers are needed: the model passed in sets the device and dtype (the tiny float32
stand-in on a CPU in batching.py, a bf16 7B-shaped model on a GPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from transformers import ContinuousBatchingConfig, GenerationConfig

PAGE_SIZE = 256  # tokens per cache page: the library's default, named here because the cache is sized from it


@dataclass(frozen=True)
class LibraryRound:
    seconds: float
    tokens: int
    outputs: tuple[tuple[int, ...], ...]  # each prompt's generated ids, in the prompts' order

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds


class LibraryBatching:
    """Runs of continuous batching on one model, for up to `max_streams` prompts of up to `longest_prompt`
    tokens, each decoding `new_tokens`. `cuda_graphs` None leaves that choice to transformers (no graphs on a
    CPU; on a GPU, none with sdpa's attention masks unless asked). Use it as a context manager: leaving drops
    the kept manager and its cache."""

    def __init__(
        self, model: Any, max_streams: int, longest_prompt: int, new_tokens: int, cuda_graphs: bool | None = None
    ) -> None:
        self.model = model
        self.new_tokens = new_tokens
        # eos -1 is transformers' "no end-of-sequence id": every request decodes all `new_tokens`.
        self.generation = GenerationConfig(do_sample=False, max_new_tokens=new_tokens, eos_token_id=-1)
        self.config = ContinuousBatchingConfig(
            page_size=PAGE_SIZE,
            # Sized for one full run rather than the default share of free (device or host) memory: nothing
            # is evicted, and the other engines in the process keep their memory.
            num_blocks=max_streams * math.ceil((longest_prompt + new_tokens) / PAGE_SIZE),
            max_batch_tokens=max_streams * longest_prompt,  # one step prefills every prompt, as LoopEngine does
            max_requests_per_batch=max_streams,
            # Off: the runs repeat the same prompts, and a kept cache would serve their prefill from earlier runs.
            allow_block_sharing=False,
            use_cuda_graph=cuda_graphs,
        )
        self.setup_seconds: float | None = None  # manager and cache creation plus warm-up, on the first run
        self.attention = ""  # the implementation the runs use: the library may switch to flash attention

    def __enter__(self) -> LibraryBatching:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.model.destroy_cached_continuous_batching_manager()

    def run(self, prompts: Sequence[Sequence[int]]) -> LibraryRound:
        """One batch of requests; the first call also builds and warms the manager (see `setup_seconds`)."""
        started = time.perf_counter()
        manager = self.model.init_continuous_batching(self.generation, self.config)  # the kept one after the first
        if not manager.warmed_up:
            manager.warmup()
            self.setup_seconds = time.perf_counter() - started
        self.attention = self.model.config._attn_implementation
        manager.start()
        try:
            handed = time.perf_counter()
            ids = manager.add_requests([list(p) for p in prompts], max_new_tokens=self.new_tokens)
            results = collect(manager, ids)
            seconds = time.perf_counter() - handed
        finally:
            manager.stop(block=True, keep_for_next_session=True)
        outputs = tuple(tuple(results[i].generated_tokens) for i in ids)
        return LibraryRound(seconds, sum(len(o) for o in outputs), outputs)


def collect(manager: Any, request_ids: list[str]) -> dict[str, Any]:
    """Every request's final result. The manager reports a failure as a result, and a crashed loop by going
    quiet, so both are raised here rather than timed as a fast run."""
    pending, done = set(request_ids), {}
    while pending:
        result = manager.get_result(timeout=1)
        if result is None:
            if not manager.is_running():
                raise RuntimeError(f"the continuous batching loop stopped with {len(pending)} requests pending")
            continue
        if result.is_finished():
            if result.error is not None:
                raise RuntimeError(f"request {result.request_id} failed: {result.error}")
            done[result.request_id] = result
            pending.discard(result.request_id)
    return done
