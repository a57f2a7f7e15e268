"""Models in memory: loading from disk, residency on the device (LRU within a budget, keep_alive).

One ModelRuntime lives in each process that runs generations: the server process off ZeroGPU, and each
ZeroGPU worker (a fork of the server process: it starts with whatever the server placed on `cuda` before
launch, and its later changes stay in the worker). Snapshots of what is resident travel back with every
reply so the server can answer /api/ps.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from .catalog import CatalogModel


@dataclass(frozen=True)
class ResidentModel:
    """A picklable view of one loaded model (what /api/ps shows)."""

    name: str
    size_bytes: int
    device: str
    expires_at: float  # unix seconds; math.inf = never


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


class ModelRuntime:
    def __init__(
        self, device: str, dtype: torch.dtype, budget_bytes: int, loader: TransformersLoader | None = None
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.budget_bytes = budget_bytes
        self.loader = loader or TransformersLoader()
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._tokenizers: dict[Path, Any] = {}
        self._lock = threading.RLock()

    def tokenizer(self, path: Path) -> Any:
        """The tokenizer of the checkpoint at `path` (cheap; the server uses it before any GPU work)."""
        with self._lock:
            if path not in self._tokenizers:
                self._tokenizers[path] = self.loader.load_tokenizer(path)
            return self._tokenizers[path]

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
            self._make_room(size)
            loaded = LoadedModel(
                entry=entry,
                model=model.to(self.device).eval(),
                tokenizer=self.tokenizer(path),
                device=self.device,
                size_bytes=size,
                expires_at=math.inf,
                in_use=1,
            )
            self._models[entry.name] = loaded
            return loaded, time.monotonic() - started

    def release(self, loaded: LoadedModel, keep_alive: float | None, pinned: bool = False) -> None:
        """Ends one use; keep_alive (seconds, inf = forever, None = default) sets when it unloads."""
        from .options import DEFAULT_KEEP_ALIVE_SECONDS

        with self._lock:
            loaded.in_use -= 1
            if keep_alive is None:
                keep_alive = math.inf if pinned else DEFAULT_KEEP_ALIVE_SECONDS
            loaded.expires_at = time.time() + keep_alive
            if keep_alive == 0 and loaded.in_use == 0:
                self._unload(loaded.entry.name)

    def place(self, entry: CatalogModel, path: Path) -> None:
        """Loads a model that stays resident (the catalog's defaults at start-up)."""
        loaded, _ = self.acquire(entry, path)
        self.release(loaded, math.inf)

    def unload(self, name: str) -> bool:
        with self._lock:
            loaded = self._models.get(name)
            if loaded is None or loaded.in_use:
                return False
            self._unload(name)
            return True

    def snapshot(self) -> list[ResidentModel]:
        with self._lock:
            self._sweep()
            return [ResidentModel(m.entry.name, m.size_bytes, m.device, m.expires_at) for m in self._models.values()]

    def sweep(self) -> None:
        with self._lock:
            self._sweep()

    def _sweep(self) -> None:
        now = time.time()
        for name in [n for n, m in self._models.items() if m.in_use == 0 and m.expires_at <= now]:
            self._unload(name)

    def _make_room(self, needed: int) -> None:
        """Evicts idle models, least recently used first, until `needed` bytes fit the budget."""
        used = sum(m.size_bytes for m in self._models.values())
        for name in [n for n, m in self._models.items() if m.in_use == 0]:
            if used + needed <= self.budget_bytes:
                break
            used -= self._models[name].size_bytes
            self._unload(name)

    def _unload(self, name: str) -> None:
        self._models.pop(name, None)
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
