"""What runs on the GPU: one call (a batch of generations on one model, or one embed, load or unload job)
turned into picklable events, each tagged with the batch member it belongs to.

Everything here crosses the ZeroGPU process boundary: batches go in pickled, events come back pickled, and
exceptions other than gr.Error would lose their message, so failures are returned as `Failed` events.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from ..core.catalog import CatalogModel
from ..core.errors import ApiError
from ..core.options import GenerationOptions
from .runtime import LoadedModel, ModelDoesNotFit, ModelRuntime, ResidentModel
from .textstream import ToolSyntax


@dataclass(frozen=True)
class Job:
    op: Literal["generate", "embed", "load", "unload"]
    entry: CatalogModel
    path: Path
    pinned: bool = False
    keep_alive: float | None = None
    prompt_ids: tuple[int, ...] = ()
    options: GenerationOptions | None = None
    format: str | dict | None = None
    tools: tuple[dict, ...] = ()
    tool_syntax: ToolSyntax | None = None  # set when tools are given
    force_tool_call: bool = False
    logprobs: bool = False  # each output token's log-probability, with `top_logprobs` (0-20) alternatives
    top_logprobs: int = 0
    embed_inputs: tuple[tuple[int, ...], ...] = ()
    normalize: bool = True
    dimensions: int | None = None
    requested_seconds: int = 60
    # Seconds the platform grants for requested_seconds (ZeroGPU multiplies by its duration_factor);
    # generation stops (done_reason "length") before the grant runs out. inf: nothing kills the call.
    granted_seconds: float = math.inf


@dataclass(frozen=True)
class TextDelta:
    text: str
    # Ollama's shape, one per token since the previous delta: {"token", "logprob", "bytes", "top_logprobs"?}.
    # A token whose text is still held back (a possible stop string, a tool call) comes with empty text.
    logprobs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ToolCalls:
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class Finished:
    done_reason: str
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0  # nanoseconds, as Ollama reports
    eval_count: int = 0
    eval_duration: int = 0
    load_duration: int = 0
    gpu_seconds: float = 0.0
    cold_start_seconds: float = 0.0  # of a new ZeroGPU worker: copying the packed weights, inside the grant
    note: str = ""  # said to the caller beside the reply (why a packed model was not unloaded)
    embeddings: list[list[float]] | None = None
    resident: list[ResidentModel] = field(default_factory=list)
    output_ids: tuple[int, ...] = ()  # every generated token, end-of-turn included (Ollama's `context` ends so)
    decode_step: str = ""  # generations: what ran the decode steps (gpu/steps.py's Steps.kind)
    capture_seconds: float = 0.0  # of CUDA graphs captured for this call (a new worker captures again)


@dataclass(frozen=True)
class Failed:
    """A job's failure, crossing from the GPU thread as data; `error()` is what the HTTP side raises."""

    status: int
    message: str
    retry_after: int | None = None

    @classmethod
    def of(cls, error: ApiError) -> Failed:
        return cls(error.status, error.message, error.retry_after)

    def error(self) -> ApiError:
        return ApiError(self.status, self.message, self.retry_after)


@dataclass(frozen=True)
class Heartbeat:
    """Yielded while nothing else is (model load, prefill, held-back output): ZeroGPU only notices that the
    consumer left at the next yielded item, so this is how a disconnect frees the GPU quickly. Dropped by
    the server."""


Event = TextDelta | ToolCalls | Finished | Failed | Heartbeat


@dataclass(frozen=True)
class Batch:
    """The jobs of one GPU call: one embed, load or unload job, or generations on the same model for the
    same caller. `tickets` are the members' places on the cancel board (a caller leaving sets its own)."""

    jobs: tuple[Job, ...]
    tickets: tuple[int, ...] = ()

    @property
    def requested_seconds(self) -> int:
        """What the call asks ZeroGPU for: enough for its longest member."""
        return max(j.requested_seconds for j in self.jobs)

    @property
    def granted_seconds(self) -> float:
        return max(j.granted_seconds for j in self.jobs)


@dataclass(frozen=True)
class Tagged:
    """An event of batch member `member` (its index in Batch.jobs)."""

    member: int
    event: Event


class Engine(Protocol):
    """The seam the GPU entry drives (gpu/engine.py holds the implementation chosen at start-up)."""

    def stream(
        self, jobs: Sequence[Job], loaded: LoadedModel, deadline: float, departed: Callable[[int], bool]
    ) -> Iterator[Tagged | Heartbeat]:
        """Events of every member of `jobs`, tagged by its index; `departed(i)` says member i's caller left.
        A member's Finished carries `gpu_seconds`: its share of the decoding time."""
        ...


HEARTBEAT_SECONDS = 0.25
# Stop this long before the grant ends: the reply's last events and /release must still fit in it.
DEADLINE_MARGIN_SECONDS = 2.0


class ProcessClock:
    """When this process was forked (a ZeroGPU worker is forked right after its grant) and whether it has
    run a job yet: a new worker's grant already paid for copying the packed weights before its first job."""

    def __init__(self) -> None:
        self.forked_at: float | None = None
        self.jobs = 0
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.forked_at = time.time()
        self.jobs = 0

    def job_started(self) -> tuple[float, float]:
        """(unix time this job's grant began, seconds of it spent before the job: the cold start)."""
        now = time.time()
        self.jobs += 1
        if self.jobs == 1 and self.forked_at is not None:
            return self.forked_at, now - self.forked_at
        return now, 0.0


CLOCK = ProcessClock()


def deadline_for(granted_seconds: float, grant_began: float) -> float:
    """The time.monotonic() at which generation must end to stay inside the grant."""
    if math.isinf(granted_seconds):
        return math.inf
    return time.monotonic() + (grant_began + granted_seconds - DEADLINE_MARGIN_SECONDS - time.time())


def in_background(
    work: Callable[[], Any], abandoned: Callable[[Any], None] | None = None
) -> Generator[Heartbeat, None, Any]:
    """Runs `work` in a thread, yielding a Heartbeat every HEARTBEAT_SECONDS until it is done, and returns
    its result (`value = yield from in_background(...)`; its exception is raised here). If the consumer
    leaves first, `abandoned` gets the result."""
    outcome: queue.Queue[tuple[bool, Any]] = queue.Queue()
    left = threading.Event()
    handover = threading.Lock()

    def run() -> None:
        try:
            result: tuple[bool, Any] = (True, work())
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
            result = (False, error)
        with handover:
            if left.is_set() and result[0] and abandoned is not None:
                abandoned(result[1])
            else:
                outcome.put(result)

    threading.Thread(target=run, name="gpu-work", daemon=True).start()
    try:
        while True:
            try:
                ok, value = outcome.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                yield Heartbeat()
                continue
            if not ok:
                raise value
            return value
    except GeneratorExit:
        with handover:
            left.set()
            while not outcome.empty():
                ok, value = outcome.get()
                if ok and abandoned is not None:
                    abandoned(value)
        raise


def embed(job: Job, loaded: LoadedModel) -> list[list[float]]:
    """Mean-pooled last hidden states: one vector per input (L2-normalised for /api/embed)."""
    vectors = []
    with torch.inference_mode():
        for ids in job.embed_inputs:
            input_ids = torch.tensor([list(ids)], device=loaded.model.device)
            hidden = loaded.model(input_ids=input_ids, output_hidden_states=True).hidden_states[-1][0]
            vector = hidden.float().mean(dim=0)
            if job.dimensions:
                vector = vector[: job.dimensions]
            if job.normalize:
                vector = torch.nn.functional.normalize(vector, dim=0)
            vectors.append(vector.cpu().tolist())
    return vectors


def execute(
    batch: Batch, runtime: ModelRuntime, engine: Engine, departed: Callable[[int], bool]
) -> Iterator[Tagged | Heartbeat]:
    """Runs one GPU call on this process's runtime: a batch of generations on one model, or one other job.
    Yields events tagged by member (heartbeats during slow steps); never raises. Each member's GPU seconds
    are its share of the call: the load and the cold start split evenly, the decoding as the engine splits it."""
    grant_began, cold_start = CLOCK.job_started()
    started = time.monotonic()
    job = batch.jobs[0]
    pending = set(range(len(batch.jobs)))
    try:
        if job.op == "unload":
            note = ""
            if runtime.is_packed(job.entry.name):
                note = f"{job.entry.name} is packed on ZeroGPU: it stays resident in every GPU worker, never unloaded"
            else:
                runtime.unload(job.entry.name)
            yield Tagged(0, Finished(done_reason="unload", resident=runtime.snapshot(), note=note))
            return

        def give_back(result: tuple[LoadedModel, float]) -> None:  # the consumer left during the load
            runtime.release(result[0], job.keep_alive, pinned=job.pinned)

        loaded, load_seconds = yield from in_background(lambda: runtime.acquire(job.entry, job.path), give_back)
        try:
            setup = (time.monotonic() - started + cold_start) / len(batch.jobs)
            for event in _work(batch, loaded, engine, departed, deadline_for(batch.granted_seconds, grant_began)):
                if isinstance(event, Tagged):
                    if isinstance(event.event, Finished | Failed):
                        pending.discard(event.member)
                    if isinstance(event.event, Finished):
                        extra = {"load_duration": int(load_seconds * 1e9), "cold_start_seconds": cold_start}
                        extra["gpu_seconds"] = event.event.gpu_seconds + setup
                        event = Tagged(event.member, replace(event.event, resident=runtime.snapshot(), **extra))
                yield event
        finally:
            runtime.release(loaded, max_keep_alive(batch.jobs), pinned=any(j.pinned for j in batch.jobs))
    except ModelDoesNotFit as error:
        yield from _fail_all(pending, Failed(503, str(error)))
    except torch.cuda.OutOfMemoryError:
        message = "the GPU ran out of memory for this request; retry with a shorter prompt or num_predict"
        yield from _fail_all(pending, Failed(503, message, 30))
    except Exception as error:  # noqa: BLE001 - must cross the process boundary with its message
        yield from _fail_all(pending, Failed(500, f"{type(error).__name__}: {error}"))


def _work(
    batch: Batch, loaded: LoadedModel, engine: Engine, departed: Callable[[int], bool], deadline: float
) -> Iterator[Tagged | Heartbeat]:
    job = batch.jobs[0]
    if job.op == "generate":
        yield from engine.stream(batch.jobs, loaded, deadline, departed)
    elif job.op == "embed":
        started = time.monotonic()
        vectors = yield from in_background(lambda: embed(job, loaded))
        tokens = sum(len(i) for i in job.embed_inputs)
        seconds = time.monotonic() - started
        yield Tagged(0, Finished(done_reason="stop", embeddings=vectors, prompt_eval_count=tokens, gpu_seconds=seconds))
    else:
        yield Tagged(0, Finished(done_reason="load"))


def max_keep_alive(jobs: tuple[Job, ...]) -> float | None:
    """The longest keep_alive any member asked for (None, the default, when none asked)."""
    asked = [j.keep_alive for j in jobs if j.keep_alive is not None]
    return max(asked) if asked else None


def _fail_all(members: set[int], failed: Failed) -> Iterator[Tagged]:
    for member in sorted(members):
        yield Tagged(member, failed)
