"""Ollama `options` and `keep_alive`: parsed once into typed settings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..settings import GenerationLimits
from .catalog import CatalogModel
from .errors import bad_request

# Ollama's defaults (api/types.go DefaultOptions) before the model's own parameters.
SERVER_DEFAULTS: dict[str, Any] = {
    "temperature": 0.8,
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
    "seed": -1,
    "num_predict": -1,
}
INT_OPTIONS = {"top_k", "seed", "num_predict", "num_ctx", "repeat_last_n", "num_keep", "num_batch", "num_thread"}
FLOAT_OPTIONS = {"temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty"}
FLOAT_OPTIONS |= {"frequency_penalty"}
DEFAULT_LIMITS = GenerationLimits()


@dataclass(frozen=True)
class GenerationOptions:
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    seed: int
    max_new_tokens: int
    num_ctx: int
    stop: tuple[str, ...]


INT64 = 2**63  # Ollama's integer options are Go int64s (seeds included: torch takes any of them)
# Ranges the sampler needs (a value outside one fails inside generate(), on the GPU, after quota is spent).
FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {  # key: (low, high, low excluded)
    "temperature": (0.0, math.inf, False),
    "top_p": (0.0, 1.0, False),
    "min_p": (0.0, 1.0, False),
    "typical_p": (0.0, 1.0, False),
    "repeat_penalty": (0.0, math.inf, True),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    """Whether a JSON number is a finite float (a huge integer is not: it has no float)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _typed(key: str, value: Any) -> Any:
    if key in INT_OPTIONS:
        if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
            raise bad_request(f'option "{key}" must be of type integer')
        if not -INT64 <= value < INT64:
            raise bad_request(f'option "{key}" must be a 64-bit integer (between -2^63 and 2^63-1)')
        return int(value)
    if key in FLOAT_OPTIONS:
        if not _is_number(value) or not _finite(value):
            raise bad_request(f'option "{key}" must be of type number')
        return float(value)
    return value


def parse_options(
    raw: Any,
    model: CatalogModel,
    limits: GenerationLimits = DEFAULT_LIMITS,
) -> GenerationOptions:
    """Merges server defaults, the catalog's default_options and the request's options.

    Unknown keys are ignored (the official clients send keys Ollama no longer uses); wrong types are 400.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("options must be an object")
    merged = {**SERVER_DEFAULTS, **model.default_options}
    for key, value in raw.items():
        if value is not None:
            merged[key] = _typed(key, value)
    stop = merged.get("stop")
    if stop is None:
        stop = []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise bad_request('option "stop" must be a list of strings')
    limit = model.context_length
    num_ctx = merged.get("num_ctx") or min(limit, limits.default_num_ctx)
    if num_ctx > limit:
        raise bad_request(f"num_ctx {num_ctx} exceeds the context length of {model.name} ({limit})")
    if num_ctx < 1:
        raise bad_request("num_ctx must be positive")
    # Ollama's -1 means "until the context is full"; on a metered GPU we cap it (limits.max_predict).
    cap = limits.max_predict
    num_predict = merged["num_predict"]
    max_new = cap if num_predict < 0 else min(num_predict, cap)
    _check_ranges(merged)
    return GenerationOptions(
        temperature=merged["temperature"],
        top_p=merged["top_p"],
        top_k=merged["top_k"],
        min_p=merged["min_p"],
        repeat_penalty=merged["repeat_penalty"],
        seed=merged["seed"],
        max_new_tokens=max_new,
        num_ctx=num_ctx,
        stop=tuple(s for s in stop if s),
    )


def _check_ranges(merged: dict[str, Any]) -> None:
    for key, (low, high, low_excluded) in FLOAT_RANGES.items():
        value = merged.get(key)
        if value is None:
            continue
        if value < low or (low_excluded and value == low) or value > high:
            if low_excluded:
                raise bad_request(f'option "{key}" must be greater than {low:g}')
            if math.isinf(high):
                raise bad_request(f'option "{key}" must not be negative')
            raise bad_request(f'option "{key}" must be between {low:g} and {high:g}')


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
DEFAULT_KEEP_ALIVE_SECONDS = 300.0
MAX_KEEP_ALIVE_SECONDS = (2**63 - 1) / 1e9  # Go's longest time.Duration (about 292 years), as Ollama parses it


def parse_keep_alive(raw: Any) -> float | None:
    """Seconds to keep the model loaded; None = not given; math.inf = forever (negative values)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise bad_request("keep_alive must be a number of seconds or a duration string")
    if isinstance(raw, int | float):
        seconds = float(raw) if _finite(raw) else (math.inf if raw > 0 else -math.inf)
    elif isinstance(raw, str):
        text = raw.strip()
        negative = text.startswith("-")
        text = text.lstrip("+-")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise bad_request(f'time: invalid duration "{raw}"') from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
        seconds = -seconds if negative else seconds
    else:
        raise bad_request("keep_alive must be a number of seconds or a duration string")
    if seconds < 0:
        return math.inf
    if not math.isfinite(seconds):
        raise bad_request("keep_alive must be finite")
    if seconds > MAX_KEEP_ALIVE_SECONDS:
        raise bad_request(f"keep_alive is too long: at most {MAX_KEEP_ALIVE_SECONDS:.0f} seconds (about 292 years)")
    return seconds
