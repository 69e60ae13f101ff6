"""Input validation names the column and never lets a bad frame through."""

from __future__ import annotations

import pandas as pd
import pytest

from lanza.errors import ValidationError
from lanza.runtime.rules import check_frame
from lanza.runtime.schema import Column, InputSchema

SCHEMA = InputSchema(
    (Column("age", "double"), Column("city", "string"), Column("score", "long", required=False))
)


def test_valid_frame_is_coerced_and_ordered() -> None:
    frame = pd.DataFrame({"city": ["Oslo"], "score": [None], "age": [41]})
    out = check_frame(frame, SCHEMA)
    assert list(out.columns) == ["age", "city", "score"]
    assert out["age"].dtype == "float64"
    assert out["score"].isna().all()


def test_a_column_left_out_is_refused_even_when_optional_unless_imputed() -> None:
    frame = pd.DataFrame({"city": ["Oslo"], "age": [41]})
    with pytest.raises(ValidationError, match=r"Column 'score' is missing\."):
        check_frame(frame, SCHEMA)
    assert check_frame(frame, SCHEMA, impute=True)["score"].isna().all()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"city": ["Oslo"]}), "Column 'age' is missing."),
        (
            pd.DataFrame({"age": [1], "city": ["a"], "score": [1], "zip": [1]}),
            "Column 'zip' is not an input",
        ),
        (
            pd.DataFrame({"age": ["old"], "city": ["a"], "score": [1]}),
            "Column 'age' must be a number; row 0",
        ),
        (
            pd.DataFrame({"age": [True], "city": ["a"], "score": [1]}),
            "Column 'age' must be a number, not",
        ),
        (pd.DataFrame({"age": [1], "city": [3], "score": [1]}), "Column 'city' must be text"),
        (
            pd.DataFrame({"age": [float("inf")], "city": ["a"], "score": [1]}),
            "Column 'age' is infinite in row 0",
        ),
        (pd.DataFrame({"age": [], "city": []}), "no rows"),
    ],
)
def test_bad_frames_name_the_column(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_frame(frame, SCHEMA)


def test_a_frame_already_in_shape_is_returned_without_a_copy() -> None:
    schema = InputSchema((Column("a", "double"), Column("b", "long")))
    exact = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert check_frame(exact, schema) is exact
    # Integers, another order or a text column are still coerced into a new frame.
    for frame in (
        pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}),
        pd.DataFrame({"b": [3.0, 4.0], "a": [1.0, 2.0]}),
    ):
        out = check_frame(frame, schema)
        assert out is not frame
        assert list(out.columns) == ["a", "b"]
        assert list(out.dtypes) == ["float64", "float64"]
