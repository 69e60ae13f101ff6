"""Column plans: what each column of a table becomes, and the date and text transformers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lanza.runtime.serialization import dump_model, load_model
from lanza.training.features import DateParts, TextVectors, plan_columns


def _table(rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = ["late", "parcel", "broken", "thanks", "great", "refund", "again", "never"]
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "code": [f"K-{i:04d}" for i in range(rows)],
            "amount": rng.normal(size=rows),
            "count": rng.integers(0, 5, rows),
            "flag": rng.choice([True, False], rows),
            "plan": rng.choice(["a", "b", "c"], rows),
            "city": [f"c{i}" for i in rng.integers(0, 60, rows)],
            "day": pd.date_range("2024-01-01", periods=rows, freq="13h").strftime("%Y-%m-%d %H:%M"),
            "note": [" ".join(rng.choice(words, 5)) for _ in range(rows)],
            "same": 7,
            "empty": np.nan,
        }
    )


def test_plan_sorts_every_column_and_leaves_out_the_unlearnable_with_reasons() -> None:
    plan = plan_columns(_table())
    assert plan.numeric == ["amount", "count", "flag"]
    assert plan.categorical == ["plan"]
    assert plan.high_cardinality == ["city"]
    assert plan.dates == ["day"]
    assert plan.text == ["note"]
    assert {c.column: c.reason for c in plan.left_out} == {
        "id": "it looks like an identifier (a different whole number in every row)",
        "code": "it looks like an identifier (a different value in every row)",
        "same": "it has one value (7) in every row",
        "empty": "every value is missing",
    }


def test_unique_measurements_are_not_identifiers() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"income": rng.permutation(100) * 1000, "weight": rng.normal(size=100)})
    assert plan_columns(frame).numeric == ["income", "weight"]


def test_date_parts_from_strings_and_datetimes_alike() -> None:
    text = pd.DataFrame({"d": ["2024-03-01 10:00", "2024-03-02 18:30", None, "not a date"]})
    parts = DateParts().fit(text)
    out = parts.transform(text)
    assert out.shape == (4, 6)  # year, month, day, weekday, hour, days
    assert list(out[0][:5]) == [2024, 3, 1, 4, 10]
    assert np.isnan(out[2]).all()
    assert np.isnan(out[3]).all()
    as_datetimes = text.assign(d=pd.to_datetime(text["d"], errors="coerce"))
    np.testing.assert_array_equal(parts.transform(as_datetimes), out)
    assert list(parts.get_feature_names_out())[:2] == ["d_year", "d_month"]


def test_text_vectors_take_missing_values_and_round_trip_through_skops() -> None:
    frame = pd.DataFrame({"t": ["late parcel", "late again", None, "great thanks", "late"]})
    vectors = TextVectors(max_features=10).fit(frame)
    out = vectors.transform(frame)
    assert out.shape[0] == 5
    assert out[2].sum() == 0
    loaded = load_model(dump_model(vectors))
    np.testing.assert_allclose(loaded.transform(frame), out)


def test_date_parts_round_trip_through_skops() -> None:
    frame = pd.DataFrame({"d": ["2024-03-01", "2024-04-02"]})
    loaded = load_model(dump_model(DateParts().fit(frame)))
    assert loaded.transform(frame)[1][1] == pytest.approx(4)
