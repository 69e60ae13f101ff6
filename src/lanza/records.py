"""What the serving and batch paths hand to their observers (the prediction log, monitors).

Plain records with no behaviour, on the bottom floor: the producers (the data plane,
batch jobs) and the consumers (monitoring) both import them, and neither imports the other
for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request, as observers (the prediction log, monitors) receive it."""

    request_id: str
    deployment: str
    model: str
    face: str
    columns: dict[str, list[Any]]
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None
    latency_ms: float
    created_at: float
    shadow: bool = False


@dataclass(frozen=True)
class SampledRow:
    """One scored row picked for the prediction log, so batch traffic is watched for drift."""

    row: int
    features: dict[str, Any]
    prediction: Any
    probabilities: list[float] | None
    classes: list[Any] | None


# The prediction log's column width: an id longer than this is cut the same way on every
# face, so the id a caller gets back is the id the log holds.
REQUEST_ID_CHARS = 64


def caller_request_id(header: str | None) -> str:
    """The caller's ``X-Request-ID``, cut to what the log keeps; empty when none was sent."""
    return (header or "")[:REQUEST_ID_CHARS]


# Faces whose body has no room for a row's input warnings (MLflow's, byte for byte) carry
# them in this response header; the v2 faces also in ``parameters`` under
# ``lanza_warnings``. The OpenAPI document names it too.
WARNINGS_HEADER = "lanza-warnings"
