"""The input rules, on rows and on frames: the same verdicts and the same flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from lanza.errors import ValidationError
from lanza.runtime.rules import check_frame, check_rows, describe_inputs, frame_warnings
from lanza.runtime.schema import Column, InputSchema

TRAINING = pd.DataFrame(
    {
        "island": ["Biscoe", "Dream", None],
        "bill": [32.1, 59.6, 40.0],
        "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
    }
)
SCHEMA = InputSchema(
    (Column("island", "string"), Column("bill", "double"), Column("when", "datetime"))
).with_facts(describe_inputs(TRAINING))


def test_training_records_ranges_and_categories() -> None:
    assert describe_inputs(TRAINING) == {
        "island": {"categories": ["Biscoe", "Dream"]},
        "bill": {"min": 32.1, "max": 59.6},
    }


ROWS: dict[str, list[Any]] = {
    "island": ["Biscoe", "Atlantis", None],
    "bill": [40.0, 120, 1234.5],
    "when": ["2024-01-05", "2024-01-05T10:00:00+02:00", None],
}
FLAGS = [
    None,
    "Atlantis (island) was never seen in training; this answer is a guess.",
    "island was not given; a typical value was used. "
    "bill 1234.5 is outside the training range 32.1 to 59.6; this answer is a guess. "
    "when was not given; a typical value was used.",
]


def test_rows_are_flagged_in_words() -> None:
    checked = check_rows(ROWS, 3, SCHEMA)
    assert checked.columns["when"][:2] == [datetime(2024, 1, 5), datetime(2024, 1, 5, 8)]
    texts = [" ".join(f.text for f in row) or None for row in checked.warnings]
    assert texts[0] is None
    assert texts[1] == (
        "Atlantis (island) was never seen in training; this answer is a guess. "
        "bill 120 is outside the training range 32.1 to 59.6; this answer is a guess."
    )
    assert texts[2] == FLAGS[2]


def test_frames_get_the_same_flags_as_rows() -> None:
    frame = check_frame(pd.DataFrame(ROWS), SCHEMA)
    assert str(frame["when"].dtype) == "datetime64[ns]"
    rows = [" ".join(f.text for f in row) or None for row in check_rows(ROWS, 3, SCHEMA).warnings]
    assert frame_warnings(frame, SCHEMA) == rows


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"island": ["a"], "bill": [1.0]}, "Column 'when' is missing."),
        ({**ROWS, "zip": [1, 2, 3]}, "Column 'zip' is not an input"),
        ({**ROWS, "bill": [1.0, float("-inf"), 2.0]}, "Column 'bill' is infinite in row 1"),
        ({**ROWS, "when": ["2024-01-01", "soon", None]}, "row 1 has 'soon'"),
        ({**ROWS, "when": ["2024-01-01", 5, None]}, "Column 'when' must be a date or time"),
    ],
)
def test_rows_and_frames_refuse_the_same_inputs(
    columns: dict[str, list[Any]], message: str
) -> None:
    count = len(next(iter(columns.values())))
    with pytest.raises(ValidationError, match=message):
        check_rows(columns, count, SCHEMA)
    with pytest.raises(ValidationError, match=message):
        check_frame(pd.DataFrame(columns), SCHEMA)


NUMBERS = InputSchema((Column("bill", "double"),))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, float("inf")], "Column 'bill' is infinite in row 1"),
        ([float("inf"), float("-inf")], "Column 'bill' is infinite in row 0"),
        ([float("nan"), 2, float("-inf")], "Column 'bill' is infinite in row 2"),
        ([1.5, True], "Column 'bill' must be a number; row 1 has True"),
        ([1.5, "2"], "Column 'bill' must be a number; row 1 has '2'"),
    ],
)
def test_a_numeric_column_names_its_bad_row(values: list[Any], message: str) -> None:
    """Clean numeric columns are checked in one pass in C; any doubt goes to the loop that
    names the row, whatever else the column holds."""
    with pytest.raises(ValidationError, match=message):
        check_rows({"bill": values}, len(values), NUMBERS)


def test_a_clean_numeric_column_keeps_its_values_and_flags_a_nan() -> None:
    checked = check_rows({"bill": [1, 2.5, float("nan"), 10**30]}, 4, NUMBERS)
    assert checked.columns["bill"][:2] == [1, 2.5]
    assert checked.columns["bill"][3] == 10**30
    assert [[f.reason for f in row] for row in checked.warnings] == [[], [], ["missing"], []]
