"""How many GPU seconds to ask ZeroGPU for, and how many it will grant.

ZeroGPU kills a call that outlives its grant, and checks the caller's quota against the grant before it
starts, so the request must cover everything the worker really does inside it:
- a new worker (a fork; every concurrent call and every grant on another GPU gets one) first copies all
  packed weights to the GPU and starts CUDA, inside the grant. The server cannot know whether the next
  worker is warm, so on ZeroGPU the copy is always counted: a short request kills the reply, a long one
  only lowers queue priority (quota is charged for the time used);
- loading a model that is not packed (a fork starts from the packed set, whatever earlier workers loaded);
- prefill and decode at the measured (or assumed) rates.
`spaces` multiplies the requested seconds by the node's `duration_factor` (1.5 on RTX Pro 6000, 1.0 on
H200; `spaces/zero/configs.json`) unless the call is `xlarge`; the request is divided by it so the grant,
not the request, covers the work, and the worker's deadline is computed from the grant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings import GpuSettings

SAFETY_FACTOR = 1.25
FIXED_OVERHEAD_SECONDS = 2.0  # scheduling, /allow, pickling, the reply's last events
LOAD_BYTES_PER_SECOND = 2e9  # disk/CPU -> GPU copy of weights not yet resident
CUDA_START_SECONDS = 3.0  # CUDA context in a new worker


@dataclass(frozen=True)
class Durations:
    """What to request (`spaces.GPU(duration=...)`) and what the platform will then grant."""

    requested_seconds: int
    granted_seconds: float  # inf off ZeroGPU: nothing kills the call there


@dataclass(frozen=True)
class GpuBudget:
    on_zerogpu: bool
    duration_factor: float = 1.0
    min_seconds: int = GpuSettings.min_seconds
    max_seconds: int = GpuSettings.max_seconds
    # 36 GB of packs measured at 7-20 s on ZeroGPU
    cold_copy_bytes_per_second: float = GpuSettings.cold_copy_gb_per_second * 1e9

    def cold_start_seconds(self, packed_bytes: int) -> float:
        """The worst case a new worker spends before the function runs."""
        if not self.on_zerogpu:
            return 0.0
        return CUDA_START_SECONDS + packed_bytes / self.cold_copy_bytes_per_second

    def durations(self, packed_bytes: int, load_bytes: int, work_seconds: float) -> Durations:
        load = load_bytes / LOAD_BYTES_PER_SECOND + 2 if load_bytes else 0.0
        needed = (self.cold_start_seconds(packed_bytes) + load + work_seconds) * SAFETY_FACTOR
        needed += FIXED_OVERHEAD_SECONDS
        requested = max(self.min_seconds, min(math.ceil(needed / self.duration_factor), self.max_seconds))
        if not self.on_zerogpu:
            return Durations(requested, math.inf)
        return Durations(requested, granted_seconds(requested, self.duration_factor))


def granted_seconds(requested: int, duration_factor: float) -> float:
    """What `spaces` sends to /schedule for `requested` seconds (client.get_duration_seconds, rounded)."""
    return float(round(requested * duration_factor))
