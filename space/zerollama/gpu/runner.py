"""The one @spaces.GPU entry point, and how HTTP requests reach it.

ZeroGPU keeps warm workers per decorated function, so chat, generate, embed, load and unload all go
through `gpu_entry`. Its duration is computed per job (quota is checked against the requested duration).
Each HTTP request runs the whole GPU generator in one dedicated thread that first sets Gradio's request
context from the incoming request: `spaces` reads the caller's identity (X-IP-Token) there to charge the
caller's quota instead of the Space's small shared pool. Request headers are never logged.
Off ZeroGPU `spaces.GPU` returns the function unchanged and everything runs in this process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
import spaces
from gradio.context import LocalContext

from ..core.errors import ApiError, translate_gpu_error
from ..core.gpu_budget import GpuBudget
from ..settings import GpuSettings
from .generation import Event, Failed, Heartbeat, Job, execute
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


def install_runtime(runtime: ModelRuntime) -> None:
    """Sets the runtime the GPU entry uses (before launch, so ZeroGPU workers inherit it)."""
    global _runtime
    _runtime = runtime


def requested_duration(job: Job) -> int:
    return job.requested_seconds


@spaces.GPU(duration=requested_duration)
def gpu_entry(job: Job) -> Iterator[Event]:
    assert _runtime is not None, "install_runtime() must run before the first request"
    yield from execute(job, _runtime)


class ServerBusy(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "server busy, please try again.  maximum pending requests exceeded", 5)


class GpuRunner:
    """Bounds concurrency (custom routes bypass Gradio's queue) and bridges the GPU thread to asyncio."""

    def __init__(
        self,
        entry: Callable[[Job], Iterator[Event]] = gpu_entry,
        max_concurrency: int | None = None,
        max_queue: int = GpuSettings.max_queue,
    ) -> None:
        """`max_concurrency` None: one call at a time on ZeroGPU (each runs in its own worker), else two."""
        self.entry = entry
        self.max_concurrency = max_concurrency or (1 if ON_ZEROGPU else 2)
        self.max_queue = max_queue
        self.blocks: gr.Blocks | None = None
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._count_lock = threading.Lock()
        self.pending = 0  # waiting or running

    def _enter(self) -> None:
        with self._count_lock:
            if self.pending >= self.max_queue + self.max_concurrency:
                raise ServerBusy()
            self.pending += 1

    def _leave(self) -> None:
        with self._count_lock:
            self.pending -= 1

    def iterate(self, job: Job, cancelled: threading.Event | None = None) -> Iterator[Event]:
        """Runs `job` in the calling thread once a slot is free; gr.Error becomes a Failed event. A job whose
        consumer left while it waited never reaches the GPU (on ZeroGPU: never calls /schedule)."""
        self._enter()
        try:
            with self._slots:
                if cancelled is not None and cancelled.is_set():
                    return
                stream = None
                try:
                    stream = self.entry(job)
                    for event in stream:
                        if cancelled is not None and cancelled.is_set():
                            break
                        yield event
                except gr.Error as error:
                    yield Failed.of(translate_gpu_error(getattr(error, "title", None), str(error.message)))
                finally:
                    if stream is not None and hasattr(stream, "close"):
                        stream.close()  # GeneratorExit inside the job stops generate() and frees the model
        finally:
            self._leave()

    async def events(self, job: Job, request: Any | None, watch_disconnect: bool = False) -> AsyncIterator[Event]:
        """Runs `job` in its own thread; stops the GPU work when the consumer stops iterating, or, with
        `watch_disconnect`, when `request`'s client hangs up. (Only for requests that stay open while they
        are answered: the request Gradio hands its event handlers is long finished.)"""
        self._enter()
        self._leave()  # counted again by iterate(); this early check answers 503 before any thread starts
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event | None] = asyncio.Queue()
        cancelled = threading.Event()

        def deliver(event: Event | None) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the event loop is gone (shutdown): nobody is listening any more
                cancelled.set()

        def pump() -> None:
            self._bind_caller(request)
            try:
                for event in self.iterate(job, cancelled):
                    if not isinstance(event, Heartbeat):  # heartbeats only let a departed consumer stop the GPU
                        deliver(event)
            except ServerBusy as busy:
                deliver(Failed.of(busy))
            except Exception as error:  # noqa: BLE001 - becomes a JSON error, never a crash
                deliver(Failed(500, f"{type(error).__name__}: {error}"))
            finally:
                deliver(None)

        threading.Thread(target=pump, name=f"gpu-{job.op}", daemon=True).start()
        watcher = asyncio.create_task(self._watch(request, cancelled)) if watch_disconnect else None
        try:
            while (event := await events.get()) is not None:
                yield event
        finally:
            cancelled.set()
            if watcher is not None:
                watcher.cancel()

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
