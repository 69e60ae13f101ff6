"""Score one chunk: cast, validate against the model's schema, predict, build the output.

The fast path validates and predicts the whole chunk at once. Only when that fails
are the bad rows found, by halving the chunk (a handful of calls for a few bad rows),
with the schema's and the model's own checks, so good rows still get predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lanza.batch.readers import Unread
from lanza.batch.spec import RowError, ScoredChunk
from lanza.errors import BatchError, LanzaError
from lanza.records import SampledRow
from lanza.runtime.base import ModelRuntime, Prediction
from lanza.runtime.rules import check_frame, frame_warnings
from lanza.runtime.schema import Column, InputSchema

PREDICTION = "prediction"
WARNINGS = "warnings"


@dataclass(frozen=True)
class ScoreOptions:
    """What the scorer adds to the output, and whether the first bad row stops the job."""

    probabilities: bool = False
    fail_fast: bool = False
    log_rate: float = 0.0


class ChunkScorer:
    """Turns chunks into scored chunks with one loaded runtime; safe to share across threads."""

    def __init__(self, runtime: ModelRuntime, options: ScoreOptions) -> None:
        self.runtime = runtime
        self.options = options

    def score(self, unread: Unread) -> ScoredChunk:
        """The chunk's predictions for every good row, and a reason for every bad one."""
        chunk = unread.load()
        frame = to_frame(chunk.features, self.runtime.schema)
        numbers = chunk.numbers
        if numbers is None:
            frame.index = pd.RangeIndex(chunk.start, chunk.start + chunk.features.num_rows)
        else:
            frame.index = pd.Index(numbers)
        errors = list(chunk.errors)
        schema = self.runtime.schema
        valid, bad = isolate(frame, lambda rows: check_frame(rows, schema))
        errors += bad
        self._stop_on(errors)
        valid, prediction, failed = self._predict_good(valid)
        errors += failed
        rows = valid.index.to_numpy()
        positions = rows - chunk.start if numbers is None else np.searchsorted(numbers, rows)
        counts: dict[tuple[str, str], int] = {}
        schema = self.runtime.schema
        flags = frame_warnings(valid, schema, counts) if schema.columns else None
        kept = chunk.kept.take(pa.array(positions, pa.int64()))
        table = output_table(kept, prediction, flags)
        errors = [e if e.source else RowError(e.row, e.reason, chunk.source) for e in errors]
        errors.sort(key=lambda e: e.row)
        sample = self._sample(chunk.index, valid, prediction)
        return ScoredChunk(chunk.index, chunk.start, chunk.rows, table, errors, sample, counts)

    def _sample(
        self, index: int, frame: pd.DataFrame, prediction: Prediction | None
    ) -> list[SampledRow]:
        """About ``log_rate`` of the good rows, the same ones whenever the chunk is rescored."""
        rate = self.options.log_rate
        if rate <= 0 or prediction is None or not len(frame):
            return []
        picked = np.flatnonzero(np.random.default_rng(index).random(len(frame)) < rate).tolist()
        rows = frame.index.to_numpy()
        values = prediction.to_list()
        proba = prediction.probabilities
        records = frame.iloc[picked].to_dict(orient="records")
        return [
            SampledRow(
                int(rows[i]),
                {str(k): _plain_value(v) for k, v in record.items()},
                values[i],
                None if proba is None else [float(p) for p in proba[i]],
                prediction.classes,
            )
            for i, record in zip(picked, records, strict=True)
        ]

    def _predict_good(
        self, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, Prediction | None, list[RowError]]:
        if not len(frame):
            return frame, None, []
        try:
            return frame, self._predict(frame), []
        except LanzaError:
            pass
        good, bad = isolate(frame, self._check)
        self._stop_on(bad)
        return good, (self._predict(good) if len(good) else None), bad

    def _predict(self, frame: pd.DataFrame) -> Prediction:
        prediction = self.runtime.predict_frame(frame, self.options.probabilities)
        if len(prediction) != len(frame):
            raise BatchError(
                f"{self.runtime.ref} returned {len(prediction)} predictions for {len(frame)} rows."
            )
        return prediction

    def _check(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._predict(frame)
        return frame

    def _stop_on(self, errors: list[RowError]) -> None:
        if self.options.fail_fast and errors:
            first = min(errors, key=lambda e: e.row)
            raise BatchError(f"Row {first.row} failed and --fail-fast is set: {first.reason}")


def isolate(
    frame: pd.DataFrame, check: Callable[[pd.DataFrame], pd.DataFrame]
) -> tuple[pd.DataFrame, list[RowError]]:
    """Rows that pass ``check`` (as it returns them) and a reason for each row that does not.

    The whole frame is tried first; on failure it is halved until single rows fail.
    """
    try:
        return check(frame), []
    except LanzaError as exc:
        if len(frame) == 1:
            return frame.iloc[0:0], [RowError(int(frame.index[0]), exc.message)]
    half = len(frame) // 2
    left, left_bad = isolate(frame.iloc[:half], check)
    right, right_bad = isolate(frame.iloc[half:], check)
    return pd.concat([left, right]), left_bad + right_bad


def to_frame(features: pa.Table, schema: InputSchema) -> pd.DataFrame:
    """A pandas frame with text columns cast to the schema's numbers and booleans.

    A column with values that are not numbers keeps those values as they are, so the
    schema's validation names them and only their rows fail.
    """
    types = {c.name: c for c in schema.columns}
    text = [n for n in features.column_names if pa.types.is_string(features.schema.field(n).type)]
    if not any(n in types for n in text):
        frame: pd.DataFrame = features.to_pandas()  # one copy, one block: the usual case
        return frame
    columns: dict[str, Any] = {}
    for name in features.column_names:
        column = features.column(name)
        spec = types.get(name)
        if spec is not None and pa.types.is_string(column.type):
            columns[name] = _cast(column, spec)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns)


def _cast(column: pa.ChunkedArray, spec: Column) -> Any:
    target = pa.float64() if spec.numeric else pa.bool_() if spec.type == "boolean" else None
    if target is None:
        return column.to_pandas()
    try:
        return pc.cast(column, target).to_pandas()
    except pa.ArrowInvalid:
        text = column.to_pandas()
        if target == pa.bool_():
            return text
        numbers = pd.to_numeric(text, errors="coerce")
        mixed = numbers.astype(object)
        bad = numbers.isna() & text.notna() & (text.str.lower() != "nan")
        mixed[bad] = text[bad]
        return mixed


def output_table(
    kept: pa.Table, prediction: Prediction | None, flags: list[str | None] | None = None
) -> pa.Table:
    """Kept input columns, then ``prediction``, then ``warnings`` (each row's flags in
    words, when the model has a schema), then ``proba_<class>`` columns."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {n: kept.column(n) for n in kept.column_names}
    if prediction is None:
        columns[PREDICTION] = pa.array([], pa.null())
        if flags is not None:
            columns[WARNINGS] = pa.array([], pa.string())
        return pa.table(columns)
    columns[PREDICTION] = _arrow(prediction.values)
    if flags is not None:
        columns[WARNINGS] = pa.array(flags, pa.string())
    if prediction.probabilities is not None and prediction.classes is not None:
        for position, label in enumerate(prediction.classes):
            values = pa.array(prediction.probabilities[:, position], pa.float64())
            columns[f"proba_{label}"] = values
    return pa.table(columns)


def _arrow(values: np.ndarray[Any, Any]) -> pa.Array:
    if values.ndim > 1:
        return pa.array(values.tolist())
    return pa.array(values)


def _plain_value(value: Any) -> Any:
    """A JSON-ready cell: NumPy scalars as Python numbers, missing values as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
