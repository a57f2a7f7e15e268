"""`GET /api/zerollama/catalog`: the curated models with their measured speed, cost in COP and the caller's
quota (contract: docs/catalog-api.md).

Model facts come from the registry's ``statuses()`` (catalog entry, loaded, measured decode speed), prices
from the cost model (costs.py). The one thing kept here is the quota each caller spent through this
server, which the generation routes report with ``QuotaLedger.record``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from .catalog import CatalogModel
from .costs import CostSettings, estimated_tokens_per_second, per_1k_tokens
from .http import guarded, json_response
from .registry import ModelRegistry, ModelStatus

CATALOG_PATH = "/api/zerollama/catalog"
QUOTA_WINDOW_SECONDS = 24 * 3600  # ZeroGPU quota resets 24 h after first use


def caller_key(headers: Mapping[str, str]) -> str | None:
    """A stable, non-secret key for the caller whose quota ZeroGPU charges; None when anonymous.

    Bearer tokens are hashed (the token itself is never kept); in the browser, HF's X-IP-Token JWT names
    the signed-in user in its payload.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for header in ("x-hf-authorization", "authorization"):
        value = lowered.get(header, "")
        if value.lower().startswith("bearer ") and value[7:].strip():
            return "token:" + hashlib.sha256(value[7:].strip().encode()).hexdigest()[:16]
    user = _jwt_user(lowered.get("x-ip-token", ""))
    return f"user:{user}" if user else None


def _jwt_user(token: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    user = payload.get("user") if isinstance(payload, dict) else None
    if isinstance(user, dict):
        user = user.get("name") or user.get("id")
    return str(user) if user else None


@dataclass(frozen=True)
class Quota:
    daily_seconds: float
    used_seconds: float | None
    left_seconds: float | None

    def as_dict(self) -> dict[str, float | None]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "daily_seconds": rounded(self.daily_seconds),
            "used_seconds": rounded(self.used_seconds),
            "left_seconds": rounded(self.left_seconds),
        }


@dataclass
class QuotaLedger:
    """Quota seconds each caller spent through this server in the last 24 h.

    ZeroGPU does not tell a Space how much quota a caller has left, only refuses a call that asks for
    more; this ledger is therefore a lower bound on what the caller used (they may spend quota on other Spaces).
    """

    clock: Callable[[], float] = time.time
    _usage: dict[str, deque[tuple[float, float]]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, headers: Mapping[str, str], quota_seconds: float) -> None:
        key = caller_key(headers)
        if key is not None and quota_seconds > 0:
            with self._lock:
                self._usage[key].append((self.clock(), quota_seconds))

    def quota_used(self, headers: Mapping[str, str]) -> float | None:
        """Quota seconds this caller spent here in the last 24 h; None for an anonymous caller."""
        key = caller_key(headers)
        if key is None:
            return None
        with self._lock:
            entries = self._usage.get(key)
            if not entries:
                return 0.0
            cutoff = self.clock() - QUOTA_WINDOW_SECONDS
            while entries and entries[0][0] < cutoff:
                entries.popleft()
            return sum(seconds for _, seconds in entries)

    def quota(self, headers: Mapping[str, str], settings: CostSettings) -> Quota:
        daily = settings.tier.daily_quota_seconds
        if not settings.on_zerogpu:
            return Quota(daily_seconds=0.0, used_seconds=None, left_seconds=None)
        used = self.quota_used(headers)
        return Quota(daily, used, None if used is None else max(0.0, daily - used))


def too_large_reason(model: CatalogModel, settings: CostSettings) -> str | None:
    """Why a curated model cannot run on the configured hardware, if it cannot."""
    flavor = settings.flavor
    if flavor.gpus and model.bf16_bytes > flavor.gpu_memory_gb * 1e9:
        size_gb = model.bf16_bytes / 1e9
        return (
            f"Too large for {flavor.label}: {size_gb:.1f} GB of bf16 weights, {flavor.gpu_memory_gb:g} GB of GPU memory"
        )
    return None


def model_cost(model: CatalogModel, measured: float | None, settings: CostSettings) -> dict[str, Any] | None:
    if measured:
        return per_1k_tokens(measured, settings, basis="measured").as_dict()
    try:
        estimate = estimated_tokens_per_second(model.bf16_bytes, settings)
    except ValueError:
        return None  # no GPU bandwidth figure for this hardware: nothing honest to estimate
    return per_1k_tokens(estimate, settings, basis="estimated").as_dict()


def build_catalog(
    statuses: Iterable[ModelStatus],
    settings: CostSettings,
    ledger: QuotaLedger,
    headers: Mapping[str, str],
) -> dict[str, Any]:
    """The catalog document of docs/catalog-api.md."""
    shown, excluded = [], []
    for status in sorted(statuses, key=lambda s: s.entry.display_order):
        model = status.entry
        reason = model.excluded_reason if not model.curated else too_large_reason(model, settings)
        if not model.curated or reason:
            excluded.append({"name": model.name, "reason": reason or "Not curated"})
            continue
        speed = status.tokens_per_second
        shown.append(
            {
                "name": model.name,
                "aliases": list(model.aliases),
                "purpose": model.purpose,
                "recommended_use": model.recommended_use,
                "parameter_size": model.parameter_size,
                "size_bytes": model.bf16_bytes,
                "context_length": model.context_length,
                "capabilities": list(model.capabilities),
                "display_order": model.display_order,
                "loaded": status.loaded,
                "tokens_per_second": None if speed is None else round(speed, 1),
                "cost": model_cost(model, speed, settings),
            }
        )
    return {
        "currency": "COP",
        "usd_cop": settings.usd_cop,
        "usd_cop_date": settings.usd_cop_date,
        "tier": settings.tier.name,
        "hardware": settings.hardware,
        "quota": ledger.quota(headers, settings).as_dict(),
        "models": shown,
        "excluded": excluded,
    }


def register(
    app: FastAPI,
    registry: ModelRegistry,
    costs: CostSettings,
    ledger: QuotaLedger | None = None,
) -> QuotaLedger:
    """Adds the route in front of Gradio's, behind the server's shared-key check. Pass the `ledger` the
    generation routes record into (a fresh one is made otherwise) and get it back for the page."""
    ledger = ledger if ledger is not None else QuotaLedger()

    async def zerollama_catalog(request: Request) -> Response:
        return json_response(build_catalog(registry.statuses(), costs, ledger, request.headers))

    router = APIRouter()
    router.add_api_route(CATALOG_PATH, guarded(zerollama_catalog), methods=["GET"], include_in_schema=False)
    app.router.routes[0:0] = router.routes
    return ledger
