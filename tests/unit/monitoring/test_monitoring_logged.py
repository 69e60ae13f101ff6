"""Decoding log rows: what every writer, current or earlier, left in the table reads back."""

from __future__ import annotations

import math
from datetime import datetime

from lanza.monitoring.tables import PredictionLogRow
from lanza.monitoring.window import Logged


def _row(features: str) -> PredictionLogRow:
    return PredictionLogRow(
        id=7,
        request_id="r",
        deployment="d",
        model="m/1",
        face="native",
        created_at=datetime(2026, 1, 1),
        features=features,
        prediction="[1, 0]",
        probabilities="[[0.25, 0.75], [0.5, 0.5]]",
        classes='["no", "yes"]',
        latency_ms=1.5,
        shadow=False,
    )


def test_a_row_decodes_to_its_values() -> None:
    logged = Logged.decode(_row('{"a": [1.5, null], "b": ["x", "y"]}'))
    assert logged.features == {"a": [1.5, None], "b": ["x", "y"]}
    assert logged.prediction == [1, 0]
    assert logged.probabilities == [[0.25, 0.75], [0.5, 0.5]]
    assert logged.classes == ["no", "yes"]
    assert logged.created_at.tzinfo is not None


def test_nan_written_by_an_earlier_writer_still_reads() -> None:
    """Earlier versions wrote the standard library's ``NaN``; the log must still read."""
    logged = Logged.decode(_row('{"a": [NaN, 2.0, Infinity]}'))
    values = logged.features["a"]
    assert math.isnan(values[0])
    assert values[1:] == [2.0, math.inf]
