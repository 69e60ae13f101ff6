"""Records become columns the same way whether or not every record has the same keys."""

from __future__ import annotations

import pytest

from lanza.errors import ValidationError
from lanza.runtime.schema import Column, InputSchema
from lanza.serving.payload import MISSING, Payload, check

SCHEMA = InputSchema((Column("a", "double"), Column("b", "string")))


def test_records_with_the_same_keys_in_any_order() -> None:
    payload = Payload.from_records([{"a": 1.0, "b": "x"}, {"b": "y", "a": 2}])
    assert payload.columns == {"a": [1.0, 2], "b": ["x", "y"]}
    assert payload.count == 2


def test_records_with_different_keys_mark_the_gaps() -> None:
    payload = Payload.from_records([{"a": 1.0}, {"a": 2.0, "b": "y"}])
    assert payload.columns == {"a": [1.0, 2.0], "b": [MISSING, "y"]}
    with pytest.raises(ValidationError, match="Column 'b' is missing in row 0"):
        check(payload, SCHEMA)


def test_one_key_and_positional_rows() -> None:
    assert Payload.from_records([{"a": 1.0}, {"a": 2.0}]).columns == {"a": [1.0, 2.0]}
    rows = Payload.from_records([[1.0, "x"], [2.0, "y"]])
    assert check(rows, SCHEMA).columns == {"a": [1.0, 2.0], "b": ["x", "y"]}
    with pytest.raises(ValidationError, match="Row 1 has 1 values; the model takes 2"):
        check(Payload.from_records([[1.0, "x"], [2.0]]), SCHEMA)
