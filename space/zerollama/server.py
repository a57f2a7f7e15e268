"""Assembling the server: models, runtime, routes, and Gradio's own launch (which ZeroGPU needs)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import gradio as gr
import torch
from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from .api import catalog_route, diagnostics, ollama, openai
from .api.guard import AccessGuard
from .api.http import RootProbe
from .api.slow_clients import install_header_deadline
from .core.catalog import Catalog, load_catalog
from .core.jobs import Service
from .core.quota import QuotaLedger
from .core.registry import ModelRegistry
from .gpu.engine import engine_for
from .gpu.runner import ON_ZEROGPU, GpuRunner, gpu_budget, install_runtime, zerogpu_node
from .gpu.runtime import ModelRuntime, TransformersLoader
from .settings import ModelSettings, Settings
from .store import ModelStore
from .ui import build_demo

log = logging.getLogger("zerollama")


def runtime_for(settings: ModelSettings, loader: TransformersLoader | None) -> ModelRuntime:
    """ZeroGPU: bf16 on (emulated, then real) cuda within a 48 GB slice; else the local GPU or the CPU."""
    if ON_ZEROGPU or torch.cuda.is_available():
        device, dtype = "cuda", torch.bfloat16
        default_budget = 44.0 if ON_ZEROGPU else torch.cuda.get_device_properties(0).total_memory / 1e9 * 0.85
    else:
        device, dtype, default_budget = "cpu", torch.float32, 16.0
    budget_gb = settings.memory_budget_gb if settings.memory_budget_gb is not None else default_budget
    return ModelRuntime(device, dtype, int(budget_gb * 1e9), loader, packs_placed=ON_ZEROGPU)


def models_for(settings: ModelSettings, catalog: Catalog) -> tuple[ModelStore, TransformersLoader | None, str]:
    """The store, its loader (None: the runtime's own) and the page's note: the real weights, or with
    ZEROLLAMA_DEMO the stand-ins of the demo package (imported only then: the Space has no demo/)."""
    if not settings.demo:
        return ModelStore(settings.model_dir), None, ""
    from .demo import stand_ins

    demo = stand_ins(settings.demo, catalog, settings.model_dir)
    return demo.store, demo.loader, demo.note


class Server:
    """Everything the routes need; also what the page and the catalog route read (`registry`).

    Built from its parts (the tests pass their own runner, store and runtime); `from_settings` builds the
    production ones."""

    def __init__(
        self,
        catalog: Catalog,
        store: ModelStore,
        runtime: ModelRuntime,
        runner: GpuRunner,
        settings: Settings | None = None,
        demo_note: str = "",
    ) -> None:
        self.settings = settings or Settings()
        self.demo_note = demo_note  # what the page says stands in for the catalog models, if anything
        self.catalog = catalog
        self.costs = self.settings.costs
        self.http = self.settings.http
        self.registry = ModelRegistry(catalog, store, runtime, shares_runtime=not ON_ZEROGPU)
        self.runner = runner
        self.ledger = QuotaLedger()
        budget = gpu_budget(self.settings.gpu)
        self.service = Service(self.registry, runner, self.costs, self.ledger, budget, self.settings.limits)
        install_runtime(runtime, engine_for(self.settings.gpu))

    @classmethod
    def from_settings(cls, settings: Settings) -> Server:
        catalog = load_catalog()
        gpu = settings.gpu
        runner = GpuRunner(
            max_concurrency=gpu.max_concurrency,
            max_queue=gpu.max_queue,
            max_batch=gpu.max_batch,
            batch_window_ms=gpu.batch_window_ms,
        )
        store, loader, demo_note = models_for(settings.models, catalog)
        return cls(catalog, store, runtime_for(settings.models, loader), runner, settings, demo_note)

    def preload_defaults(self) -> None:
        """Default models go resident before launch. On ZeroGPU they are packed: resident in every GPU worker
        for good, and copied into each new worker inside its grant. ZEROLLAMA_PACKED_MODELS (comma-separated)
        picks them instead of the catalog's defaults; their total stays under the node's `xlarge` threshold
        (above it every call would cost 2x quota) unless ZEROLLAMA_ALLOW_XLARGE=1."""
        models = self.settings.models
        if not models.preload:
            return
        names = list(models.packed_models) or self.catalog.default_models
        node = zerogpu_node()
        threshold = node.xlarge_threshold if node and not models.allow_xlarge else None
        total = 0
        for name in names:
            found = self.registry.lookup(name)
            if found is None:
                why = "not pulled" if self.catalog.find(name) else "not in the catalog"
                log.warning("not preloading %s: %s", name, why)
                continue
            entry, stored = found
            if threshold is not None and total + entry.bf16_bytes > threshold:
                log.warning(
                    "not packing %s: %.1f GB packed would pass the %.1f GB xlarge threshold (2x quota per call); "
                    "set ZEROLLAMA_ALLOW_XLARGE=1 to accept that",
                    entry.name,
                    (total + entry.bf16_bytes) / 1e9,
                    threshold / 1e9,
                )
                continue
            log.info("loading %s from %s", entry.name, stored.path)
            self.registry.runtime.place(entry, stored.path)
            if self.registry.runtime.is_packed(entry.name):
                self.registry.remember_packed(entry, stored)
            total += entry.bf16_bytes
        self.registry.adopt(self.registry.runtime.snapshot())

    def routers(self) -> list[APIRouter]:
        return [
            ollama.OllamaApi(self.service, self.registry, self.costs).router(),
            openai.OpenAIApi(self.service, self.registry, self.costs).router(),
            diagnostics.build_router(self.registry, self.service.budget),
        ]

    def middleware(self, ready: threading.Event) -> list[Middleware]:
        """What wraps every route, Gradio's included: the access guard outermost, then the root probe."""
        return [Middleware(AccessGuard, settings=self.http), Middleware(RootProbe, ready=ready)]

    def attach(self, app: FastAPI) -> None:
        """Puts the API routes in front of Gradio's, so they win wherever paths overlap."""
        routes = [route for router in self.routers() for route in router.routes]
        app.router.routes[0:0] = routes
        catalog_route.register(app, self.registry, self.costs, self.ledger)

    def start_sweeper(self) -> None:
        """Off ZeroGPU, models past their keep_alive are unloaded even when no request comes."""
        if ON_ZEROGPU:
            return

        def sweep() -> None:
            while not stop.wait(10):
                self.registry.runtime.sweep()

        stop = threading.Event()
        threading.Thread(target=sweep, name="keep-alive-sweeper", daemon=True).start()


def build_page(server: Server) -> gr.Blocks:
    keyed = bool(server.http.api_key)
    return build_demo(server.registry, server.costs, server.service, server.ledger, server.demo_note, keyed)


def launch(server: Server, page: gr.Blocks, **launch_options: Any) -> gr.Blocks:
    ready = threading.Event()
    # On ZeroGPU Gradio's queue holds one event by default (across all events: a second visitor would read
    # "Queue is full"); the page's events wait as long as the API's requests do.
    page.queue(max_size=server.runner.max_queue)
    install_header_deadline(server.http.header_timeout_seconds)
    page.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("PORT") or os.environ.get("GRADIO_SERVER_PORT") or 7860),
        prevent_thread_lock=True,
        ssr_mode=False,
        show_error=False,  # gr.Error messages still show; other exceptions' text stays in the log
        max_file_size=server.http.max_body_bytes,
        enable_monitoring=server.http.monitoring,
        app_kwargs={"middleware": server.middleware(ready)},
        **launch_options,
    )
    # launch() creates a new app, so routes are added after it.
    server.attach(page.app)
    server.runner.blocks = page
    ready.set()
    return page


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server.from_settings(Settings.from_env())
    server.preload_defaults()
    server.start_sweeper()
    page = launch(server, build_page(server))
    log.info("zerollama ready (ZeroGPU: %s, device: %s)", ON_ZEROGPU, server.registry.runtime.device)
    # A plain SIGTERM would skip atexit (which removes the demo models' copy); exit normally instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    page.block_thread()
