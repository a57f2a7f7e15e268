"""The cost model: what a reply or 1,000 tokens cost, in USD and COP.

Data (prices, quotas, the exchange rate and their sources) lives in ``space/costs.json``; this module is
only arithmetic, so the server, the page and the tests agree on every figure. No heavy imports.

On ZeroGPU a reply is paid in daily quota seconds. Money is only billed once the quota is spent, and only
for tiers that can buy credits (PRO/Team/Enterprise, $1 per 10 min): a reply's ``cost_usd`` is therefore
its price at that credit rate ("what it costs once the quota is spent"), and 0 for tiers that cannot buy
credits (their over-quota calls are refused instead). On dedicated hardware (the Docker runtime) the Space
is billed per hour whether busy or not; a reply's cost is its share of that hour while it runs.

A month of use is projected from these figures by the validate report (src/validate/cost.ts), its one home.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

COSTS_FILE = Path(__file__).resolve().parents[2] / "costs.json"
ZEROGPU_FLAVOR = "zero-a10g"

TIER_VARIABLE = "ZEROLLAMA_TIER"
USD_COP_VARIABLE = "ZEROLLAMA_USD_COP"
HARDWARE_VARIABLE = "ZEROLLAMA_HARDWARE"
GPU_SIZE_VARIABLE = "ZEROLLAMA_GPU_SIZE"
COST_VARIABLES = (TIER_VARIABLE, USD_COP_VARIABLE, HARDWARE_VARIABLE, GPU_SIZE_VARIABLE)


class CostConfigError(ValueError):
    """A cost variable (tier, rate, hardware, size) has a value the cost model does not know."""


@dataclass(frozen=True)
class Tier:
    name: str
    label: str
    monthly_usd_per_seat: float
    daily_quota_seconds: float
    can_buy_over_quota: bool


@dataclass(frozen=True)
class Flavor:
    name: str
    label: str
    usd_per_hour: float | None  # None: ZeroGPU, which has no hourly price
    gpus: int
    gpu_memory_gb: float
    gpu_bandwidth_gb_s: float | None


@dataclass(frozen=True)
class CostSettings:
    tier: Tier
    usd_cop: float
    usd_cop_date: str
    flavor: Flavor
    gpu_size: str
    quota_multiplier: float
    over_quota_usd_per_second: float
    typical_reply_tokens: int
    estimate_bandwidth_gb_s: float
    estimate_efficiency: float

    @property
    def hardware(self) -> str:
        return self.flavor.name

    @property
    def on_zerogpu(self) -> bool:
        return self.flavor.name == ZEROGPU_FLAVOR

    def usd_to_cop(self, usd: float) -> float:
        return usd * self.usd_cop


@dataclass(frozen=True)
class ReplyCost:
    gpu_seconds: float
    quota_seconds: float
    cost_usd: float
    cost_cop: float

    def as_dict(self) -> dict[str, float]:
        return {
            "gpu_seconds": round(self.gpu_seconds, 3),
            "quota_seconds": round(self.quota_seconds, 3),
            "cost_usd": round(self.cost_usd, 6),
            "cost_cop": round(self.cost_cop, 2),
        }


@dataclass(frozen=True)
class TokenCost:
    """Cost of 1,000 generated tokens at a given decode speed (the catalog's ``cost`` object)."""

    basis: str  # "measured" or "estimated"
    gpu_seconds_per_1k_tokens: float
    quota_seconds_per_1k_tokens: float
    per_1k_tokens_usd: float  # money billed while inside the quota (ZeroGPU: 0)
    per_1k_tokens_cop: float
    over_quota_per_1k_tokens_cop: float | None  # None: the tier cannot buy credits, or no quota applies
    typical_reply_tokens: int
    typical_reply_cop: float

    def as_dict(self) -> dict[str, object]:
        return {key: round(value, 2) if isinstance(value, float) else value for key, value in asdict(self).items()}


def load_cost_data(path: Path = COSTS_FILE) -> dict:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_cost_settings(env: Mapping[str, str], data: Mapping | None = None) -> CostSettings:
    """Build the settings from costs.json and the Space variables that override its defaults."""
    data = data if data is not None else load_cost_data()
    tiers = _tiers(data)
    flavors = _flavors(data)
    zerogpu = data["zerogpu"]

    tier_name = (env.get(TIER_VARIABLE) or data["default_tier"]).strip().lower()
    if tier_name not in tiers:
        raise CostConfigError(f"{TIER_VARIABLE}={tier_name!r} is not a known tier; use one of {', '.join(tiers)}")

    hardware = (env.get(HARDWARE_VARIABLE) or data["default_hardware"]).strip().lower()
    if hardware not in flavors:
        raise CostConfigError(
            f"{HARDWARE_VARIABLE}={hardware!r} is not a known hardware flavor; use one of {', '.join(flavors)}"
        )

    size = (env.get(GPU_SIZE_VARIABLE) or zerogpu["default_size"]).strip().lower()
    multipliers = zerogpu["size_quota_multiplier"]
    if size not in multipliers:
        raise CostConfigError(
            f"{GPU_SIZE_VARIABLE}={size!r} is not a ZeroGPU size; use one of {', '.join(multipliers)}"
        )

    rate_text = env.get(USD_COP_VARIABLE)
    usd_cop, usd_cop_date = float(data["usd_cop"]["rate"]), data["usd_cop"]["date"]
    if rate_text:
        usd_cop = _positive_rate(rate_text)
        usd_cop_date = "set by " + USD_COP_VARIABLE

    return CostSettings(
        tier=tiers[tier_name],
        usd_cop=usd_cop,
        usd_cop_date=usd_cop_date,
        flavor=flavors[hardware],
        gpu_size=size,
        quota_multiplier=float(multipliers[size]),
        over_quota_usd_per_second=float(zerogpu["over_quota_usd_per_minute"]) / 60,
        typical_reply_tokens=int(data["typical_reply_tokens"]),
        estimate_bandwidth_gb_s=float(zerogpu["estimate"]["bandwidth_gb_s"]),
        estimate_efficiency=float(zerogpu["estimate"]["efficiency"]),
    )


def reply_cost(gpu_seconds: float, settings: CostSettings) -> ReplyCost:
    """What one reply that held the GPU for ``gpu_seconds`` costs (see the module docstring)."""
    gpu_seconds = max(0.0, float(gpu_seconds))
    if settings.on_zerogpu:
        quota_seconds = gpu_seconds * settings.quota_multiplier
        usd = quota_seconds * settings.over_quota_usd_per_second if settings.tier.can_buy_over_quota else 0.0
    else:
        quota_seconds = 0.0
        usd = gpu_seconds * (settings.flavor.usd_per_hour or 0.0) / 3600
    return ReplyCost(gpu_seconds, quota_seconds, usd, settings.usd_to_cop(usd))


def per_1k_tokens(tokens_per_second: float, settings: CostSettings, basis: str = "measured") -> TokenCost:
    """Cost of 1,000 tokens and of a typical reply for a model decoding at ``tokens_per_second``."""
    if tokens_per_second <= 0:
        raise ValueError("tokens_per_second must be positive")
    seconds = 1000 / tokens_per_second
    thousand = reply_cost(seconds, settings)
    typical = reply_cost(seconds * settings.typical_reply_tokens / 1000, settings)
    if settings.on_zerogpu:
        billed_usd = 0.0  # inside the daily quota nothing is billed
        over_quota_cop = thousand.cost_cop if settings.tier.can_buy_over_quota else None
    else:
        billed_usd = thousand.cost_usd
        over_quota_cop = None
    return TokenCost(
        basis=basis,
        gpu_seconds_per_1k_tokens=seconds,
        quota_seconds_per_1k_tokens=thousand.quota_seconds,
        per_1k_tokens_usd=billed_usd,
        per_1k_tokens_cop=settings.usd_to_cop(billed_usd),
        over_quota_per_1k_tokens_cop=over_quota_cop,
        typical_reply_tokens=settings.typical_reply_tokens,
        typical_reply_cop=typical.cost_cop,
    )


def estimated_tokens_per_second(weight_bytes: int, settings: CostSettings) -> float:
    """Decode speed expected before any measurement: each token reads every weight once."""
    bandwidth = settings.estimate_bandwidth_gb_s if settings.on_zerogpu else settings.flavor.gpu_bandwidth_gb_s
    if not bandwidth or weight_bytes <= 0:
        raise ValueError(f"no bandwidth figure for hardware {settings.hardware!r} or no weight size")
    return bandwidth * 1e9 * settings.estimate_efficiency / weight_bytes


def _tiers(data: Mapping) -> dict[str, Tier]:
    return {
        name: Tier(
            name=name,
            label=entry["label"],
            monthly_usd_per_seat=float(entry["monthly_usd_per_seat"]),
            daily_quota_seconds=float(entry["daily_quota_minutes"]) * 60,
            can_buy_over_quota=bool(entry["can_buy_over_quota"]),
        )
        for name, entry in data["tiers"].items()
    }


def _flavors(data: Mapping) -> dict[str, Flavor]:
    return {
        name: Flavor(
            name=name,
            label=entry["label"],
            usd_per_hour=None if entry["usd_per_hour"] is None else float(entry["usd_per_hour"]),
            gpus=int(entry["gpus"]),
            gpu_memory_gb=float(entry["gpu_memory_gb"]),
            gpu_bandwidth_gb_s=None if entry["gpu_bandwidth_gb_s"] is None else float(entry["gpu_bandwidth_gb_s"]),
        )
        for name, entry in data["hardware"].items()
        if not name.startswith("$")
    }


def _positive_rate(text: str) -> float:
    try:
        rate = float(text.replace(",", ""))
    except ValueError:
        raise CostConfigError(f"{USD_COP_VARIABLE}={text!r} is not a number (COP per USD, e.g. 3768.73)") from None
    if not 100 <= rate <= 100_000:
        raise CostConfigError(f"{USD_COP_VARIABLE}={text!r} is outside any plausible COP per USD rate")
    return rate


# ---- ZeroGPU or an Inference Endpoint (break-even advice) ---------------------------------------------
# Kept apart from the rest of the model on purpose: it reads its own keys of costs.json
# (default_endpoint_instance, endpoint_awake_hours_per_day, endpoint_instances) and nothing above uses it.


@dataclass(frozen=True)
class EndpointAdvice:
    """When a dedicated Inference Endpoint would cost less than ZeroGPU credits, from measured traffic."""

    instance: str
    instance_label: str
    usd_per_hour: float
    awake_hours_per_day: float
    endpoint_cop_per_day: float
    replies_per_day: float  # measured through this server, scaled to a day
    measured_hours: float  # how many hours of traffic that figure rests on (at most 24)
    quota_seconds_per_reply: float
    basis: str  # "measured" (the ledger's mean) or "typical" (a typical reply at the models' speed)
    zerogpu_cop_per_day: float | None  # credits at that traffic; None: the tier cannot buy credits
    break_even_replies_per_day: float | None  # None: the tier cannot buy credits (calls are refused instead)
    quota_replies_per_day: float  # replies the daily quota covers
    endpoint_cheaper: bool

    def as_dict(self) -> dict[str, object]:
        return {key: round(value, 2) if isinstance(value, float) else value for key, value in asdict(self).items()}


def endpoint_advice(
    settings: CostSettings,
    replies: int,
    quota_seconds: float,
    observed_seconds: float,
    typical_quota_seconds_per_reply: float | None,
    data: Mapping | None = None,
) -> EndpointAdvice | None:
    """Break-even of ZeroGPU credits against costs.json's default Inference Endpoint instance.

    An endpoint bills its hourly price × the hours it is awake each day whatever the traffic; ZeroGPU
    bills nothing inside the tier's daily quota and then $1 per 10 quota-minutes. So the endpoint is
    cheaper past ``(daily quota + endpoint $/day ÷ credit $/s) ÷ quota seconds per reply`` replies a day.
    ``replies``/``quota_seconds`` are what the ledger saw in its last ``observed_seconds`` (≤ 24 h); less
    than an hour counts as an hour, so a few minutes of traffic are not blown up to a day. None off
    ZeroGPU, or when there is neither traffic nor a typical reply to size a reply with.
    """
    if not settings.on_zerogpu:
        return None
    prices = data if data is not None else load_cost_data()
    key = prices["default_endpoint_instance"]
    instance = prices["endpoint_instances"][key]
    awake = float(prices["endpoint_awake_hours_per_day"])
    if replies > 0 and quota_seconds > 0:
        per_reply, basis = quota_seconds / replies, "measured"
    elif typical_quota_seconds_per_reply:
        per_reply, basis = typical_quota_seconds_per_reply, "typical"
    else:
        return None
    hours = min(24.0, max(1.0, observed_seconds / 3600))
    replies_per_day = replies * 24 / hours
    endpoint_usd = float(instance["usd_per_hour"]) * awake
    included = settings.tier.daily_quota_seconds
    zerogpu_cop = break_even = None
    cheaper = False
    if settings.tier.can_buy_over_quota:
        credits_usd = max(0.0, replies_per_day * per_reply - included) * settings.over_quota_usd_per_second
        zerogpu_cop = settings.usd_to_cop(credits_usd)
        break_even = (included + endpoint_usd / settings.over_quota_usd_per_second) / per_reply
        cheaper = replies_per_day > break_even
    return EndpointAdvice(
        instance=key,
        instance_label=instance["label"],
        usd_per_hour=float(instance["usd_per_hour"]),
        awake_hours_per_day=awake,
        endpoint_cop_per_day=settings.usd_to_cop(endpoint_usd),
        replies_per_day=replies_per_day,
        measured_hours=hours if replies > 0 else 0.0,
        quota_seconds_per_reply=per_reply,
        basis=basis,
        zerogpu_cop_per_day=zerogpu_cop,
        break_even_replies_per_day=break_even,
        quota_replies_per_day=included / per_reply,
        endpoint_cheaper=cheaper,
    )
