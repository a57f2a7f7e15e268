"""Models in memory: loading from disk, residency on the device (LRU within a budget, keep_alive).

One ModelRuntime lives in each process that runs generations: the server process off ZeroGPU, and each
ZeroGPU worker (a fork of the server process: it starts with whatever the server placed on `cuda` before
launch, and its later changes stay in the worker). Snapshots of what is resident travel back with every
reply so the server can answer /api/ps.

On ZeroGPU what the server places before launch is *packed* by `spaces`: written to its offload dir, kept
referenced for good and copied into every new worker. Packed models are therefore resident in every worker
for the life of the Space: they are never swept, evicted or unloaded (unloading would free nothing and
reloading could fail), and models loaded on demand share what the slice leaves beside them.
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..core.catalog import CatalogModel


@dataclass(frozen=True)
class ResidentModel:
    """A picklable view of one loaded model (what /api/ps shows)."""

    name: str
    size_bytes: int
    device: str
    expires_at: float  # unix seconds; math.inf = never
    packed: bool = False  # placed before launch on ZeroGPU: resident in every worker, never unloaded


class ModelDoesNotFit(Exception):
    """A model larger than the memory the packed models leave; the message says what to do."""


def fit_error(name: str, needed: int, room: int, budget: int) -> ModelDoesNotFit:
    gb = 1e9
    return ModelDoesNotFit(
        f"{name} needs {needed / gb:.1f} GB but only {max(room, 0) / gb:.1f} GB of the {budget / gb:.1f} GB GPU budget "
        "is free beside the models packed at start-up; list it in ZEROLLAMA_PACKED_MODELS instead of a packed "
        "model (restart needed), or raise ZEROLLAMA_MEMORY_BUDGET_GB on larger hardware"
    )


@dataclass
class LoadedModel:
    entry: CatalogModel
    model: Any
    tokenizer: Any
    device: str
    size_bytes: int
    expires_at: float
    in_use: int = 0
    grammar_compiler: Any = None
    graphs: Any = None  # the CUDA graphs and static caches captured for this model (gpu/graphs.py)
    packed: bool = False


def model_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.parameters()) + sum(
        t.numel() * t.element_size() for t in model.buffers()
    )


class TransformersLoader:
    """Reads a transformers checkpoint folder (the SmolLM2 demo swaps in a loader that shares one GGUF)."""

    def load_model(self, path: Path, dtype: torch.dtype) -> Any:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)

    def load_tokenizer(self, path: Path) -> Any:
        return AutoTokenizer.from_pretrained(path)


def _renew_locks_after_fork(runtime_ref: weakref.ref) -> None:
    runtime = runtime_ref()
    if runtime is not None:
        runtime._lock = threading.RLock()


class ModelRuntime:
    def __init__(
        self,
        device: str,
        dtype: torch.dtype,
        budget_bytes: int,
        loader: TransformersLoader | None = None,
        packs_placed: bool = False,
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.budget_bytes = budget_bytes
        self.loader = loader or TransformersLoader()
        # ZeroGPU: models placed before launch are packed (see the module's docstring).
        self.packs_placed = packs_placed
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._tokenizers: dict[Path, Any] = {}
        self._lock = threading.RLock()
        # A ZeroGPU worker is a fork: a lock some other thread held at that moment would stay locked in it.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew_locks_after_fork(ref))

    def tokenizer(self, path: Path) -> Any:
        """The tokenizer of the checkpoint at `path` (cheap; the server uses it before any GPU work).
        It is read outside the lock, so a worker forked meanwhile never inherits a held lock."""
        with self._lock:
            cached = self._tokenizers.get(path)
        if cached is None:
            loaded = self.loader.load_tokenizer(path)
            with self._lock:
                cached = self._tokenizers.setdefault(path, loaded)
        return cached

    def packed_bytes(self) -> int:
        with self._lock:
            return sum(m.size_bytes for m in self._models.values() if m.packed)

    def packed_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, m in self._models.items() if m.packed)

    def on_demand_room(self) -> int:
        """Bytes of the budget left for models loaded on demand (all of it minus the packed models)."""
        return self.budget_bytes - self.packed_bytes()

    def check_fits(self, name: str, estimated_bytes: int) -> None:
        """Raises ModelDoesNotFit when `name` (not resident) could never fit beside the packed models."""
        with self._lock:
            if name in self._models:
                return
        self._refuse_unfit(name, estimated_bytes)

    def _refuse_unfit(self, name: str, needed: int) -> None:
        """The one fit rule, for the server's check before any GPU work and for the worker's load."""
        if self.packs_placed and needed > self.on_demand_room():
            raise fit_error(name, needed, self.on_demand_room(), self.budget_bytes)

    def _placement(self) -> str:
        """Where weights go in this process. A process without CUDA where CUDA was asked for (an emulated
        ZeroGPU worker) computes on the CPU; a real ZeroGPU worker and the patched main process have CUDA."""
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            return "cpu"
        return self.device

    def acquire(self, entry: CatalogModel, path: Path) -> tuple[LoadedModel, float]:
        """The model ready on the device, and the seconds spent loading it (0 when already resident)."""
        with self._lock:
            self._sweep()
            loaded = self._models.get(entry.name)
            if loaded is not None:
                self._models.move_to_end(entry.name)
                loaded.in_use += 1
                return loaded, 0.0
            # Loading holds the lock so two requests for one cold model load it once.
            started = time.monotonic()
            # Weights are read on the CPU and then moved, so the same code serves CPU, GPU and ZeroGPU.
            model = self.loader.load_model(path, self.dtype)
            size = model_bytes(model)
            self._make_room(entry.name, size)
            device = self._placement()
            loaded = LoadedModel(
                entry=entry,
                model=model.to(device).eval(),
                tokenizer=self.tokenizer(path),
                device=device,
                size_bytes=size,
                expires_at=math.inf,
                in_use=1,
            )
            self._models[entry.name] = loaded
            return loaded, time.monotonic() - started

    def release(self, loaded: LoadedModel, keep_alive: float | None, pinned: bool = False) -> None:
        """Ends one use; keep_alive (seconds, inf = forever, None = default) sets when it unloads."""
        from ..core.options import DEFAULT_KEEP_ALIVE_SECONDS

        with self._lock:
            loaded.in_use -= 1
            if loaded.packed:
                return  # resident for good: keep_alive cannot unload it
            if keep_alive is None:
                keep_alive = math.inf if pinned else DEFAULT_KEEP_ALIVE_SECONDS
            loaded.expires_at = time.time() + keep_alive
            if keep_alive == 0 and loaded.in_use == 0:
                self._unload(loaded.entry.name)

    def place(self, entry: CatalogModel, path: Path) -> None:
        """Loads a model that stays resident (the catalog's defaults at start-up); on ZeroGPU it is packed."""
        loaded, _ = self.acquire(entry, path)
        self.release(loaded, math.inf)
        loaded.packed = self.packs_placed

    def is_packed(self, name: str) -> bool:
        with self._lock:
            loaded = self._models.get(name)
            return loaded is not None and loaded.packed

    def unload(self, name: str) -> bool:
        """False when the model is not loaded, in use, or packed (packed models cannot be unloaded)."""
        with self._lock:
            loaded = self._models.get(name)
            if loaded is None or loaded.in_use or loaded.packed:
                return False
            self._unload(name)
            return True

    def snapshot(self) -> list[ResidentModel]:
        with self._lock:
            self._sweep()
            return [
                ResidentModel(m.entry.name, m.size_bytes, m.device, m.expires_at, m.packed)
                for m in self._models.values()
            ]

    def sweep(self) -> None:
        with self._lock:
            self._sweep()

    def _sweep(self) -> None:
        now = time.time()
        for name in [n for n, m in self._models.items() if m.in_use == 0 and not m.packed and m.expires_at <= now]:
            self._unload(name)

    def _make_room(self, name: str, needed: int) -> None:
        """Evicts idle on-demand models, least recently used first, until `needed` bytes fit the budget.
        Beside packed models (which never leave) a model that cannot fit is refused, never loaded into an OOM."""
        self._refuse_unfit(name, needed)
        used = sum(m.size_bytes for m in self._models.values())
        for victim in [n for n, m in self._models.items() if m.in_use == 0 and not m.packed]:
            if used + needed <= self.budget_bytes:
                break
            used -= self._models[victim].size_bytes
            self._unload(victim)

    def _unload(self, name: str) -> None:
        self._models.pop(name, None)
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
