"""Assembling the server: models, runtime, routes, and Gradio's own launch (which ZeroGPU needs)."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from . import catalog_route, diagnostics, ollama_routes, openai_routes
from .catalog import Catalog, load_catalog
from .catalog_route import QuotaLedger
from .demo_models import SharedGgufLoader, smollm2_store
from .gpu import ON_ZEROGPU, GpuRunner, gpu_budget, install_runtime, zerogpu_node
from .guard import AccessGuard
from .http import RootProbe
from .registry import ModelRegistry
from .runtime import ModelRuntime
from .service import Service
from .settings import ModelSettings, Settings
from .slow_clients import install_header_deadline
from .store import ModelStore
from .tiny_models import build_all
from .ui import build_demo

log = logging.getLogger("zerollama")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL_DIR = REPO_ROOT / ".zerollama" / "demo-models"
DEMO_CACHE_DIR = REPO_ROOT / ".zerollama"


def runtime_for(settings: ModelSettings) -> ModelRuntime:
    """ZeroGPU: bf16 on (emulated, then real) cuda within a 48 GB slice; else the local GPU or the CPU."""
    if ON_ZEROGPU or torch.cuda.is_available():
        device, dtype = "cuda", torch.bfloat16
        default_budget = 44.0 if ON_ZEROGPU else torch.cuda.get_device_properties(0).total_memory / 1e9 * 0.85
    else:
        device, dtype, default_budget = "cpu", torch.float32, 16.0
    budget_gb = settings.memory_budget_gb if settings.memory_budget_gb is not None else default_budget
    loader = SharedGgufLoader() if settings.demo == "smollm2" else None
    return ModelRuntime(device, dtype, int(budget_gb * 1e9), loader, packs_placed=ON_ZEROGPU)


def store_for(settings: ModelSettings, catalog: Catalog) -> ModelStore:
    """ZEROLLAMA_DEMO=1 serves tiny random-weight models under the catalog's names (built on first use);
    ZEROLLAMA_DEMO=smollm2 serves SmolLM2-135M-Instruct under all of them (demo_models.py)."""
    if settings.demo == "smollm2":
        log.info("demo mode: SmolLM2-135M-Instruct stands in for every catalog model")
        return smollm2_store(catalog, DEMO_CACHE_DIR)
    if settings.demo != "tiny":
        return ModelStore(settings.model_dir)
    if settings.model_dir is not None:
        model_dir = build_all(catalog, settings.model_dir)
    else:
        # Each demo server works on its own copy, so one server's /api/delete does not affect another's.
        build_all(catalog, DEMO_MODEL_DIR)
        model_dir = Path(tempfile.mkdtemp(prefix="zerollama-demo-"))
        atexit.register(shutil.rmtree, model_dir, ignore_errors=True)
        for entry in catalog.models:
            shutil.copytree(DEMO_MODEL_DIR / entry.folder_name, model_dir / entry.folder_name)
    log.info("demo mode: tiny random-weight models in %s", model_dir)
    return ModelStore(model_dir)


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
    ) -> None:
        self.settings = settings or Settings()
        self.catalog = catalog
        self.costs = self.settings.costs
        self.http = self.settings.http
        self.registry = ModelRegistry(catalog, store, runtime, shares_runtime=not ON_ZEROGPU)
        self.runner = runner
        self.ledger = QuotaLedger()
        budget = gpu_budget(self.settings.gpu)
        self.service = Service(self.registry, runner, self.costs, self.ledger, budget, self.settings.limits)
        install_runtime(runtime)

    @classmethod
    def from_settings(cls, settings: Settings) -> Server:
        catalog = load_catalog()
        runner = GpuRunner(max_concurrency=settings.gpu.max_concurrency, max_queue=settings.gpu.max_queue)
        models = settings.models
        return cls(catalog, store_for(models, catalog), runtime_for(models), runner, settings)

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
            entry = self.catalog.find(name)
            stored = self.registry.store.find(entry) if entry else None
            if entry is None or stored is None:
                log.warning("not preloading %s: %s", name, "not in the catalog" if entry is None else "not pulled")
                continue
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
            ollama_routes.build_router(self.service, self.registry, self.costs),
            openai_routes.build_router(self.service, self.registry, self.costs),
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
    demo = server.settings.models.demo
    return build_demo(server.registry, server.costs, server.service, server.ledger, demo, keyed)


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
