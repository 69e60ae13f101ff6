"""The advisor's rules on hand-made measurements and the shipped price table."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanza.advisor.measure import Measurement
from lanza.advisor.prices import PriceTable
from lanza.advisor.rules import advise
from lanza.errors import InvalidInputError

FAST = [
    Measurement(1, 0.5, 1.0, 2000),
    Measurement(32, 1.0, 2.0, 32000),
    Measurement(1024, 20.0, 30.0, 51200),
]
SLOW = [Measurement(1, 80.0, 120.0, 12), Measurement(32, 900.0, 1000.0, 35)]


def test_shipped_prices_are_dated() -> None:
    prices = PriceTable.load()
    assert prices.date
    assert prices.region == "us-central1"
    assert {m.gpu for m in prices.machines} >= {None, "L4", "T4"}


def test_bad_price_file_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}")
    with pytest.raises(InvalidInputError, match="not usable"):
        PriceTable.load(path)


def test_mode_follows_the_load() -> None:
    prices = PriceTable.load()
    assert advise(FAST, prices, 100, 50, 0).mode == "real-time"
    assert advise(FAST, prices, 0, 50, 1e6).mode == "batch"
    assert advise(FAST, prices, 100, 50, 1e6).mode == "both"


def test_latency_target_out_of_reach_is_not_recommended() -> None:
    advice = advise(SLOW, PriceTable.load(), 100, 50, 0)
    assert advice.recommended() == []
    assert any("NOT feasible" in r for r in advice.reasons)


def test_more_traffic_needs_more_instances_and_money() -> None:
    prices = PriceTable.load()
    small = advise(FAST, prices, 100, 50, 0).recommended()[0]
    large = advise(FAST, prices, 20000, 50, 0).recommended()[0]
    assert large.instances > small.instances or large.machine != small.machine
    assert large.monthly_usd > small.monthly_usd


def test_cpu_models_get_no_gpu_options() -> None:
    machines = {o.machine for o in advise(FAST, PriceTable.load(), 100, 50, 1e6).options}
    assert "g2-standard-4" not in machines
    gpu = {o.machine for o in advise(FAST, PriceTable.load(), 100, 50, 1e6, True).options}
    assert "g2-standard-4" in gpu
