"""Checks on training tables: every bad input is one clear sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lanza.errors import DataError, InvalidInputError
from lanza.training.data import infer_task, load_table, prepare
from lanza.training.metrics import resolve_metric


def _frame(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.choice(["x", "y"], rows), "y": np.arange(rows) % 2}
    )


def test_reads_csv_and_parquet(tmp_path: Path) -> None:
    frame = _frame()
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    assert load_table(tmp_path / "d.csv").shape == (40, 3)
    assert load_table(tmp_path / "d.parquet").shape == (40, 3)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("data.xlsx", "x", "unsupported format '.xlsx'"),
        ("broken.parquet", "not parquet", "cannot be read as PARQUET"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_table(path)


def test_missing_target() -> None:
    with pytest.raises(DataError, match="target column 'label' is not in the data"):
        prepare(_frame(), "label")


def test_one_class() -> None:
    frame = _frame().assign(y=1)
    with pytest.raises(DataError, match="only one class"):
        prepare(frame, "y", "classification")


def test_too_few_rows_to_cross_validate() -> None:
    with pytest.raises(DataError, match="has 3 labelled rows; lanza needs at least 10"):
        prepare(_frame(3), "y")


def test_a_class_of_one_row_names_it() -> None:
    frame = _frame().assign(y=[0] * 39 + [1])
    with pytest.raises(DataError, match="Class 1 of 'y' has only 1 row"):
        prepare(frame, "y", "classification")


def test_a_rare_class_lowers_the_folds_and_says_so() -> None:
    frame = _frame(80).assign(y=[0] * 77 + [1] * 3)
    data = prepare(frame, "y", "classification")
    assert data.folds == 3
    assert "class 1 has 3 rows: 3-fold cross-validation" in data.notes


def test_a_tiny_table_gets_fewer_folds_and_a_warning() -> None:
    data = prepare(_frame(30), "y")
    assert data.folds == 3
    assert any("only 30 labelled rows" in n for n in data.notes)


def test_target_without_values_is_one_sentence() -> None:
    frame = _frame().assign(y=np.nan)
    with pytest.raises(DataError, match=r"^The target column 'y' has no values: every row is"):
        prepare(frame, "y")


def test_too_many_text_classes_is_one_sentence() -> None:
    frame = _frame(200).assign(y=[f"name {i}" for i in range(200)])
    with pytest.raises(DataError, match="has 200 classes, more than the 50"):
        prepare(frame, "y")


def test_all_missing_and_constant_columns_are_left_out_with_the_reason() -> None:
    frame = _frame().assign(empty=np.nan, same="x")
    data = prepare(frame, "y")
    assert list(data.features.columns) == ["a", "b"]
    assert "column 'empty' left out: every value is missing" in data.notes
    assert "column 'same' left out: it has one value ('x') in every row" in data.notes


def test_no_usable_column_is_one_sentence() -> None:
    frame = pd.DataFrame({"same": ["x"] * 40, "y": np.arange(40) % 2})
    with pytest.raises(DataError, match="No feature column can be learned from"):
        prepare(frame, "y")


def test_imbalance_is_noted_and_the_rare_yes_is_positive() -> None:
    frame = _frame(200).assign(y=["yes"] * 10 + ["no"] * 190)
    data = prepare(frame, "y")
    assert data.imbalanced
    assert data.positive == "yes"
    assert "classes are imbalanced: 'yes' is 5.0% of rows (10 of 200)" in data.notes
    metric = resolve_metric(None, data.task, 2, data.imbalanced, data.positive)
    assert (metric.name, metric.positive) == ("average_precision", "yes")


def test_positive_class_prefers_one_true_and_yes_then_the_rarer() -> None:
    from lanza.training.data import positive_class

    assert positive_class(pd.Series([0, 1, 1, 1])) == 1
    assert positive_class(pd.Series([True, False, False])) is True
    assert positive_class(pd.Series(["No", "Yes", "Yes"])) == "Yes"
    assert positive_class(pd.Series(["cat", "dog", "dog"])) == "cat"


def test_rows_without_target_are_dropped_and_counted() -> None:
    frame = _frame().astype({"y": "float"})
    frame.loc[:4, "y"] = np.nan
    data = prepare(frame, "y", "classification")
    assert data.dropped_rows == 5
    assert len(data.features) == 35


def test_task_inference() -> None:
    assert infer_task(pd.Series([0, 1] * 50)) == "classification"
    assert infer_task(pd.Series(["a", "b"] * 50)) == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 100))) == "regression"
    assert infer_task(pd.Series(range(100))) == "regression"


def test_unknown_metric_names_the_choices() -> None:
    with pytest.raises(InvalidInputError, match="Unknown metric 'auc'; for classification"):
        resolve_metric("auc", "classification", 2)


def test_metric_of_the_wrong_task() -> None:
    with pytest.raises(InvalidInputError, match="does not apply to regression"):
        resolve_metric("roc_auc", "regression", 0)


def test_default_metrics() -> None:
    assert resolve_metric(None, "classification", 2).name == "roc_auc"
    assert resolve_metric(None, "classification", 3).name == "f1_macro"
    assert resolve_metric(None, "regression", 0).name == "rmse"


def test_binary_metrics_score_text_labels_with_their_positive_class() -> None:
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.r_[np.zeros(20), np.ones(20)]})
    y = pd.Series(["no"] * 20 + ["yes"] * 20)
    model = LogisticRegression().fit(x, y)
    for name in ("f1", "precision", "recall", "average_precision"):
        metric = resolve_metric(name, "classification", 2, positive="yes")
        assert metric.scoring()(model, x, y) == pytest.approx(1.0)
