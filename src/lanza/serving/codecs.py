"""Wire formats of each face, decoded into a ``Payload`` (and encoded back where needed).

- native and MLflow scoring: ``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``, and ``text/csv`` for MLflow;
- Vertex AI: ``{"instances": [...], "parameters": {...}}``;
- Open Inference Protocol v2: typed tensors, JSON or the binary tensor extension.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from lanza.errors import (
    InvalidInputError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from lanza.runtime.schema import InputSchema
from lanza.serving.payload import Payload

JSON_TYPES = ("application/json", "")
CSV_TYPES = ("text/csv", "application/csv")
PARQUET_TYPE = "application/vnd.apache.parquet"
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


def decode_csv(body: bytes, schema: InputSchema | None = None) -> Payload:
    """``text/csv`` with a header row, as ``mlflow models serve`` accepts it: the model's
    text columns stay text (a zip code or an id that looks like a number is not one)."""
    import pandas as pd

    text = {} if schema is None else {c.name: str for c in schema.columns if c.type == "string"}
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=text or None)
    except Exception as exc:
        raise InvalidInputError(f"The CSV body cannot be read: {exc}") from exc
    return _from_frame(frame)


def decode_parquet(body: bytes) -> Payload:
    """``application/vnd.apache.parquet``: a table written by ``DataFrame.to_parquet``."""
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except Exception as exc:
        raise InvalidInputError(f"The Parquet body cannot be read: {exc}") from exc
    return _from_frame(frame)


def _from_frame(frame: Any) -> Payload:
    frame = frame.astype(object).where(frame.notna(), None)
    columns = {str(c): frame[c].tolist() for c in frame.columns}
    return Payload(columns=columns, count=len(frame))


@dataclass
class MlflowRequest:
    """An MLflow scoring request: the rows, and the inference ``params`` if any."""

    payload: Payload
    params: Any = None


def decode_mlflow_request(
    body: bytes, content_type: str | None, schema: InputSchema | None = None
) -> MlflowRequest:
    """An MLflow scoring request in JSON (with ``params``), CSV or Parquet."""
    kind = media_type(content_type)
    if kind in CSV_TYPES:
        return MlflowRequest(decode_csv(body, schema))
    if kind == PARQUET_TYPE:
        return MlflowRequest(decode_parquet(body))
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"Content type '{kind}' is not supported; send application/json, text/csv "
            f"or {PARQUET_TYPE}."
        )
    document = parse_json(body)
    params = document.get("params") if isinstance(document, dict) else None
    return MlflowRequest(decode_mlflow_json(document), params)


def decode_mlflow(body: bytes, content_type: str | None) -> Payload:
    """The rows of an MLflow scoring request in JSON, CSV or Parquet."""
    return decode_mlflow_request(body, content_type).payload


def decode_vertex(body: Any) -> Payload:
    """Vertex AI's ``{"instances": [...]}`` (objects per row, or arrays in signature order)."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise InvalidInputError('The body must be {"instances": [...]} as Vertex AI sends it.')
    if "parameters" in body and not isinstance(body["parameters"], dict | type(None)):
        raise InvalidInputError("'parameters' must be an object.")
    return Payload.from_records(body["instances"])


ENCODINGS = ("gzip", "deflate")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """A body sent with ``Content-Encoding`` gzip or deflate, inflated to at most ``limit``
    bytes (a small body must not inflate past the body limit)."""
    kind = (encoding or "identity").strip().lower()
    if kind == "identity":
        return body
    if kind not in ENCODINGS:
        raise UnsupportedMediaTypeError(
            f"Content-Encoding '{kind}' is not supported; send gzip, deflate or none."
        )
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if kind == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInputError(f"The {kind} body cannot be decompressed: {exc}.") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"The decompressed body is over the limit of {limit:,} bytes.")
    return out


def accepted_encoding(header: str | None) -> str | None:
    """The compression an ``Accept-Encoding`` header asks for (gzip first), if any."""
    offered = {
        part.split(";", 1)[0].strip().lower()
        for part in (header or "").split(",")
        if "q=0" not in part.replace(" ", "").split(";", 1)[-1] or ";" not in part
    }
    return next((kind for kind in ENCODINGS if kind in offered), None)


def compress(content: bytes, encoding: str) -> bytes:
    """``content`` compressed for ``Content-Encoding: encoding`` (gzip or deflate)."""
    if encoding == "gzip":
        return gzip.compress(content, compresslevel=5)
    return zlib.compress(content, 5)
