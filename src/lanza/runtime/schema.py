"""Input validation against an MLflow signature, before the model sees a row.

A missing column, an extra column, a value of the wrong type or a frame of the wrong
shape is a ``ValidationError`` (HTTP 422) that names the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import ValidationError

NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
NUMERIC_KINDS = set(NUMERIC)


@dataclass(frozen=True)
class Column:
    """One input column: name, MLflow type, and whether it may be left out."""

    name: str
    type: str
    required: bool = True

    @property
    def numeric(self) -> bool:
        """Numbers (ints are accepted where doubles are declared, and the reverse if whole)."""
        return self.type in NUMERIC_KINDS


@dataclass(frozen=True)
class TensorSpec:
    """One tensor input of a model logged with a tensor signature (a numpy input example).

    ``name`` is ``None`` for the single unnamed tensor; ``shape`` has -1 where any size
    goes (the first dimension is the rows).
    """

    name: str | None
    dtype: str
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """The name requests use for this tensor (``input`` when it has none)."""
        return self.name or "input"


@dataclass(frozen=True)
class InputSchema:
    """The columns a model takes, in order; or its tensors; and its params schema.

    ``params`` is the signature's params schema as MLflow writes it (JSON text), or
    ``None`` when the model takes no params.
    """

    columns: tuple[Column, ...]
    tensors: tuple[TensorSpec, ...] = ()
    params: str | None = None

    @property
    def names(self) -> list[str]:
        """Column names in signature order."""
        return [c.name for c in self.columns]

    @classmethod
    def from_signature(cls, signature: Any) -> InputSchema | None:
        """Read an MLflow signature: columns, or tensors; ``None`` when there is none."""
        if signature is None:
            return None
        params = None if signature.params is None else signature.params.to_json()
        inputs = signature.inputs
        if inputs is not None and inputs.is_tensor_spec():
            tensors = tuple(
                TensorSpec(
                    None if spec.name is None else str(spec.name),
                    str(spec.type.name),
                    tuple(int(d) for d in spec.shape),
                )
                for spec in inputs.inputs
            )
            return cls((), tensors, params)
        if inputs is None or not inputs.has_input_names():
            return None if params is None else cls((), (), params)
        cols = tuple(
            Column(
                str(spec.name),
                str(getattr(spec.type, "name", spec.type)),
                bool(getattr(spec, "required", True)),
            )
            for spec in inputs.inputs
        )
        return cls(cols, (), params)

    def _exact(self, frame: pd.DataFrame) -> bool:
        """Whether the frame is already what ``validate`` would make: every column of the
        schema, numeric, in order, as float64."""
        return (
            [str(c) for c in frame.columns] == self.names
            and all(c.numeric for c in self.columns)
            and all(_is_float64(t) for t in frame.dtypes)
        )

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check and coerce a frame: the right columns, in order, of the right types."""
        if len(frame) == 0:
            raise ValidationError("The request has no rows to predict.")
        present = {str(c) for c in frame.columns}
        missing = [c.name for c in self.columns if c.required and c.name not in present]
        if missing:
            raise ValidationError(
                f"Column '{missing[0]}' is missing"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + "."
            )
        known = set(self.names)
        extra = [c for c in present if c not in known]
        if extra:
            raise ValidationError(f"Column '{extra[0]}' is not an input of this model.")
        if self._exact(frame):  # a batch chunk read to the schema already: no copy
            return frame
        out = {}
        for column in self.columns:
            if column.name in present:
                out[column.name] = _coerce(frame[column.name], column)
            else:
                out[column.name] = pd.Series([np.nan] * len(frame), dtype="float64")
        return pd.DataFrame(out, index=frame.index)


def _is_float64(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype == np.float64


def _coerce(series: pd.Series, column: Column) -> pd.Series:
    if column.numeric:
        return _numeric(series, column)
    if column.type == "boolean":
        if pd.api.types.is_bool_dtype(series):
            return series
        raise ValidationError(f"Column '{column.name}' must be true or false.")
    if column.type == "string":
        bad = series[series.notna() & ~series.map(lambda v: isinstance(v, str))]
        if len(bad):
            raise ValidationError(
                f"Column '{column.name}' must be text; row {_row(bad)} has {bad.iloc[0]!r}."
            )
        return series.astype(object)
    return series


def _numeric(series: pd.Series, column: Column) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        raise ValidationError(f"Column '{column.name}' must be a number, not true/false.")
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype("float64")
    else:
        bad = series[series.notna() & ~series.map(_is_number)]
        if len(bad):
            raise ValidationError(
                f"Column '{column.name}' must be a number; row {_row(bad)} has {bad.iloc[0]!r}."
            )
        values = series.astype("float64")
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _row(bad: pd.Series) -> str:
    return str(bad.index[0])
