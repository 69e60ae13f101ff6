"""What each column of a training table is, and the transformers for dates and free text.

``plan_columns`` sorts the feature columns of a table into numbers, low- and
high-cardinality categories, dates and free text, and leaves out the columns a model
cannot learn from (identifiers, constants, all-missing), each with the reason. The
candidates' preprocessing follows that plan, so every candidate sees the same features.

``DateParts`` and ``TextVectors`` live inside the registered pipeline: the model takes
dates as the strings (or datetimes) users have, and free text as written. They are
lanza types, which ``serialization.TRUSTED_PREFIXES`` lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

ONE_HOT_MAX = 30
"""Categories one-hot encoded per column; a column with more is target-encoded."""
TEXT_FEATURES = 100
"""Words (and pairs) kept per free-text column."""
SAMPLE = 500
ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|key|index)$|^unnamed: ?0$|^id[_\s.-]|^index$", re.I)


@dataclass(frozen=True)
class LeftOut:
    """A column the model does not use, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class ColumnPlan:
    """Which preprocessing each feature column gets."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    high_cardinality: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def used(self) -> list[str]:
        """Every column the model reads."""
        return [*self.numeric, *self.categorical, *self.high_cardinality, *self.dates, *self.text]

    def describe(self) -> list[str]:
        """One sentence per special treatment, for people."""
        lines = [f"column '{c.column}' left out: {c.reason}" for c in self.left_out]
        lines += [
            f"column '{c}' holds dates: used as year, month, weekday, day and time elapsed"
            for c in self.dates
        ]
        lines += [
            f"column '{c}' is free text: its {TEXT_FEATURES} most telling words are used"
            for c in self.text
        ]
        lines += [
            f"column '{c}' has more than {ONE_HOT_MAX} categories: target-encoded"
            for c in self.high_cardinality
        ]
        return lines


def plan_columns(features: pd.DataFrame) -> ColumnPlan:
    """Sort the columns of ``features`` by the preprocessing each needs."""
    plan = ColumnPlan()
    rows = len(features)
    for name in features.columns:
        column = features[name]
        label = str(name)
        reason = _left_out_reason(label, column, rows)
        if reason:
            plan.left_out.append(LeftOut(label, reason))
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            plan.numeric.append(label)
        elif pd.api.types.is_datetime64_any_dtype(column) or _looks_like_dates(column):
            plan.dates.append(label)
        elif _looks_like_text(column):
            plan.text.append(label)
        elif column.nunique() > ONE_HOT_MAX:
            plan.high_cardinality.append(label)
        else:
            plan.categorical.append(label)
    return plan


def _left_out_reason(name: str, column: pd.Series, rows: int) -> str:
    present = column.dropna()
    if present.empty:
        return "every value is missing"
    distinct = present.nunique()
    if distinct == 1:
        value = present.iloc[0]
        plain = value.item() if hasattr(value, "item") else value
        return f"it has one value ({plain!r}) in every row"
    if distinct < len(present) or rows < 20:
        return ""
    if pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column):
        return ""
    if pd.api.types.is_integer_dtype(column):
        counting = present.is_monotonic_increasing and present.max() - present.min() + 1 == len(
            present
        )
        if ID_NAME.search(name) or counting:
            return "it looks like an identifier (a different whole number in every row)"
        return ""
    if pd.api.types.is_datetime64_any_dtype(column) or _looks_like_text(column):
        return ""
    if _looks_like_dates(column):
        return ""
    return "it looks like an identifier (a different value in every row)"


def _strings(column: pd.Series) -> pd.Series:
    present = column.dropna()
    if len(present) > SAMPLE:
        present = present.sample(SAMPLE, random_state=0)
    return present.astype(str)


def _looks_like_dates(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = _strings(column)
    if values.empty or not values.str.contains(r"\d[-/.:]\d|\d{4}-\d", regex=True).mean() > 0.9:
        return False
    return bool(_parse_dates(values).notna().mean() > 0.9)


def _looks_like_text(column: pd.Series) -> bool:
    values = _strings(column)
    if values.empty:
        return False
    words = float(values.map(lambda v: len(v.split())).mean())
    return bool(words >= 3 and values.nunique() > 0.5 * len(values))


def _parse_dates(values: pd.Series) -> pd.Series:
    """Dates from strings or datetimes; anything that is not a date becomes NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("string")
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if parsed.notna().sum() < 0.9 * text.notna().sum():
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.Series(parsed, index=values.index)


class DateParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Dates as numbers: year, month, day, weekday, hour (when times vary) and days since 1970."""

    def fit(self, frame: Any, y: Any = None) -> DateParts:
        """Note the columns and whether they carry a time of day."""
        table = pd.DataFrame(frame)
        self.columns_ = [str(c) for c in table.columns]
        self.hours_ = [
            bool(_parse_dates(table[c]).dt.hour.fillna(0).nunique() > 1) for c in table.columns
        ]
        return self

    def transform(self, frame: Any) -> np.ndarray:
        """Numbers per date column; a value that is not a date gives NaN (imputed later)."""
        table = pd.DataFrame(frame)
        parts = []
        for index, column in enumerate(table.columns):
            dates = _parse_dates(table[column])
            parts += [dates.dt.year, dates.dt.month, dates.dt.day, dates.dt.dayofweek]
            if self.hours_[index]:
                parts.append(dates.dt.hour)
            elapsed = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            parts.append(elapsed)
        return np.column_stack([np.asarray(p, dtype="float64") for p in parts])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """year, month, day, weekday[, hour], days per column."""
        names = []
        for column, hours in zip(self.columns_, self.hours_, strict=True):
            parts = ["year", "month", "day", "weekday", *(["hour"] if hours else []), "days"]
            names += [f"{column}_{p}" for p in parts]
        return np.asarray(names, dtype=object)


class TextVectors(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """One free-text column as TF-IDF weights of its most frequent words and word pairs."""

    def __init__(self, max_features: int = TEXT_FEATURES) -> None:
        self.max_features = max_features

    def fit(self, frame: Any, y: Any = None) -> TextVectors:
        """Learn the vocabulary."""
        self.vectorizer_ = TfidfVectorizer(
            max_features=self.max_features, ngram_range=(1, 2), min_df=2, sublinear_tf=True
        )
        try:
            self.vectorizer_.fit(_documents(frame))
        except ValueError:  # no word occurs twice: fall back to every word
            self.vectorizer_.set_params(min_df=1)
            self.vectorizer_.fit(_documents(frame))
        return self

    def transform(self, frame: Any) -> np.ndarray:
        """Dense weights (few columns), so that every candidate can take them."""
        return np.asarray(self.vectorizer_.transform(_documents(frame)).toarray())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The words."""
        return np.asarray(self.vectorizer_.get_feature_names_out(), dtype=object)


def _documents(frame: Any) -> list[str]:
    table = pd.DataFrame(frame)
    column = table.iloc[:, 0]
    return [str(v) if isinstance(v, str) else "" for v in column.tolist()]
