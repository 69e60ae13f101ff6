"""The simplest-adequate rule on hand-made scores."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lanza.training.metrics import METRICS
from lanza.training.selection import select_simplest


@dataclass
class Result:
    name: str
    complexity: int
    mean: float
    std: float
    folds: int = 4
    size_bytes: int = 1000
    latency_ms: float = 1.0


def test_picks_simplest_within_one_standard_error() -> None:
    results = [
        Result("baseline", 0, 0.50, 0.0),
        Result("linear", 1, 0.95, 0.02),
        Result("boosting", 8, 0.96, 0.02),  # SE = 0.01: 0.95 is within it
    ]
    selection = select_simplest(results, METRICS["roc_auc"])
    assert selection.picked == "linear"
    assert selection.best == "boosting"
    assert selection.standard_error == pytest.approx(0.01)
    assert "within one SE (0.0100) of the best, boosting 0.9600" in selection.reason


def test_picks_best_when_nothing_simpler_is_close() -> None:
    results = [Result("linear", 1, 0.80, 0.01), Result("boosting", 8, 0.96, 0.02)]
    selection = select_simplest(results, METRICS["roc_auc"])
    assert selection.picked == "boosting"
    assert "the best score" in selection.reason


def test_lower_is_better_for_losses() -> None:
    results = [
        Result("ridge", 1, 10.0, 2.0),
        Result("forest", 6, 9.5, 2.0),  # SE 1.0: 10.0 <= 10.5
        Result("boosting", 7, 12.0, 1.0),
    ]
    selection = select_simplest(results, METRICS["rmse"])
    assert (selection.picked, selection.best) == ("ridge", "forest")
    assert selection.threshold == pytest.approx(10.5)


def test_no_results_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        select_simplest([], METRICS["rmse"])


def test_a_clearly_smaller_and_faster_candidate_within_one_se_wins() -> None:
    results = [
        Result("knn", 2, 0.950, 0.02, size_bytes=900_000, latency_ms=2.0),
        Result("tree", 5, 0.955, 0.02, size_bytes=20_000, latency_ms=0.5),
        Result("boosting", 8, 0.960, 0.02, size_bytes=300_000, latency_ms=1.0),
    ]
    selection = select_simplest(results, METRICS["roc_auc"])
    assert selection.picked == "tree"
    assert "smaller (20 KB vs 879 KB) and faster" in selection.reason


def test_only_a_clear_margin_overrules_simplicity() -> None:
    results = [
        Result("linear", 1, 0.950, 0.02, size_bytes=10_000, latency_ms=1.0),
        Result("tree", 5, 0.955, 0.02, size_bytes=9_500, latency_ms=0.5),
    ]
    assert select_simplest(results, METRICS["roc_auc"]).picked == "linear"
