"""Wire formats of each face, decoded into a ``Payload`` (and encoded back where needed).

- native and MLflow scoring: ``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``, and ``text/csv`` for MLflow;
- Vertex AI: ``{"instances": [...], "parameters": {...}}``;
- Open Inference Protocol v2: typed tensors, JSON or the binary tensor extension.
"""

from __future__ import annotations

import io
from typing import Any

import orjson

from lanza.errors import InvalidInputError, UnsupportedMediaTypeError, ValidationError
from lanza.serving.payload import Payload

JSON_TYPES = ("application/json", "")
CSV_TYPES = ("text/csv", "application/csv")
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes) -> Any:
    """A JSON body, or a 400 that says it is not JSON."""
    if not body:
        raise InvalidInputError("The request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"The request body is not valid JSON: {exc}.") from exc


def require_json(content_type: str | None) -> None:
    """415 unless the body is JSON."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"Content type '{kind}' is not supported here; send application/json."
        )


def decode_mlflow_json(body: Any) -> Payload:
    """One of MLflow's JSON forms (the same forms the native API accepts)."""
    if not isinstance(body, dict):
        raise InvalidInputError(
            "The body must be a JSON object with one of: " + ", ".join(MLFLOW_KEYS) + "."
        )
    present = [k for k in MLFLOW_KEYS if k in body]
    if len(present) != 1:
        raise InvalidInputError(
            "The body must have exactly one of: "
            + ", ".join(MLFLOW_KEYS)
            + (f" (found {', '.join(present)})." if present else ".")
        )
    key = present[0]
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise InvalidInputError("'dataframe_split' needs 'columns' and 'data' arrays.")
        columns = value.get("columns")
        if not isinstance(columns, list):
            return Payload.from_records(value["data"])
        return Payload.from_split(columns, value["data"])
    if isinstance(value, dict):
        return Payload.from_columns(value)
    if not isinstance(value, list):
        raise InvalidInputError(f"'{key}' must be an array of rows or an object of columns.")
    return Payload.from_records(value)


def decode_csv(body: bytes) -> Payload:
    """``text/csv`` with a header row, as ``mlflow models serve`` accepts it."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except Exception as exc:
        raise InvalidInputError(f"The CSV body cannot be read: {exc}") from exc
    frame = frame.astype(object).where(frame.notna(), None)
    columns = {str(c): frame[c].tolist() for c in frame.columns}
    return Payload(columns=columns, count=len(frame))


def decode_mlflow(body: bytes, content_type: str | None) -> Payload:
    """An MLflow scoring request in JSON or CSV."""
    kind = media_type(content_type)
    if kind in CSV_TYPES:
        return decode_csv(body)
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"Content type '{kind}' is not supported; send application/json or text/csv."
        )
    return decode_mlflow_json(parse_json(body))


def decode_vertex(body: Any) -> Payload:
    """Vertex AI's ``{"instances": [...]}`` (objects per row, or arrays in signature order)."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise InvalidInputError('The body must be {"instances": [...]} as Vertex AI sends it.')
    if "parameters" in body and not isinstance(body["parameters"], dict | type(None)):
        raise InvalidInputError("'parameters' must be an object.")
    return Payload.from_records(body["instances"])


def check_count(payload: Payload, limit: int) -> None:
    """422 for more rows than a request may carry."""
    if payload.count > limit:
        raise ValidationError(f"The request has {payload.count:,} rows; the limit is {limit:,}.")
