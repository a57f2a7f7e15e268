"""The quota each caller spent through this server in the last 24 h (ZeroGPU tells a Space nothing of it)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .costs import CostSettings

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


@dataclass(frozen=True)
class Traffic:
    """Every reply the server recorded in the last 24 h (all callers, anonymous ones included)."""

    replies: int
    quota_seconds: float
    observed_seconds: float  # how long the ledger has been counting, at most the 24 h window


@dataclass
class QuotaLedger:
    """Quota seconds each caller spent through this server in the last 24 h.

    ZeroGPU does not tell a Space how much quota a caller has left, only refuses a call that asks for
    more; this ledger is therefore a lower bound on what the caller used (they may spend quota on other Spaces).
    """

    clock: Callable[[], float] = time.time
    _usage: dict[str, deque[tuple[float, float]]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _all: deque[tuple[float, float]] = field(default_factory=deque)
    _started: float | None = None

    def __post_init__(self) -> None:
        if self._started is None:
            self._started = self.clock()

    def record(self, headers: Mapping[str, str], quota_seconds: float) -> None:
        if quota_seconds <= 0:
            return
        key = caller_key(headers)
        with self._lock:
            now = self.clock()
            self._all.append((now, quota_seconds))
            if key is not None:
                self._usage[key].append((now, quota_seconds))

    def traffic(self) -> Traffic:
        """What every caller spent here in the last 24 h: the measured traffic the cost advice rests on."""
        with self._lock:
            now = self.clock()
            while self._all and self._all[0][0] < now - QUOTA_WINDOW_SECONDS:
                self._all.popleft()
            spent = sum(seconds for _, seconds in self._all)
            observed = min(QUOTA_WINDOW_SECONDS, now - (self._started or now))
            return Traffic(len(self._all), spent, observed)

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
