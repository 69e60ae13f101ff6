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


def test_fewer_rows_than_folds() -> None:
    with pytest.raises(DataError, match="3 labelled rows, fewer than the 5 folds"):
        prepare(_frame(3), "y")


def test_rare_class_names_it() -> None:
    frame = _frame().assign(y=[0] * 38 + [1, 1])
    with pytest.raises(DataError, match="Class 1 of 'y' has 2 rows"):
        prepare(frame, "y", "classification")


def test_all_missing_column() -> None:
    frame = _frame().assign(empty=np.nan)
    with pytest.raises(DataError, match="Column 'empty' is entirely missing"):
        prepare(frame, "y")


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
