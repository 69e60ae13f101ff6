"""Decoded request bodies, and their validation against a model's input schema.

Every face decodes into a ``Payload``: named columns, or unnamed rows that take the
schema's column order. ``check`` applies the input rules (``lanza.runtime.rules``) in
plain Python (no DataFrame per request, which would cost more than the model), names
the first bad column, and flags each row's values the model answers on thin ground.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from lanza.errors import ValidationError
from lanza.runtime.rules import CheckedRows, check_rows
from lanza.runtime.schema import InputSchema
from lanza.runtime.tensors import validate_tensors

MISSING: Any = object()


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
            columns = _same_keys(records)
            if columns is not None:
                return cls(columns=columns, count=len(records))
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


def _same_keys(records: list[dict[Any, Any]]) -> dict[str, list[Any]] | None:
    """Columns of records that all have the same keys (the usual request), transposed in
    C (``itemgetter`` and ``zip``) rather than one Python step per value; None when the
    keys differ between records (the general path then fills the gaps)."""
    first = records[0].keys()
    if len(first) < 2 or any(record.keys() != first for record in records):
        return None
    names = list(first)
    values = zip(*map(itemgetter(*names), records), strict=True)
    return {str(name): list(column) for name, column in zip(names, values, strict=True)}


def validate(payload: Payload, schema: InputSchema) -> dict[str, list[Any]]:
    """Named, typed columns in schema order, or a ValidationError naming the column."""
    return check(payload, schema).columns


def check(payload: Payload, schema: InputSchema, impute: bool = False) -> CheckedRows:
    """The payload's columns checked by the input rules, with each row's flags.

    ``impute``: a column left out entirely is given as nulls (and flagged) rather than
    refused, as a deployment may opt in to.
    """
    if payload.count == 0:
        raise ValidationError("The request has no rows to predict.")
    if schema.tensors:
        tensors = validate_tensors(payload.columns, payload.rows, payload.count, schema)
        return CheckedRows(tensors, [[] for _ in range(payload.count)])
    if not schema.columns:
        if payload.columns is None:
            raise ValidationError("This model has no signature; send named columns.")
        return CheckedRows(payload.columns, [[] for _ in range(payload.count)])
    columns = payload.columns if payload.columns is not None else _name_rows(payload, schema)
    for name, values in columns.items():
        if MISSING in values:
            index = next(i for i, v in enumerate(values) if v is MISSING)
            raise ValidationError(f"Column '{name}' is missing in row {index}.")
    return check_rows(columns, payload.count, schema, impute)


def _name_rows(payload: Payload, schema: InputSchema) -> dict[str, list[Any]]:
    assert payload.rows is not None
    width = len(schema.columns)
    for index, row in enumerate(payload.rows):
        if len(row) != width:
            shown = ", ".join(schema.names[:5]) + (", ..." if width > 5 else "")
            raise ValidationError(
                f"Row {index} has {len(row)} values; the model takes {width} columns ({shown})."
            )
    transposed = zip(*payload.rows, strict=True)  # in C: no Python step per value
    return {c.name: list(values) for c, values in zip(schema.columns, transposed, strict=True)}
