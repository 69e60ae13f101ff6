"""The residency book: eviction order, what it never evicts, idle time and the budget."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from lanza.errors import ValidationError
from lanza.serving.residency import ResidencyBook, ResidencyMetrics

MB = 1024 * 1024


def _book(budget_mb: float | None = 3, idle_s: float | None = None) -> ResidencyBook:
    return ResidencyBook(ResidencyMetrics(CollectorRegistry()), budget_mb, idle_s)


def _load(book: ResidencyBook, name: str, used: float, mode: str = "on_demand") -> None:
    book.loaded(name, mode, MB, 0.1)  # type: ignore[arg-type]
    entry = book.get(name)
    assert entry is not None
    entry.last_used = used


def test_least_recently_used_go_first_and_only_as_many_as_needed() -> None:
    book = _book(budget_mb=3)
    for name, used in [("a", 30.0), ("b", 10.0), ("c", 20.0)]:
        _load(book, name, used)
    assert book.victims("d", MB) == ["b"]
    assert book.victims("d", 2 * MB) == ["b", "c"]
    assert book.victims("a", MB) == []  # reloading a resident model needs no room


def test_models_in_use_and_always_models_are_never_evicted() -> None:
    book = _book(budget_mb=2)
    _load(book, "pinned", 0.0, mode="always")
    _load(book, "busy", 1.0)
    book.use("busy")
    assert book.victims("new", MB) == []
    assert book.over_budget() is False
    book.loading("new", "on_demand", MB)
    assert book.over_budget() is True  # past the budget until "busy" is released
    book.release("busy")
    assert book.victims(None, 0) == ["busy"]


def test_idle_time_and_no_budget() -> None:
    book = _book(budget_mb=None, idle_s=5)
    _load(book, "old", 100.0)
    _load(book, "recent", 104.0)
    _load(book, "pinned", 0.0, mode="always")
    assert book.idle(106.0) == ["old"]
    assert book.victims("x", 10**12) == []


def test_a_deployment_larger_than_the_budget_is_a_422() -> None:
    book = _book(budget_mb=1)
    book.check_fits("small", MB)
    with pytest.raises(ValidationError) as caught:
        book.check_fits("big", 3 * MB)
    assert caught.value.status_code == 422
    assert caught.value.message == (
        "Deployment 'big' needs 3.0 MB of models, more than the server's model memory "
        "budget of 1.0 MB (LANZA_SERVER__MODEL_MEMORY_MB)."
    )


def test_each_worker_holds_its_share_of_the_budget() -> None:
    book = ResidencyBook(ResidencyMetrics(CollectorRegistry()), budget_mb=4, workers=2)
    assert book.budget_bytes == 2 * MB
    book.check_fits("fits", 2 * MB)
    with pytest.raises(ValidationError) as caught:
        book.check_fits("big", 3 * MB)
    assert caught.value.message == (
        "Deployment 'big' needs 3.0 MB of models, more than the share of the model memory "
        "budget one of the server's 2 workers holds, 2.0 MB (LANZA_SERVER__MODEL_MEMORY_MB)."
    )


def test_a_model_used_often_outlives_one_used_once_more_recently() -> None:
    book = _book(budget_mb=2)
    _load(book, "hot", 0.0)
    _load(book, "cold", 0.0)
    for _ in range(5):
        book.use("hot")
        book.release("hot")
    book.use("cold")  # the most recent request, but its only one
    book.release("cold")
    assert book.victims("new", MB) == ["cold"]


def test_a_large_model_goes_before_small_ones_that_save_more_load_seconds_per_byte() -> None:
    book = _book(budget_mb=8)
    book.loaded("large", "on_demand", 6 * MB, 0.020)  # type: ignore[arg-type]
    book.loaded("small", "on_demand", MB, 0.005)  # type: ignore[arg-type]
    for _ in range(3):  # the large one is used more often, but per byte it saves less
        book.use("large")
        book.release("large")
    for _ in range(4):  # fewer requests, a cheaper load, but 6 times fewer bytes
        book.use("small")
        book.release("small")
    assert book.victims("new", 2 * MB) == ["large"]
    for _ in range(20):
        book.use("large")
        book.release("large")
    assert book.victims("new", 2 * MB) == ["small"]
