"""Break-even of ZeroGPU credits against a dedicated Inference Endpoint, from the ledger's measured traffic."""

from __future__ import annotations

import pytest

from zerollama.core.costs import endpoint_advice, load_cost_data, load_cost_settings
from zerollama.core.quota import QuotaLedger
from zerollama.ui import endpoint_advice_text

RATE = 4000.0
HOUR = 3600.0


def settings(**env: str):
    return load_cost_settings({"ZEROLLAMA_USD_COP": str(RATE), **env})


def prices(instance: str = "aws-nvidia-l4-x1", awake: float = 24) -> dict:
    data = load_cost_data()
    return {**data, "default_endpoint_instance": instance, "endpoint_awake_hours_per_day": awake}


def test_costs_json_defaults_name_a_priced_instance() -> None:
    data = load_cost_data()
    instance = data["endpoint_instances"][data["default_endpoint_instance"]]
    assert instance["usd_per_hour"] > 0
    assert data["endpoint_instances"]["$source"] in data["sources"]
    assert 0 < data["endpoint_awake_hours_per_day"] <= 24


def test_break_even_on_pro_with_ten_second_replies() -> None:
    # L4 at $0.80/h all day: $19.20 = 11,520 credit-seconds at $1 per 600 s, on top of 2,400 s of PRO quota.
    advice = endpoint_advice(settings(), 0, 0.0, 0.0, 10.0, prices())
    assert advice is not None
    assert advice.basis == "typical"
    assert advice.break_even_replies_per_day == pytest.approx((2400 + 11520) / 10)
    assert advice.quota_replies_per_day == pytest.approx(240)
    assert advice.endpoint_cop_per_day == pytest.approx(19.2 * RATE)
    assert advice.endpoint_cheaper is False


def test_scale_to_zero_hours_lower_the_break_even() -> None:
    advice = endpoint_advice(settings(), 0, 0.0, 0.0, 10.0, prices(awake=8))
    assert advice is not None
    assert advice.break_even_replies_per_day == pytest.approx((2400 + 0.8 * 8 * 600) / 10)


def test_measured_traffic_is_scaled_to_a_day_and_decides() -> None:
    # 150 replies of 10 quota-seconds in the last 2 hours: 1,800 a day, past the 1,392 break-even.
    advice = endpoint_advice(settings(), 150, 1500.0, 2 * HOUR, 99.0, prices())
    assert advice is not None
    assert advice.basis == "measured"
    assert advice.quota_seconds_per_reply == pytest.approx(10)
    assert advice.replies_per_day == pytest.approx(1800)
    assert advice.zerogpu_cop_per_day == pytest.approx((18000 - 2400) / 600 * RATE)
    assert advice.endpoint_cheaper is True
    # Ten minutes of traffic count as an hour, not as a sixth of a day's.
    short = endpoint_advice(settings(), 10, 100.0, 600.0, None, prices())
    assert short is not None and short.replies_per_day == pytest.approx(240)


def test_a_tier_that_cannot_buy_credits_has_no_break_even() -> None:
    advice = endpoint_advice(settings(ZEROLLAMA_TIER="free"), 50, 500.0, HOUR, None, prices())
    assert advice is not None
    assert advice.break_even_replies_per_day is None and advice.zerogpu_cop_per_day is None
    assert advice.quota_replies_per_day == pytest.approx(30)
    assert "cannot buy credits" in endpoint_advice_text({"endpoint_advice": advice.as_dict()})


def test_no_advice_off_zerogpu_or_without_any_reply_size() -> None:
    assert endpoint_advice(settings(ZEROLLAMA_HARDWARE="l4x1"), 5, 50.0, HOUR, 10.0, prices()) is None
    assert endpoint_advice(settings(), 0, 0.0, 0.0, None, prices()) is None


def test_ledger_traffic_counts_every_caller_for_24_hours() -> None:
    now = [1_000_000.0]
    ledger = QuotaLedger(clock=lambda: now[0])
    ledger.record({"authorization": "Bearer hf_a"}, 4.0)
    ledger.record({}, 6.0)  # anonymous: no quota of its own to show, but it is traffic
    ledger.record({}, 0.0)  # nothing spent: not a reply that cost anything
    now[0] += 2 * HOUR
    traffic = ledger.traffic()
    assert (traffic.replies, traffic.quota_seconds, traffic.observed_seconds) == (2, 10.0, 2 * HOUR)
    assert ledger.quota_used({}) is None
    now[0] += 24 * HOUR
    assert ledger.traffic().replies == 0
    assert ledger.traffic().observed_seconds == 24 * HOUR


def test_page_text_gives_the_break_even_in_replies_a_day() -> None:
    advice = endpoint_advice(settings(), 150, 1500.0, 2 * HOUR, None, prices())
    assert advice is not None
    text = endpoint_advice_text({"endpoint_advice": advice.as_dict()})
    assert "About 1.800 replies a day here (last 2 h)" in text
    assert "**the endpoint is cheaper**" in text
    assert "Break-even: about 1.392 replies a day" in text
    assert endpoint_advice_text({"endpoint_advice": None}) == ""


def test_the_catalog_carries_the_traffic_and_the_same_advice() -> None:
    from zerollama.api.catalog_route import build_catalog
    from zerollama.core.catalog import load_catalog
    from zerollama.core.registry import ModelStatus

    statuses = [
        ModelStatus(entry=entry, downloaded=True, loaded=False, tokens_per_second=30.0, expires_at=None)
        for entry in load_catalog().models
    ]
    now = [5_000_000.0]
    ledger = QuotaLedger(clock=lambda: now[0])
    for _ in range(40):
        ledger.record({}, 12.0)
    now[0] += 4 * HOUR
    document = build_catalog(statuses, settings(), ledger, {})
    assert document["traffic"] == {"replies": 40, "quota_seconds": 480.0, "observed_hours": 4.0}
    expected = endpoint_advice(settings(), 40, 480.0, 4 * HOUR, None)
    assert expected is not None
    assert document["endpoint_advice"] == expected.as_dict()
    assert document["endpoint_advice"]["replies_per_day"] == 240
    off = build_catalog(statuses, settings(ZEROLLAMA_HARDWARE="l40sx1"), ledger, {})
    assert off["endpoint_advice"] is None
