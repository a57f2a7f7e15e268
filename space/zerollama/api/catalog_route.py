"""`GET /api/zerollama/catalog`: the curated models with their measured speed, cost in COP and the caller's
quota (contract: docs/catalog-api.md).

Model facts come from the registry's ``statuses()`` (catalog entry, loaded, measured decode speed), prices
from the cost model (costs.py), the quota each caller spent through this server from the ledger
(quota.py) the generation routes record into.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response

from ..core.catalog import CatalogModel
from ..core.costs import CostSettings, endpoint_advice, estimated_tokens_per_second, per_1k_tokens
from ..core.quota import QuotaLedger, Traffic
from ..core.registry import ModelRegistry, ModelStatus
from .http import Route, json_response, router

CATALOG_PATH = "/api/zerollama/catalog"


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
    traffic = ledger.traffic()
    return {
        "currency": "COP",
        "usd_cop": settings.usd_cop,
        "usd_cop_date": settings.usd_cop_date,
        "tier": settings.tier.name,
        "hardware": settings.hardware,
        "quota": ledger.quota(headers, settings).as_dict(),
        "models": shown,
        "excluded": excluded,
        "traffic": {
            "replies": traffic.replies,
            "quota_seconds": round(traffic.quota_seconds, 1),
            "observed_hours": round(traffic.observed_seconds / 3600, 2),
        },
        "endpoint_advice": _endpoint_advice(settings, traffic, shown),
    }


def _endpoint_advice(settings: CostSettings, traffic: Traffic, shown: list[dict[str, Any]]) -> dict[str, Any] | None:
    """costs.endpoint_advice on the ledger's traffic; a typical reply of the shown models sizes a reply
    until the server has served one."""
    typical = [
        m["cost"]["quota_seconds_per_1k_tokens"] * m["cost"]["typical_reply_tokens"] / 1000 for m in shown if m["cost"]
    ]
    advice = endpoint_advice(
        settings,
        traffic.replies,
        traffic.quota_seconds,
        traffic.observed_seconds,
        sum(typical) / len(typical) if typical else None,
    )
    return None if advice is None else advice.as_dict()


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

    app.router.routes[0:0] = router([Route(CATALOG_PATH, ("GET",), zerollama_catalog)]).routes
    return ledger
