"""`GET /api/zerollama/diagnostics`: what a first real deploy needs to confirm, for the calling request.

Answers the questions the emulation cannot: did the platform hand this request an `X-IP-Token` (so GPU
time is billed to the caller, not to the Space's small pool; only whether it is there, never its value),
which node and `duration_factor` `spaces` picked, what is packed and how long a new worker's copy of it
took, and the speed each model really reached. Same shared-key guard as the API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request, Response

from ..core.gpu_budget import GpuBudget
from ..core.registry import ModelRegistry
from ..gpu.runner import ON_ZEROGPU, zerogpu_node
from .http import Route, json_response, router

DIAGNOSTICS_PATH = "/api/zerollama/diagnostics"


def spaces_version() -> str | None:
    try:
        return version("spaces")
    except PackageNotFoundError:
        return None


def default_gpu_size() -> str | None:
    if not ON_ZEROGPU:
        return None
    from spaces.zero import default_gpu_size as size

    return size() or "large"


def diagnostics(registry: ModelRegistry, budget: GpuBudget, headers: Any) -> dict[str, Any]:
    node = zerogpu_node()
    packed_bytes = registry.runtime.packed_bytes()
    return {
        "zerogpu": ON_ZEROGPU,
        "spaces_version": spaces_version(),
        "x_ip_token_present": "x-ip-token" in {key.lower() for key in headers.keys()},
        "gpu": {
            "model": node.gpu_model if node else None,
            "duration_factor": node.duration_factor if node else None,
            "xlarge_threshold_bytes": node.xlarge_threshold if node else None,
            "default_size": default_gpu_size(),
        },
        "durations": {"min_seconds": budget.min_seconds, "max_seconds": budget.max_seconds},
        "packed": {"bytes": packed_bytes, "models": registry.runtime.packed_names()},
        "cold_start": {
            "estimated_seconds": round(budget.cold_start_seconds(packed_bytes), 3),
            "last_measured_seconds": registry.last_cold_start_seconds,
        },
        "decode": {
            "last_step": registry.last_decode_step,
            "last_capture_seconds": registry.last_capture_seconds,
        },
        "models": [
            {"name": status.entry.name, "loaded": status.loaded, "tokens_per_second": status.tokens_per_second}
            for status in registry.statuses()
        ],
    }


def build_router(registry: ModelRegistry, budget: GpuBudget) -> APIRouter:
    async def zerollama_diagnostics(request: Request) -> Response:
        return json_response(diagnostics(registry, budget, request.headers))

    return router([Route(DIAGNOSTICS_PATH, ("GET",), zerollama_diagnostics)])
