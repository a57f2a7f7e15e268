"""The cost model's arithmetic: a reply and 1,000 tokens in COP, over-quota, dedicated hourly. (A month's
projection is the validate report's: test/unit/validate-cost.test.ts.)"""

from __future__ import annotations

import math

import pytest

from zerollama.core.costs import (
    CostConfigError,
    estimated_tokens_per_second,
    load_cost_data,
    load_cost_settings,
    per_1k_tokens,
    reply_cost,
)

RATE = 4000.0  # a round rate so expected figures can be worked out by hand


def settings(**env: str):
    return load_cost_settings({"ZEROLLAMA_USD_COP": str(RATE), **env})


def test_defaults_come_from_costs_json_with_a_dated_rate() -> None:
    data = load_cost_data()
    loaded = load_cost_settings({})
    assert loaded.tier.name == data["default_tier"] == "pro"
    assert loaded.hardware == "zero-a10g"
    assert loaded.usd_cop == data["usd_cop"]["rate"]
    assert loaded.usd_cop_date == data["usd_cop"]["date"]
    assert data["usd_cop"]["source"] in data["sources"]


def test_every_tier_and_price_names_a_recorded_source() -> None:
    data = load_cost_data()
    for tier in data["tiers"].values():
        assert tier["source"] in data["sources"]
    assert data["hardware"]["$source"] in data["sources"]
    for source in data["sources"].values():
        assert source["date"] and source["where"]


@pytest.mark.parametrize(
    ("tier", "daily_minutes", "can_buy"),
    [
        ("unauthenticated", 2, False),
        ("free", 5, False),
        ("pro", 40, True),
        ("team", 40, True),
        ("enterprise", 60, True),
    ],
)
def test_tier_quotas_match_the_zerogpu_docs(tier: str, daily_minutes: int, can_buy: bool) -> None:
    loaded = settings(ZEROLLAMA_TIER=tier)
    assert loaded.tier.daily_quota_seconds == daily_minutes * 60
    assert loaded.tier.can_buy_over_quota is can_buy


def test_reply_on_zerogpu_pro_is_priced_at_the_credit_rate() -> None:
    # $1 per 10 min = $1/600 s; 60 s -> $0.10 -> 400 COP at 4000 COP/USD
    cost = reply_cost(60, settings(ZEROLLAMA_TIER="pro"))
    assert cost.quota_seconds == 60
    assert math.isclose(cost.cost_usd, 0.1)
    assert math.isclose(cost.cost_cop, 400)
    assert cost.as_dict() == {
        "gpu_seconds": 60,
        "quota_seconds": 60,
        "cost_usd": 0.1,
        "cost_cop": 400,
    }


def test_xlarge_slice_costs_twice_the_quota() -> None:
    cost = reply_cost(45, settings(ZEROLLAMA_GPU_SIZE="xlarge"))
    assert cost.quota_seconds == 90
    assert math.isclose(cost.cost_cop, 90 / 600 * RATE)


def test_free_tier_reply_uses_quota_but_bills_no_money() -> None:
    cost = reply_cost(30, settings(ZEROLLAMA_TIER="free"))
    assert cost.quota_seconds == 30
    assert cost.cost_usd == 0 and cost.cost_cop == 0


def test_dedicated_hardware_reply_is_its_share_of_the_hour() -> None:
    # l40sx1 at $1.80/h: 36 s busy -> $0.018 -> 72 COP; no ZeroGPU quota involved
    cost = reply_cost(36, settings(ZEROLLAMA_HARDWARE="l40sx1"))
    assert cost.quota_seconds == 0
    assert math.isclose(cost.cost_usd, 0.018)
    assert math.isclose(cost.cost_cop, 72)


def test_negative_gpu_time_is_treated_as_none() -> None:
    assert reply_cost(-1, settings()).cost_cop == 0


def test_per_1k_tokens_on_zerogpu_bills_nothing_inside_quota() -> None:
    # 50 tok/s -> 20 s per 1k tokens -> $1/30 over quota -> 133.33 COP; typical reply 300 tokens = 6 s -> 40 COP
    token_cost = per_1k_tokens(50, settings())
    assert token_cost.gpu_seconds_per_1k_tokens == 20
    assert token_cost.quota_seconds_per_1k_tokens == 20
    assert token_cost.per_1k_tokens_usd == 0 and token_cost.per_1k_tokens_cop == 0
    assert math.isclose(token_cost.over_quota_per_1k_tokens_cop, 20 / 600 * RATE)
    assert token_cost.typical_reply_tokens == 300
    assert math.isclose(token_cost.typical_reply_cop, 6 / 600 * RATE)
    assert token_cost.as_dict()["over_quota_per_1k_tokens_cop"] == 133.33


def test_per_1k_tokens_free_tier_has_no_over_quota_price() -> None:
    assert per_1k_tokens(50, settings(ZEROLLAMA_TIER="free")).over_quota_per_1k_tokens_cop is None


def test_per_1k_tokens_on_dedicated_hardware_is_billed() -> None:
    # a100-large $2.50/h, 100 tok/s -> 10 s per 1k -> $0.006944 -> 27.78 COP
    token_cost = per_1k_tokens(100, settings(ZEROLLAMA_HARDWARE="a100-large"))
    assert math.isclose(token_cost.per_1k_tokens_usd, 2.5 * 10 / 3600)
    assert math.isclose(token_cost.per_1k_tokens_cop, 2.5 * 10 / 3600 * RATE)
    assert token_cost.over_quota_per_1k_tokens_cop is None


def test_per_1k_tokens_rejects_zero_speed() -> None:
    with pytest.raises(ValueError):
        per_1k_tokens(0, settings())


def test_estimated_speed_follows_memory_bandwidth() -> None:
    zerogpu = settings()
    # 896 GB/s x 0.6 / 15.2 GB ~ 35 tok/s
    assert math.isclose(
        estimated_tokens_per_second(15_231_233_024, zerogpu),
        896e9 * 0.6 / 15_231_233_024,
    )
    t4 = settings(ZEROLLAMA_HARDWARE="t4-small")
    assert estimated_tokens_per_second(10**9, t4) < estimated_tokens_per_second(10**9, zerogpu)
    with pytest.raises(ValueError):
        estimated_tokens_per_second(10**9, settings(ZEROLLAMA_HARDWARE="cpu-basic"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ZEROLLAMA_TIER", "gold"),
        ("ZEROLLAMA_HARDWARE", "h100"),
        ("ZEROLLAMA_GPU_SIZE", "medium"),
        ("ZEROLLAMA_USD_COP", "abc"),
        ("ZEROLLAMA_USD_COP", "0.00025"),
    ],
)
def test_bad_variables_are_refused_with_the_variable_named(variable: str, value: str) -> None:
    with pytest.raises(CostConfigError, match=variable):
        load_cost_settings({variable: value})


def test_rate_override_accepts_thousands_separator() -> None:
    loaded = load_cost_settings({"ZEROLLAMA_USD_COP": "4,123.5", "ZEROLLAMA_TIER": "Team"})
    assert loaded.usd_cop == 4123.5
    assert loaded.usd_cop_date == "set by ZEROLLAMA_USD_COP"
    assert loaded.tier.name == "team"
