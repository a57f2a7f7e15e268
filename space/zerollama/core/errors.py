"""Errors in Ollama's shape: {"error": "..."} with the status Ollama uses."""

from __future__ import annotations

import re


class ApiError(Exception):
    """An error the HTTP layer answers as {"error": message} with `status`."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def model_not_found(name: str) -> ApiError:
    return ApiError(404, f"model '{name}' not found")


def model_not_pulled(name: str) -> ApiError:
    """Ollama's older wording, still used by the embed endpoints."""
    return ApiError(404, f'model "{name}" not found, try pulling it first')


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


_WAIT = re.compile(r"Try again in (?:(\d+) days?, )?(\d+):(\d{2}):(\d{2})")
# When ZeroGPU gives no wait time (run-count limit, Space pool, queue timeout) clients retry after this.
DEFAULT_QUOTA_RETRY_SECONDS = 600
DEFAULT_BUSY_RETRY_SECONDS = 30


def parse_retry_after(message: str) -> int | None:
    """Seconds from ZeroGPU's "Try again in H:MM:SS" (a timedelta's str, maybe with days)."""
    match = _WAIT.search(message)
    if not match:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return max(1, ((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def translate_gpu_error(title: str | None, message: str) -> ApiError:
    """Maps the `gr.Error` titles/messages `spaces` raises (zerogpu.md §4) to HTTP statuses."""
    text = f"{title or ''} {message}"
    # Checked first: a queue timeout of a caller without a token arrives titled "ZeroGPU quota exceeded".
    if "No GPU was available" in message:
        return ApiError(503, f"no GPU available right now: {message.strip()}", DEFAULT_BUSY_RETRY_SECONDS)
    if "quota exceeded" in text or "pending credits" in text or "reached its GPU limit" in text:
        retry = parse_retry_after(message) or DEFAULT_QUOTA_RETRY_SECONDS
        return ApiError(429, f"GPU quota exhausted: {message.strip()}", retry)
    if "illegal duration" in text or "larger than the maximum allowed" in text:
        return ApiError(400, f"requested GPU time is too long for this caller: {message.strip()}", None)
    if "queue timeout" in text or "No GPU was available" in text or "client error" in text:
        return ApiError(503, f"no GPU available right now: {message.strip()}", DEFAULT_BUSY_RETRY_SECONDS)
    if "GPU task aborted" in text:
        return ApiError(504, "the GPU task was aborted (it ran past its time or the worker died)", None)
    return ApiError(500, message.strip() or "GPU worker error", None)
