"""Every ZEROLLAMA_* variable, parsed once at start-up into typed settings that server.py passes down.

No other module reads these variables. Each field names its variable, its default and its meaning
(`variables()` lists them; the settings table in space/README.md is checked against that list). The cost
variables are read here too but parsed by the cost model, which checks them against costs.json.
Gradio's own (`PORT`, `GRADIO_SERVER_*`) and the Hub's (`HF_*`, `SPACE_HOST`) are theirs, not listed here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .core.costs import COST_VARIABLES, CostSettings, load_cost_settings


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as the README shows it
    meaning: str


# Each parser takes the variable's name (for its error) and its non-blank text.
def _text(name: str, text: str) -> str:
    return text


def _int(name: str, text: str) -> int:
    return int(text)


def _float(name: str, text: str) -> float:
    return float(text)


def _path(name: str, text: str) -> Path:
    return Path(text)


def _on_unless_off(name: str, text: str) -> bool:
    return text.lower() not in ("0", "false", "no")


def _positive_seconds(name: str, text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {text!r}")
    return value


def _flag(name: str, text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def _demo(name: str, text: str) -> str:
    value = text.lower()
    if value in ("1", "true", "yes", "tiny"):
        return "tiny"
    return "smollm2" if value == "smollm2" else ""


def _names(name: str, text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _variable(name: str, meaning: str, parse: Callable[[str, str], Any], shown: str | None = None) -> dict:
    """A field's metadata: its variable, what it means, how its text is parsed, its default as shown."""
    return {"name": name, "meaning": meaning, "parse": parse, "shown": shown}


def _from_env(cls: type, env: Mapping[str, str]) -> Any:
    """`cls` with each field read from its variable; an unset or blank variable keeps the default."""
    values = {}
    for item in fields(cls):
        name = item.metadata["name"]
        text = env.get(name, "").strip()
        if text:
            values[item.name] = item.metadata["parse"](name, text)
    return cls(**values)


@dataclass(frozen=True)
class HttpSettings:
    """What every entrance shares: the key, the body limit, slow-client timeouts, monitoring."""

    api_key: str = field(
        default="",
        metadata=_variable("ZEROLLAMA_API_KEY", "shared key required on every route", _text, "unset"),
    )
    max_body_bytes: int = field(
        default=16 * 1024 * 1024,
        metadata=_variable("ZEROLLAMA_MAX_BODY_BYTES", "larger bodies get 413, on every route", _int),
    )
    header_timeout_seconds: float = field(
        default=10.0,
        metadata=_variable(
            "ZEROLLAMA_HEADER_TIMEOUT_SECONDS", "request line and headers, from the first byte", _positive_seconds
        ),
    )
    body_timeout_seconds: float = field(
        default=60.0,
        metadata=_variable(
            "ZEROLLAMA_BODY_TIMEOUT_SECONDS", "the whole body, once the headers are in (else 408)", _positive_seconds
        ),
    )
    monitoring: bool = field(
        default=False, metadata=_variable("ZEROLLAMA_MONITORING", "Gradio's /monitoring dashboard", _flag, "unset")
    )


@dataclass(frozen=True)
class GpuSettings:
    """The GPU calls: the duration each requests, and how many run or wait at once."""

    min_seconds: int = field(
        default=5, metadata=_variable("ZEROLLAMA_MIN_GPU_SECONDS", "least GPU duration requested", _int)
    )
    max_seconds: int = field(
        default=120, metadata=_variable("ZEROLLAMA_MAX_GPU_SECONDS", "most GPU duration requested", _int)
    )
    cold_copy_gb_per_second: float = field(
        default=1.8,
        metadata=_variable(
            "ZEROLLAMA_COLD_COPY_GB_PER_SECOND",
            "assumed speed of a new worker's copy of the packs",
            _float,
        ),
    )
    max_concurrency: int | None = field(
        default=None,
        metadata=_variable("ZEROLLAMA_MAX_CONCURRENCY", "GPU calls at once", _int, "1"),
    )
    max_batch: int = field(
        default=8,
        metadata=_variable(
            "ZEROLLAMA_MAX_BATCH",
            "generations decoded together in one GPU call (same model, same caller on ZeroGPU)",
            _int,
        ),
    )
    batch_window_ms: float = field(
        default=10.0,
        metadata=_variable(
            "ZEROLLAMA_BATCH_WINDOW_MS",
            "how long a starting GPU call waits for requests to join it (0: start at once)",
            _float,
        ),
    )
    max_queue: int = field(default=32, metadata=_variable("ZEROLLAMA_MAX_QUEUE", "requests waiting before 503", _int))
    cuda_graphs: bool = field(
        default=True,
        metadata=_variable(
            "ZEROLLAMA_CUDA_GRAPHS", "on a GPU, decode steps replayed as CUDA graphs (0: eager steps)", _on_unless_off
        ),
    )
    static_cache_gb: float = field(
        default=4.0,
        metadata=_variable(
            "ZEROLLAMA_STATIC_CACHE_GB",
            "KV cache the CUDA graphs of a worker hold together (least recently used dropped first)",
            _float,
        ),
    )


@dataclass(frozen=True)
class GenerationLimits:
    default_num_ctx: int = field(
        default=8192,
        metadata=_variable("ZEROLLAMA_DEFAULT_NUM_CTX", "context when a request sets no num_ctx", _int),
    )
    max_predict: int = field(default=1024, metadata=_variable("ZEROLLAMA_MAX_PREDICT", "cap on generated tokens", _int))


@dataclass(frozen=True)
class ModelSettings:
    """Where the weights come from and which go resident at start-up."""

    model_dir: Path | None = field(
        default=None,
        metadata=_variable("ZEROLLAMA_MODEL_DIR", "one checkpoint folder per catalog model", _path, "unset"),
    )
    demo: str = field(
        default="", metadata=_variable("ZEROLLAMA_DEMO", "stand-in models: 1 (tiny) or smollm2", _demo, "unset")
    )
    preload: bool = field(
        default=True,
        metadata=_variable("ZEROLLAMA_PRELOAD", "place the default models at start-up", _on_unless_off, "1"),
    )
    packed_models: tuple[str, ...] = field(
        default=(),
        metadata=_variable(
            "ZEROLLAMA_PACKED_MODELS", "models placed at start-up (comma-separated)", _names, "the catalog's defaults"
        ),
    )
    allow_xlarge: bool = field(
        default=False, metadata=_variable("ZEROLLAMA_ALLOW_XLARGE", "pack past the xlarge threshold", _flag, "unset")
    )
    memory_budget_gb: float | None = field(
        default=None,
        metadata=_variable(
            "ZEROLLAMA_MEMORY_BUDGET_GB",
            "resident models' budget",
            _float,
            "44 on ZeroGPU, 85 % of a local GPU, 16 on CPU",
        ),
    )


PARTS = (HttpSettings, GpuSettings, GenerationLimits, ModelSettings)


@dataclass(frozen=True)
class Settings:
    http: HttpSettings = field(default_factory=HttpSettings)
    gpu: GpuSettings = field(default_factory=GpuSettings)
    limits: GenerationLimits = field(default_factory=GenerationLimits)
    models: ModelSettings = field(default_factory=ModelSettings)
    costs: CostSettings = field(default_factory=lambda: load_cost_settings({}))

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        http, gpu, limits, models = (_from_env(part, env) for part in PARTS)
        return cls(http, gpu, limits, models, load_cost_settings(env))


def variables() -> list[Variable]:
    """Every variable the server reads, with its default and meaning."""
    listed = [
        Variable(item.metadata["name"], item.metadata["shown"] or str(item.default), item.metadata["meaning"])
        for part in PARTS
        for item in fields(part)
    ]
    return listed + [Variable(name, "see costs.json", "cost model") for name in COST_VARIABLES]
