"""The advisor's rules on hand-made measurements and the shipped price table."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lanza.advisor.measure import Measured, Measurement, ServerMeasurement
from lanza.advisor.prices import PriceTable
from lanza.advisor.rules import HOURS_PER_MONTH, advise
from lanza.errors import InvalidInputError


def measured(
    single_p99: float, rows_per_s: float, server_rps: float, device: str = "cpu"
) -> Measured:
    batches = [
        Measurement(1, single_p99 / 2, single_p99, 1000 / single_p99, 0.05, device),
        Measurement(1024, 20.0, 30.0, rows_per_s, 0.05, device),
    ]
    server = ServerMeasurement(16, server_rps, 1.0, 2.0, 8.0, 0.05, device)
    return Measured(device, [1], batches, server)


FAST = measured(1.0, 51_200, 2_000)
SLOW = measured(120.0, 35, 12)


def test_shipped_prices_are_dated_and_every_entry_is_read() -> None:
    prices = PriceTable.load()
    assert prices.date
    assert prices.region == "us-central1"
    assert {m.gpu for m in prices.machines} >= {None, "L4", "T4"}
    shipped = json.loads((Path(__file__).parents[3] / "src/lanza/advisor/prices.json").read_text())
    assert prices.cloud_run_l4_gpu_second == shipped["cloud_run"]["l4_gpu_second"]
    assert prices.cloud_run_requests_per_million == shipped["cloud_run"]["requests_per_million"]


def _leaves(value: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))]
    return [path]


def test_every_price_entry_changes_the_loaded_table(tmp_path: Path) -> None:
    """Each entry of the shipped table, changed alone, changes what the advisor reads."""
    shipped = json.loads((Path(__file__).parents[3] / "src/lanza/advisor/prices.json").read_text())
    assert shipped["date"]
    assert "https://cloud.google.com/" in shipped["source"]
    base = PriceTable.load()
    path = tmp_path / "prices.json"
    leaves = _leaves(shipped)
    assert len(leaves) == 4 + 4 + 7 * 4 + 1  # top level, cloud_run, machines, markup
    for leaf in leaves:
        changed = copy.deepcopy(shipped)
        parent = changed
        for key in leaf[:-1]:
            parent = parent[key]
        value = parent[leaf[-1]]
        parent[leaf[-1]] = (
            "other" if value is None else value + "x" if isinstance(value, str) else value * 2 + 1
        )
        path.write_text(json.dumps(changed))
        if leaf == ("currency",):
            with pytest.raises(InvalidInputError, match="in USDx; lanza's figures are in USD"):
                PriceTable.load(path)
            continue
        assert PriceTable.load(path) != base, leaf


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


def test_capacity_adds_the_server_path_and_the_http_layer() -> None:
    prices = PriceTable.load()
    # 300 req/s per core through the batcher: 3.33 ms + 2 ms of HTTP = 5.33 ms a request,
    # 187.5 req/s per vCPU; e2-standard-2: 187.5 * 2 * 0.8 * 0.6 = 180 req/s.
    slowish = measured(1.0, 51_200, 300)
    option = next(
        o for o in advise(slowish, prices, 1000, 50, 0).options if o.machine == "e2-standard-2"
    )
    assert option.instances == 6  # ceil(1000 / 180)
    # 2,000 req/s per core: 0.5 ms + 2 ms = 2.5 ms, 400 req/s per vCPU; 400 * 0.96 = 384.
    option = next(
        o for o in advise(FAST, prices, 1200, 50, 0).options if o.machine == "e2-standard-2"
    )
    assert option.instances == 4  # ceil(1200 / 384)


def test_more_traffic_needs_more_instances_and_money() -> None:
    prices = PriceTable.load()
    small = advise(FAST, prices, 100, 50, 0).recommended()[0]
    large = advise(FAST, prices, 20000, 50, 0).recommended()[0]
    assert large.instances > small.instances or large.machine != small.machine
    assert large.monthly_usd > small.monthly_usd


def test_gpu_machines_are_unmeasured_without_a_gpu_measurement() -> None:
    advice = advise(FAST, PriceTable.load(), 100, 50, 1e6, gpu_note="no GPU on this machine")
    assert not any(o.machine in ("g2-standard-4", "n1-standard-4+t4") for o in advice.options)
    assert len(advice.unmeasured) == 2
    assert all("no GPU on this machine" in line for line in advice.unmeasured)
    assert advice.hardware == "cpu"


def test_gpu_machines_are_sized_by_the_gpu_measurement() -> None:
    prices = PriceTable.load()
    gpu = measured(0.5, 2_000_000, 1_000, "cuda")
    advice = advise(FAST, prices, 1200, 50, 1e6, gpu)
    assert advice.unmeasured == []
    g2 = next(
        o
        for o in advice.options
        if o.machine == "g2-standard-4" and o.mode == "real-time" and "GKE" in o.platform
    )
    assert g2.instances == 2  # ceil(1200 / (1000 * 0.6)), not a CPU figure times vCPUs
    assert g2.monthly_usd == pytest.approx(2 * 0.7068 * HOURS_PER_MONTH)
    cloud_run_gpu = next(o for o in advice.options if "L4 GPU" in o.platform)
    per_second = 4 * 0.000018 + 16 * 0.000002 + 0.0001867
    assert cloud_run_gpu.monthly_usd == pytest.approx(2 * per_second * HOURS_PER_MONTH * 3600)
    batch = next(o for o in advice.options if o.machine == "g2-standard-4" and o.mode == "batch")
    assert "2,000,000 rows/s (GPU measured)" in batch.why


def test_cloud_run_pays_its_request_price(tmp_path: Path) -> None:
    shipped = json.loads((Path(__file__).parents[3] / "src/lanza/advisor/prices.json").read_text())
    shipped["cloud_run"]["requests_per_million"] = 0.4
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(shipped))

    def cloud_run(prices: PriceTable) -> float:
        options = advise(FAST, prices, 100, 50, 0).options
        return next(o.monthly_usd for o in options if o.platform.startswith("Cloud Run"))

    extra = cloud_run(PriceTable.load(path)) - cloud_run(PriceTable.load())
    assert extra == pytest.approx(100 * HOURS_PER_MONTH * 3600 / 1e6 * 0.4)
