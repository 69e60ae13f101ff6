"""The order a time budget tries candidates in, on real tables."""

from __future__ import annotations

import pytest

from lanza.training.data import prepare
from lanza.training.metrics import resolve_metric
from lanza.training.trainer import Trainer
from tests.zoo import load


@pytest.mark.parametrize(
    ("table", "target", "linear"),
    [("penguins", "species", "logistic_regression"), ("diabetes", "target", "ridge_regression")],
)
def test_under_a_budget_the_linear_model_follows_the_baseline(
    table: str, target: str, linear: str
) -> None:
    """A short budget still reaches a model that learned something; boosting comes next."""
    data = prepare(load(table), target, None, 5, table)
    metric = resolve_metric(None, data.task, len(data.classes), data.imbalanced, data.positive)
    planned = [c.name for c in Trainer(metric, 5, 0, time_budget=10)._plan(data, [])]
    assert planned[0].endswith("baseline")
    assert planned[1] == linear
    assert planned[2] in ("hist_gradient_boosting", "xgboost"), planned
    unbudgeted = [c.name for c in Trainer(metric, 5, 0)._plan(data, [])]
    assert sorted(unbudgeted) == sorted(planned)  # the same candidates, only the order moves
