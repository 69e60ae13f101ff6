"""The input rules every way into a model applies: real-time faces, batch, uploads, pages.

One rule set, two executors: ``check_rows`` for decoded requests (plain Python lists,
no DataFrame per request) and ``check_frame`` / ``frame_warnings`` for batch chunks
(pandas columns, vectorised). The rules:

- a column the model takes that the input lacks entirely is an error naming it, unless
  the deployment opts in to imputing it (then every row is flagged);
- a column the model does not take, a value of the wrong type, an infinite number or a
  date that does not parse is an error naming the column and the row;
- a null (or NaN) is left for the model's imputer and flagged;
- a category never seen in training and a number outside the training range are
  answered and flagged.

Flags are ``InputWarning``s: a feature, a reason (``missing``, ``unseen``,
``out_of_range``) and a sentence a person understands. What training saw (ranges and
categories) is recorded by training as ``lanza.inputs`` in the MLmodel metadata
(``describe_inputs``) and read into the schema's columns when a model loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from lanza.errors import ValidationError
from lanza.runtime.schema import Column, InputSchema

Reason = Literal["missing", "unseen", "out_of_range"]
MAX_CATEGORIES = 1000
DATETIME: Final = "datetime64[ns]"  # what MLflow's signatures mean by ``datetime``
NUMBER = (int, float)
NUMBER_TYPES: Final = frozenset({int, float})


@dataclass(frozen=True)
class InputWarning:
    """One flagged value of one row: the model answered, but a person should know why to
    trust the answer less."""

    feature: str
    reason: Reason
    value: Any = None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        """The flag in plain words."""
        if self.reason == "missing":
            return f"{self.feature} was not given; a typical value was used."
        if self.reason == "unseen":
            return (
                f"{self.value} ({self.feature}) was never seen in training; this answer is a guess."
            )
        return (
            f"{self.feature} {plain_number(self.value)} is outside the training range "
            f"{plain_number(self.low)} to {plain_number(self.high)}; this answer is a guess."
        )


@dataclass
class CheckedRows:
    """Validated columns in schema order, and the flags of each row."""

    columns: dict[str, list[Any]]
    warnings: list[list[InputWarning]] = field(default_factory=list)


def describe_inputs(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """What training saw per column: numbers' range, text columns' categories (when few).

    Recorded with the model so that serving can flag values the model never saw.
    """
    facts: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        series = frame[name].dropna()
        if not len(series) or pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_numeric_dtype(series):
            values = series.astype("float64")
            values = values[np.isfinite(values)]
            if len(values):
                facts[str(name)] = {"min": float(values.min()), "max": float(values.max())}
        elif not pd.api.types.is_datetime64_any_dtype(series):
            seen = series.astype(str).unique()
            if len(seen) <= MAX_CATEGORIES:
                facts[str(name)] = {"categories": sorted(str(v) for v in seen)}
    return facts


def missing_columns(schema: InputSchema, present: set[str], impute: bool = False) -> list[str]:
    """Columns the model takes that the input lacks, when that is an error."""
    if impute:
        return []
    return [c.name for c in schema.columns if c.name not in present]


def missing_error(missing: list[str], where: str = "") -> ValidationError:
    """The error for columns absent from the input, naming the first."""
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return ValidationError(f"Column '{missing[0]}' is missing{where}{more}.")


def check_rows(
    columns: dict[str, list[Any]], count: int, schema: InputSchema, impute: bool = False
) -> CheckedRows:
    """Validate named columns of plain values against ``schema``; flag what the model
    answers on thin ground."""
    missing = missing_columns(schema, set(columns), impute)
    if missing:
        raise missing_error(missing)
    known = set(schema.names)
    extra = [name for name in columns if name not in known]
    if extra:
        raise ValidationError(f"Column '{extra[0]}' is not an input of this model.")
    out: dict[str, list[Any]] = {}
    flags: list[list[InputWarning]] = [[] for _ in range(count)]
    for column in schema.columns:
        values = columns.get(column.name)
        if values is None:
            values = [None] * count
        out[column.name] = check_values(column, values)
        if _may_flag(column, out[column.name]):
            for index, value in enumerate(out[column.name]):
                flag = value_warning(column, value)
                if flag is not None:
                    flags[index].append(flag)
    return CheckedRows(out, flags)


def _may_flag(column: Column, values: list[Any]) -> bool:
    """Whether any value of a checked column may need a flag: a test in C over the whole
    column, so that the usual clean request costs no Python loop per value."""
    if None in values:
        return True
    if column.numeric:
        total = sum(values)  # NaN when a value is NaN (infinities were refused)
        if math.isnan(total):
            return True
        low, high = column.minimum, column.maximum
        return low is not None and high is not None and (min(values) < low or max(values) > high)
    if column.categories is not None:
        try:
            return not column.categories.issuperset(values)
        except TypeError:  # an unhashable value: let the loop judge it
            return True
    return False


def check_values(column: Column, values: list[Any]) -> list[Any]:
    """One column's values, checked (and dates parsed), or a ValidationError naming the row."""
    if column.numeric and _plain_numbers(values):
        return values
    for index, value in enumerate(values):
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
    if column.dated:
        return _dates(column, values)
    return values


def _plain_numbers(values: list[Any]) -> bool:
    """Whether every value is a finite int or float (NaN allowed: it is flagged, not
    refused), tested in C over the whole column: the usual numeric column of a request
    then costs no Python loop per value. False sends the column through the loop that
    names the bad row."""
    if not set(map(type, values)) <= NUMBER_TYPES:  # exact types: a bool is not a number
        return False
    try:
        total = sum(values)
    except OverflowError:  # an int too large for a float: the loop judges it
        return False
    return not math.isinf(total) and not (math.isnan(total) and _any_infinite(values))


def _any_infinite(values: list[Any]) -> bool:
    """Whether a column whose sum is NaN holds an infinity (a NaN alone makes it NaN too)."""
    return any(isinstance(v, float) and math.isinf(v) for v in values)


def value_warning(column: Column, value: Any) -> InputWarning | None:
    """The flag for one checked value, if it needs one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return InputWarning(column.name, "missing")
    low, high = column.minimum, column.maximum
    if column.categories is not None and isinstance(value, str):
        if value not in column.categories:
            return InputWarning(column.name, "unseen", value)
    elif column.numeric and low is not None and high is not None and not low <= value <= high:
        return InputWarning(column.name, "out_of_range", value, low, high)
    return None


def _dates(column: Column, values: list[Any]) -> list[Any]:
    """Text in ISO 8601 (or datetimes) as naive UTC timestamps; a bad one names its row."""
    for index, value in enumerate(values):
        if value is not None and not isinstance(value, str | pd.Timestamp | np.datetime64):
            raise ValidationError(_date_message(column, index, value))
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), errors="coerce", utc=True, format="ISO8601"
    )
    bad = parsed.isna() & pd.Series([v is not None for v in values])
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(_date_message(column, index, values[index]))
    naive = parsed.dt.tz_convert(None)
    return [None if pd.isna(v) else v for v in naive.tolist()]


def _date_message(column: Column, row: int | str, value: Any) -> str:
    return (
        f"Column '{column.name}' must be a date or time such as '2024-05-01' or "
        f"'2024-05-01T13:45:00'; row {row} has {value!r}."
    )


def check_frame(frame: pd.DataFrame, schema: InputSchema, impute: bool = False) -> pd.DataFrame:
    """Check and coerce a frame: the right columns, in order, of the right types."""
    if len(frame) == 0:
        raise ValidationError("The request has no rows to predict.")
    present = {str(c) for c in frame.columns}
    missing = missing_columns(schema, present, impute)
    if missing:
        raise missing_error(missing)
    known = set(schema.names)
    extra = [c for c in present if c not in known]
    if extra:
        raise ValidationError(f"Column '{extra[0]}' is not an input of this model.")
    if _exact(frame, schema):  # a batch chunk read to the schema already: no copy
        return frame
    out = {}
    for column in schema.columns:
        if column.name in present:
            out[column.name] = _coerce(frame[column.name], column)
        else:
            out[column.name] = pd.Series([np.nan] * len(frame), dtype="float64")
    return pd.DataFrame(out, index=frame.index)


def frame_warnings(
    frame: pd.DataFrame, schema: InputSchema, counts: dict[tuple[str, str], int] | None = None
) -> list[str | None]:
    """Per row of a checked frame, its flags in words joined by a space, or ``None``.

    ``counts``, when given, gains the rows flagged per (feature, reason): what serving
    counts on ``/metrics`` for each answer, for monitoring to count batch rows alike.
    """
    flagged: dict[int, list[str]] = {}
    for column in schema.columns:
        if column.name not in frame.columns:
            continue
        series = frame[column.name]
        masks: list[tuple[np.ndarray[Any, Any], Reason]] = []
        if column.numeric:  # NumPy straight on the float64 values: the usual batch column
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            masks.append((np.isnan(values), "missing"))
            if column.minimum is not None and column.maximum is not None:
                with np.errstate(invalid="ignore"):
                    outside = (values < column.minimum) | (values > column.maximum)
                masks.append((outside, "out_of_range"))
        else:
            masks.append((series.isna().to_numpy(), "missing"))
        if column.categories is not None and not column.numeric:
            unseen = series.notna() & ~series.astype(str).isin(column.categories)
            masks.append((unseen.to_numpy(), "unseen"))
        for mask, reason in masks:
            if not mask.any():
                continue
            if counts is not None:
                key = (column.name, reason)
                counts[key] = counts.get(key, 0) + int(mask.sum())
            cells = series.to_numpy(dtype=object)
            for position in np.flatnonzero(mask).tolist():
                flag = InputWarning(
                    column.name, reason, cells[position], column.minimum, column.maximum
                )
                flagged.setdefault(position, []).append(flag.text)
    if not flagged:
        return [None] * len(frame)
    return [" ".join(flagged[i]) if i in flagged else None for i in range(len(frame))]


def _exact(frame: pd.DataFrame, schema: InputSchema) -> bool:
    """Whether the frame is already what ``check_frame`` would make: every column of the
    schema, numeric, in order, as float64."""
    return (
        [str(c) for c in frame.columns] == schema.names
        and all(c.numeric for c in schema.columns)
        and all(isinstance(t, np.dtype) and t == np.float64 for t in frame.dtypes)
    )


def _coerce(series: pd.Series, column: Column) -> pd.Series:
    if column.numeric:
        return _numeric(series, column)
    if column.type == "boolean":
        if pd.api.types.is_bool_dtype(series):
            return series
        raise ValidationError(f"Column '{column.name}' must be true or false.")
    if column.dated:
        return _date_series(series, column)
    if column.type == "string":
        bad = series[series.notna() & ~series.map(lambda v: isinstance(v, str))]
        if len(bad):
            raise ValidationError(
                f"Column '{column.name}' must be text; row {bad.index[0]} has {bad.iloc[0]!r}."
            )
        return series.astype(object)
    return series


def _date_series(series: pd.Series, column: Column) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        tz = getattr(series.dtype, "tz", None)
        naive = series.dt.tz_convert(None) if tz is not None else series
        return naive.astype(DATETIME)
    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    bad = series[parsed.isna() & series.notna()]
    if len(bad):
        raise ValidationError(_date_message(column, str(bad.index[0]), bad.iloc[0]))
    return parsed.dt.tz_convert(None).astype(DATETIME)


def _numeric(series: pd.Series, column: Column) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        raise ValidationError(f"Column '{column.name}' must be a number, not true/false.")
    if not pd.api.types.is_numeric_dtype(series):
        bad = series[series.notna() & ~series.map(_is_number)]
        if len(bad):
            raise ValidationError(
                f"Column '{column.name}' must be a number; row {bad.index[0]} has {bad.iloc[0]!r}."
            )
    values = series.astype("float64")
    infinite = values[np.isinf(values.to_numpy())]
    if len(infinite):
        raise ValidationError(f"Column '{column.name}' is infinite in row {infinite.index[0]}.")
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def plain_number(value: Any) -> str:
    """A number as a person writes it: integers as integers, few decimals, thousands
    separators from 10,000 (so years stay 2007), never e-notation."""
    if value is None:
        return "?"
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    grouping = "," if abs(number) >= 10_000 else ""
    if number.is_integer():
        return f"{int(number):{grouping}}"
    if abs(number) >= 100:
        return f"{number:{grouping}.1f}"
    if abs(number) >= 1e-4:
        return f"{number:.4g}"
    return f"{number:.10f}".rstrip("0")
