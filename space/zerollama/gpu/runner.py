"""The one @spaces.GPU entry point, and how HTTP requests reach it.

ZeroGPU keeps warm workers per decorated function, so chat, generate, embed, load and unload all go
through `gpu_entry`, one batch per call. Its duration is computed per batch (quota is checked against the
requested duration). Each call runs in one dedicated thread that first sets Gradio's request context from
the request of its members' caller: `spaces` reads the caller's identity (X-IP-Token) there to charge the
caller's quota instead of the Space's small shared pool. Request headers are never logged.
Off ZeroGPU `spaces.GPU` returns the function unchanged and everything runs in this process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
import spaces
from gradio.context import LocalContext

from ..core.errors import ApiError, translate_gpu_error
from ..core.gpu_budget import GpuBudget
from ..settings import GpuSettings
from .cancel import BOARD, BoardFull, CancelBoard
from .generation import Batch, Engine, Event, Failed, Finished, Heartbeat, Job, Tagged, execute
from .runtime import ModelRuntime

ON_ZEROGPU = bool(spaces.config.Config.zero_gpu)


@dataclass(frozen=True)
class ZeroGpuNode:
    """What `spaces` knows of the node it runs on (`spaces/zero/configs.json`, picked by GPU model)."""

    gpu_model: str
    duration_factor: float
    xlarge_threshold: int | None


def zerogpu_node() -> ZeroGpuNode | None:
    if not ON_ZEROGPU:
        return None
    from spaces.zero import config

    node = config.get_config()
    return ZeroGpuNode(node["model"], float(node["duration_factor"]), node["xlarge_threshold"])


def gpu_budget(settings: GpuSettings) -> GpuBudget:
    """The duration bounds and the assumed cold-copy speed, with this node's duration_factor."""
    node = zerogpu_node()
    return GpuBudget(
        on_zerogpu=ON_ZEROGPU,
        duration_factor=node.duration_factor if node else 1.0,
        min_seconds=settings.min_seconds,
        max_seconds=settings.max_seconds,
        cold_copy_bytes_per_second=settings.cold_copy_gb_per_second * 1e9,
    )


_runtime: ModelRuntime | None = None
_engine: Engine | None = None


def install_runtime(runtime: ModelRuntime, engine: Engine) -> None:
    """Sets the runtime and engine the GPU entry uses (before launch, so ZeroGPU workers inherit them)."""
    global _runtime, _engine
    _runtime, _engine = runtime, engine


def requested_duration(batch: Batch) -> int:
    return batch.requested_seconds


@spaces.GPU(duration=requested_duration)
def gpu_entry(batch: Batch) -> Iterator[Tagged | Heartbeat]:
    assert _runtime is not None and _engine is not None, "install_runtime() must run before the first request"
    yield from execute(batch, _runtime, _engine, lambda member: BOARD.is_set(batch.tickets[member]))


class ServerBusy(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "server busy, please try again.  maximum pending requests exceeded", 5)


@dataclass(eq=False)
class _Request:
    """One HTTP request's job, waiting for or taking part in a GPU call."""

    job: Job
    caller: str | None
    request: Any | None
    deliver: Callable[[Event | None], None]
    cancelled: threading.Event
    ticket: int
    done: bool = False
    holders: int = 1  # the consumer, and the call once it is in one: the ticket is given back by the last

    @property
    def over(self) -> bool:
        return self.done or self.cancelled.is_set()


class GpuRunner:
    """Queues the requests' jobs (custom routes bypass Gradio's queue), starts GPU calls as slots free up
    and bridges each call's thread to asyncio. When a slot frees, the oldest waiting job goes first, with
    every other waiting generation on the same model, for the same caller on ZeroGPU (a call is billed to
    one caller), up to `max_batch` in one call."""

    def __init__(
        self,
        entry: Callable[[Batch], Iterator[Tagged | Heartbeat]] = gpu_entry,
        max_concurrency: int | None = None,
        max_queue: int = GpuSettings.max_queue,
        max_batch: int = GpuSettings.max_batch,
        batch_window_ms: float = 0.0,
        per_caller: bool = ON_ZEROGPU,
        board: CancelBoard = BOARD,
    ) -> None:
        """`max_concurrency` None: one call at a time (on ZeroGPU each runs in its own worker; elsewhere
        one batched call uses the device better than two competing ones)."""
        self.entry = entry
        self.max_concurrency = max_concurrency or 1
        self.max_queue = max_queue
        self.max_batch = max(1, max_batch)
        self.batch_window = batch_window_ms / 1000
        self.per_caller = per_caller
        self.board = board
        self.blocks: gr.Blocks | None = None
        self._lock = threading.Lock()
        self._waiting: deque[_Request] = deque()
        self._running = 0
        self.pending = 0  # jobs waiting plus calls running

    async def events(self, job: Job, request: Any | None, watch_disconnect: bool = False) -> AsyncIterator[Event]:
        """Runs `job` in a GPU call; stops its part of the work when the consumer stops iterating, or, with
        `watch_disconnect`, when `request`'s client hangs up. (Only for requests that stay open while they
        are answered: the request Gradio hands its event handlers is long finished.)"""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event | None] = asyncio.Queue()
        cancelled = threading.Event()

        def deliver(event: Event | None) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the event loop is gone (shutdown): nobody is listening any more
                cancelled.set()

        waiting = self._submit(job, request, deliver, cancelled)
        watcher = asyncio.create_task(self._watch(request, cancelled)) if watch_disconnect else None
        try:
            while (event := await events.get()) is not None:
                yield event
        finally:
            self._leave(waiting)
            if watcher is not None:
                watcher.cancel()

    def _submit(self, job: Job, request: Any | None, deliver: Callable, cancelled: threading.Event) -> _Request:
        with self._lock:
            if self.pending >= self.max_queue + self.max_concurrency:
                raise ServerBusy()
            try:
                ticket = self.board.take()
            except BoardFull:
                raise ServerBusy() from None
            self.pending += 1
            waiting = _Request(job, _caller(request), request, deliver, cancelled, ticket)
            self._waiting.append(waiting)
            self._dispatch()
        return waiting

    def _leave(self, waiting: _Request) -> None:
        """The consumer is gone: a job still waiting never reaches the GPU; a running one's row is dropped."""
        waiting.cancelled.set()
        self.board.cancel(waiting.ticket)
        with self._lock:
            if waiting in self._waiting:
                self._waiting.remove(waiting)
                self.pending -= 1
            self._release(waiting)

    def _release(self, member: _Request) -> None:
        """The lock is held. A ticket is reused only when neither the consumer nor a call still reads it."""
        member.holders -= 1
        if member.holders == 0:
            self.board.give_back(member.ticket)

    def _dispatch(self) -> None:
        """Starts calls while slots are free (the lock is held)."""
        while self._running < self.max_concurrency and self._waiting:
            head = self._waiting.popleft()
            head.holders += 1
            members = [head]
            self._gather(members)
            self._running += 1
            threading.Thread(target=self._call, args=(members,), name=f"gpu-{head.job.op}", daemon=True).start()

    def _gather(self, members: list[_Request]) -> None:
        """Moves waiting jobs that may share the call of `members[0]` into it (the lock is held)."""
        head = members[0]
        for other in list(self._waiting):
            if len(members) >= self.max_batch:
                break
            if self._joins(head, other):
                members.append(other)
                self._waiting.remove(other)
                other.holders += 1
                self.pending -= 1  # a call counts once

    def _joins(self, head: _Request, other: _Request) -> bool:
        same_model = (other.job.entry.name, other.job.path) == (head.job.entry.name, head.job.path)
        batchable = head.job.op == other.job.op == "generate" and same_model
        return batchable and (not self.per_caller or other.caller == head.caller)

    def _call(self, members: list[_Request]) -> None:
        """One GPU call for `members` (their caller's request bound, as Gradio binds it for its events)."""
        self._bind_caller(members[0].request)
        if self.batch_window > 0 and members[0].job.op == "generate" and len(members) < self.max_batch:
            time.sleep(self.batch_window)  # requests sent together arrive a few milliseconds apart
            with self._lock:
                self._gather(members)
        live = [m for m in members if not m.over]
        try:
            if live:  # a job whose consumer left while it waited never reaches the GPU (never calls /schedule)
                self._run(live)
        finally:
            with self._lock:  # the slot is free before any member hears its reply is over
                for member in members:
                    self._release(member)
                self._running -= 1
                self.pending -= 1
                self._dispatch()
            for member in members:
                member.deliver(None)

    def _run(self, live: list[_Request]) -> None:
        stream = None
        try:
            stream = self.entry(Batch(tuple(m.job for m in live), tuple(m.ticket for m in live)))
            for item in stream:
                if isinstance(item, Tagged):
                    member = live[item.member]
                    if not member.over:
                        member.deliver(item.event)
                    member.done = member.done or isinstance(item.event, Finished | Failed)
                if all(m.over for m in live):
                    break
        except gr.Error as error:
            self._fail(live, Failed.of(translate_gpu_error(getattr(error, "title", None), str(error.message))))
        except Exception as error:  # noqa: BLE001 - becomes a JSON error, never a crash
            self._fail(live, Failed(500, f"{type(error).__name__}: {error}"))
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()  # GeneratorExit inside the call stops the engine and frees the model

    @staticmethod
    def _fail(members: list[_Request], failed: Failed) -> None:
        for member in members:
            if not member.over:
                member.deliver(failed)
                member.done = True

    @staticmethod
    async def _watch(request: Any, cancelled: threading.Event) -> None:
        """Replies also stop when the client hangs up, while they wait for a slot as well as while they run."""
        while not cancelled.is_set():
            if await request.is_disconnected():
                cancelled.set()
                return
            await asyncio.sleep(0.25)

    def _bind_caller(self, request: Any | None) -> None:
        """Gives `spaces` the caller's request, as Gradio does around its own event handlers."""
        LocalContext.request.set(gr.Request(request=request) if request is not None else None)
        LocalContext.blocks.set(self.blocks)
        LocalContext.event_id.set(None)
        LocalContext.in_event_listener.set(False)
        LocalContext.progress.set(None)


def _caller(request: Any | None) -> str | None:
    """Who ZeroGPU bills: `spaces` reads the caller's identity from the X-IP-Token header."""
    headers = getattr(request, "headers", None)
    return headers.get("x-ip-token") if headers is not None else None
