"""The server's view of its models: catalog + weights on disk + what is resident + measured speed.

`ModelRegistry.statuses()` is the read-only view other modules (the catalog route, the page) use.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from ..gpu.generation import Finished
from ..gpu.runtime import ModelRuntime, ResidentModel
from ..store import ModelStore, StoredModel
from .catalog import Catalog, CatalogModel
from .errors import model_not_found

# Rendered with and without this tool, a chat template shows whether it puts tools in the prompt at all.
PROBE_TOOL = {
    "type": "function",
    "function": {"name": "probe", "description": "", "parameters": {"type": "object", "properties": {}}},
}

# Assumed before the first measurement, to size the first GPU requests (decode tokens/s per 1 GB of bf16).
ASSUMED_DECODE_TOKENS_PER_S_PER_GB = 300.0
ASSUMED_PREFILL_TOKENS_PER_S = 2000.0


@dataclass
class Speed:
    decode_tokens_per_second: float | None = None
    prefill_tokens_per_second: float | None = None
    replies: int = 0

    def record(self, finished: Finished) -> None:
        def blend(old: float | None, new: float) -> float:
            return new if old is None else 0.7 * old + 0.3 * new

        if finished.eval_count > 1 and finished.eval_duration > 0:
            rate = finished.eval_count / (finished.eval_duration / 1e9)
            self.decode_tokens_per_second = blend(self.decode_tokens_per_second, rate)
        if finished.prompt_eval_count > 0 and finished.prompt_eval_duration > 0:
            rate = finished.prompt_eval_count / (finished.prompt_eval_duration / 1e9)
            self.prefill_tokens_per_second = blend(self.prefill_tokens_per_second, rate)
        self.replies += 1


@dataclass(frozen=True)
class ModelStatus:
    """One catalog model as the server sees it now."""

    entry: CatalogModel
    downloaded: bool
    loaded: bool
    tokens_per_second: float | None  # measured decode speed on this server; None before any reply
    expires_at: float | None  # unix seconds when it unloads; inf = stays; None = not loaded


class ModelRegistry:
    def __init__(self, catalog: Catalog, store: ModelStore, runtime: ModelRuntime, shares_runtime: bool) -> None:
        self.catalog = catalog
        self.store = store
        self.runtime = runtime
        # Off ZeroGPU the generations run on this process's runtime; on ZeroGPU in workers, which report back.
        self.shares_runtime = shares_runtime
        self._speeds: dict[str, Speed] = {}
        self._reported: list[ResidentModel] = []
        self.last_cold_start_seconds: float | None = None  # measured in the last new ZeroGPU worker
        self.last_decode_step: str | None = None  # what ran the last generation's steps (eager, cuda-graph)
        self.last_capture_seconds: float | None = None  # the last CUDA-graph capture a reply reported
        # Weights of packed models as they were at launch: served from the pack even if their files are pruned.
        self._packed_weights: dict[str, StoredModel] = {}
        self._capabilities: dict[Path, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str) -> tuple[CatalogModel, StoredModel] | None:
        """The catalog entry and its weights; None when the name is unknown or not pulled yet."""
        entry = self.catalog.find(name) if name else None
        stored = self.stored(entry) if entry else None
        return None if entry is None or stored is None else (entry, stored)

    def find(self, name: str, not_found=model_not_found) -> tuple[CatalogModel, StoredModel]:
        """The catalog entry and its weights, or 404 (unknown, or known but not pulled yet)."""
        found = self.lookup(name)
        if found is None:
            raise not_found(name)
        return found

    def stored(self, entry: CatalogModel) -> StoredModel | None:
        """The model's weights: on disk, or in the pack for a packed model whose files were pruned."""
        return self.store.find(entry) or self._packed_weights.get(entry.name)

    def remember_packed(self, entry: CatalogModel, stored: StoredModel) -> None:
        with self._lock:
            self._packed_weights[entry.name] = stored

    def capabilities(self, entry: CatalogModel, stored: StoredModel) -> tuple[str, ...]:
        """What the served weights can do, as /api/tags and /api/show advertise it and requests are checked:
        the catalog's capabilities, less `tools` when the chat template drops tools (the SmolLM2 demo's)."""
        with self._lock:
            known = self._capabilities.get(stored.path)
        if known is None:
            tokenizer = self.runtime.tokenizer(stored.path)
            dropped = set() if template_takes_tools(tokenizer) else {"tools"}
            known = ("completion", *[c for c in entry.capabilities if c != "completion" and c not in dropped])
            with self._lock:
                self._capabilities[stored.path] = known
        return known

    def record(self, entry: CatalogModel, finished: Finished) -> None:
        with self._lock:
            self._speeds.setdefault(entry.name, Speed()).record(finished)
            self._reported = list(finished.resident)
            if finished.cold_start_seconds > 0:
                self.last_cold_start_seconds = finished.cold_start_seconds
            if finished.decode_step:
                self.last_decode_step = finished.decode_step
            if finished.capture_seconds > 0:
                self.last_capture_seconds = finished.capture_seconds

    def adopt(self, resident: list[ResidentModel]) -> None:
        """What the GPU workers start with (on ZeroGPU: whatever was placed on the GPU before launch)."""
        with self._lock:
            self._reported = list(resident)

    def speed(self, entry: CatalogModel) -> Speed:
        with self._lock:
            return self._speeds.get(entry.name, Speed())

    def decode_rate(self, entry: CatalogModel) -> float:
        measured = self.speed(entry).decode_tokens_per_second
        return measured or ASSUMED_DECODE_TOKENS_PER_S_PER_GB / max(entry.bf16_bytes / 1e9, 0.1)

    def prefill_rate(self, entry: CatalogModel) -> float:
        return self.speed(entry).prefill_tokens_per_second or ASSUMED_PREFILL_TOKENS_PER_S

    def resident(self) -> list[ResidentModel]:
        if self.shares_runtime:
            return self.runtime.snapshot()
        now = time.time()
        with self._lock:
            return [r for r in self._reported if r.expires_at > now]

    def is_resident(self, entry: CatalogModel) -> bool:
        return any(r.name == entry.name for r in self.resident())

    def surely_resident(self, entry: CatalogModel) -> bool:
        """Resident in whichever process runs the next job. On ZeroGPU that is only true of packed models:
        the next call may get a new worker, which starts from the packed set, whatever the last one loaded."""
        if self.shares_runtime:
            return self.is_resident(entry)
        return self.runtime.is_packed(entry.name)

    def statuses(self) -> list[ModelStatus]:
        resident = {r.name: r for r in self.resident()}
        result = []
        for entry in self.catalog.models:
            loaded = resident.get(entry.name)
            result.append(
                ModelStatus(
                    entry=entry,
                    downloaded=self.stored(entry) is not None,
                    loaded=loaded is not None,
                    tokens_per_second=self.speed(entry).decode_tokens_per_second,
                    expires_at=loaded.expires_at if loaded else None,
                )
            )
        return result


DISPLAY_HORIZON_SECONDS = 10 * 365 * 86400


def expiry_for_display(expires_at: float) -> float:
    """Ollama shows far-future expiry for models that never unload; anything beyond ten years (forever
    included) shows as ten years from now, so every expiry has a date (/api/ps never fails on one)."""
    now = time.time()
    return now + DISPLAY_HORIZON_SECONDS if math.isnan(expires_at) else min(expires_at, now + DISPLAY_HORIZON_SECONDS)


def template_takes_tools(tokenizer: Any) -> bool:
    """Whether the chat template puts offered tools into the prompt (some templates silently ignore them)."""
    messages = [{"role": "user", "content": "hi"}]

    def render(tools: list[dict] | None) -> str:
        return tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False)

    try:
        return render([PROBE_TOOL]) != render(None)
    except (TemplateError, ValueError):  # no chat template, or one that refuses this conversation
        return False
