"""The predict form of a deployment: one field per signature column, shaped by the reference.

Numbers get a number input with the reference range and median as the example;
text columns with few distinct reference values become a choice of those values
(most frequent first); booleans a yes/no choice; dates a date input. The reference
sample is what training registered with the model version, so the form offers what
the model has seen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from lanza.monitoring.reference import Reference
from lanza.runtime.schema import Column, InputSchema

Kind = Literal["number", "category", "text", "boolean", "date"]
MAX_CATEGORIES = 50
DATES = {"datetime", "date"}


@dataclass(frozen=True)
class FormField:
    """One input of the form."""

    name: str
    kind: Kind
    type: str
    required: bool
    example: Any = None
    values: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Form:
    """Everything the predict page needs to draw itself."""

    deployment: str
    model: str
    task: str | None
    target: str | None
    classes: list[str] | None
    metric: str | None
    cv_mean: float | None
    fields: list[FormField]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def build_form(
    deployment: str, model: str, schema: InputSchema, reference: Reference | None
) -> Form:
    """The form for ``model`` as served by ``deployment``."""
    frame = reference.frame if reference is not None else None
    fields = [_field(column, _series(frame, column.name)) for column in schema.columns]
    if not schema.columns and reference is not None:
        # A model without a signature: the reference sample still names its inputs.
        fields = [
            _field(Column(name, _mlflow_type(_series(frame, name))), _series(frame, name))
            for name in reference.features
        ]
    return Form(
        deployment,
        model,
        reference.task if reference else None,
        reference.target if reference else None,
        reference.classes if reference else None,
        reference.metric if reference else None,
        reference.cv_mean if reference else None,
        fields,
    )


def _series(frame: pd.DataFrame | None, name: str) -> pd.Series | None:
    if frame is None or name not in frame.columns:
        return None
    series = frame[name].dropna()
    return series if len(series) else None


def _mlflow_type(series: pd.Series | None) -> str:
    if series is not None and pd.api.types.is_bool_dtype(series):
        return "boolean"
    if series is not None and pd.api.types.is_numeric_dtype(series):
        return "double"
    return "string"


def _field(column: Column, series: pd.Series | None) -> FormField:
    if column.numeric:
        return _number(column, series)
    if column.type == "boolean":
        flag = bool(series.mode().iloc[0]) if series is not None else False
        return FormField(column.name, "boolean", column.type, column.required, flag)
    if column.type in DATES:
        day = str(series.iloc[0])[:10] if series is not None else None
        return FormField(column.name, "date", column.type, column.required, day)
    if series is None:
        return FormField(column.name, "text", column.type, column.required)
    counts = series.astype(str).value_counts()
    if len(counts) <= MAX_CATEGORIES:
        values = [str(v) for v in counts.index]
        return FormField(column.name, "category", column.type, column.required, values[0], values)
    return FormField(column.name, "text", column.type, column.required, str(counts.index[0]))


def _number(column: Column, series: pd.Series | None) -> FormField:
    if series is None or not pd.api.types.is_numeric_dtype(series):
        integer = column.type in ("long", "integer")
        return FormField(column.name, "number", column.type, column.required, integer=integer)
    values = series.astype("float64")
    integer = bool((values == values.round()).all())
    median = float(values.median())
    example: float | int = round(median) if integer else _round(median)
    return FormField(
        column.name,
        "number",
        column.type,
        column.required,
        example,
        minimum=float(values.min()),
        maximum=float(values.max()),
        integer=integer,
    )


def _round(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant figures: an example a person can type."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def baselines(form: Form) -> dict[str, Any]:
    """Each field's typical value (median or most frequent), the explanation's reference point."""
    return {f.name: f.example for f in form.fields if f.example is not None}
