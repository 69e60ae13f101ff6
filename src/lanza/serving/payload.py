"""Decoded request bodies, and their validation against a model's input schema.

Every face decodes into a ``Payload``: named columns, or unnamed rows that take the
schema's column order. ``validate`` checks it in plain Python (no DataFrame per
request, which would cost more than the model) and names the first bad column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lanza.errors import ValidationError
from lanza.runtime.schema import Column, InputSchema
from lanza.runtime.tensors import validate_tensors

MISSING: Any = object()
NUMBER = (int, float)


@dataclass
class Payload:
    """Rows to predict: either named ``columns`` or positional ``rows``."""

    columns: dict[str, list[Any]] | None = None
    rows: list[list[Any]] | None = None
    count: int = 0

    @classmethod
    def from_records(cls, records: list[Any]) -> Payload:
        """``[{"a": 1, "b": 2}, ...]`` or ``[[1, 2], ...]``."""
        if not records:
            raise ValidationError("The request has no rows to predict.")
        if all(isinstance(r, dict) for r in records):
            keys: dict[str, None] = {}
            for record in records:
                keys.update(dict.fromkeys(record))
            columns = {str(k): [r.get(k, MISSING) for r in records] for k in keys}
            return cls(columns=columns, count=len(records))
        if all(isinstance(r, list) for r in records):
            return cls(rows=records, count=len(records))
        if not any(isinstance(r, dict | list) for r in records):
            return cls(rows=[[v] for v in records], count=len(records))
        raise ValidationError("Rows must all be objects (column: value) or all be arrays.")

    @classmethod
    def from_split(cls, columns: list[Any], data: list[Any]) -> Payload:
        """pandas' ``split`` orientation: column names and rows of values."""
        names = [str(c) for c in columns]
        if len(set(names)) != len(names):
            raise ValidationError("Column names in 'columns' must be unique.")
        for index, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(names):
                raise ValidationError(
                    f"Row {index} of 'data' must be an array of {len(names)} values, "
                    "one per column."
                )
        return cls(columns={n: [r[i] for r in data] for i, n in enumerate(names)}, count=len(data))

    @classmethod
    def from_columns(cls, columns: dict[str, Any]) -> Payload:
        """``{"a": [1, 2], "b": [3, 4]}``: one array per column, all the same length."""
        lists = {str(k): v if isinstance(v, list) else [v] for k, v in columns.items()}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise ValidationError("Every column must have the same number of values.")
        return cls(columns=lists, count=lengths.pop() if lengths else 0)


def validate(payload: Payload, schema: InputSchema) -> dict[str, list[Any]]:
    """Named, typed columns in schema order, or a ValidationError naming the column."""
    if payload.count == 0:
        raise ValidationError("The request has no rows to predict.")
    if schema.tensors:
        return validate_tensors(payload.columns, payload.rows, payload.count, schema)
    if not schema.columns:
        if payload.columns is None:
            raise ValidationError("This model has no signature; send named columns.")
        return payload.columns
    columns = payload.columns if payload.columns is not None else _name_rows(payload, schema)
    extra = [name for name in columns if name not in _names(schema)]
    if extra:
        raise ValidationError(f"Column '{extra[0]}' is not an input of this model.")
    out: dict[str, list[Any]] = {}
    for column in schema.columns:
        values = columns.get(column.name)
        if values is None:
            if column.required:
                raise ValidationError(f"Column '{column.name}' is missing.")
            values = [None] * payload.count
        out[column.name] = _check(column, values)
    return out


def _names(schema: InputSchema) -> set[str]:
    return {c.name for c in schema.columns}


def _name_rows(payload: Payload, schema: InputSchema) -> dict[str, list[Any]]:
    assert payload.rows is not None
    width = len(schema.columns)
    for index, row in enumerate(payload.rows):
        if len(row) != width:
            shown = ", ".join(schema.names[:5]) + (", ..." if width > 5 else "")
            raise ValidationError(
                f"Row {index} has {len(row)} values; the model takes {width} columns ({shown})."
            )
    return {c.name: [r[i] for r in payload.rows] for i, c in enumerate(schema.columns)}


def _check(column: Column, values: list[Any]) -> list[Any]:
    for index, value in enumerate(values):
        if value is MISSING:
            raise ValidationError(f"Column '{column.name}' is missing in row {index}.")
        if value is None:
            continue
        if column.numeric:
            if isinstance(value, bool) or not isinstance(value, NUMBER):
                raise ValidationError(
                    f"Column '{column.name}' must be a number; row {index} has {value!r}."
                )
            if isinstance(value, float) and math.isinf(value):
                raise ValidationError(f"Column '{column.name}' is infinite in row {index}.")
        elif column.type == "string" and not isinstance(value, str):
            raise ValidationError(
                f"Column '{column.name}' must be text; row {index} has {value!r}."
            )
        elif column.type == "boolean" and not isinstance(value, bool):
            raise ValidationError(
                f"Column '{column.name}' must be true or false; row {index} has {value!r}."
            )
    return values
