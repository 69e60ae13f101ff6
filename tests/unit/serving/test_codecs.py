"""Decoding every face's wire format, and refusing malformed ones with a clear sentence."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from lanza.errors import InvalidInputError, UnsupportedMediaTypeError, ValidationError
from lanza.runtime.schema import Column, InputSchema
from lanza.serving import v2
from lanza.serving.codecs import decode_mlflow, decode_vertex
from lanza.serving.payload import validate

SCHEMA = InputSchema((Column("a", "double"), Column("b", "string")))


def test_mlflow_forms_agree() -> None:
    forms = [
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}}',
        b'{"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}',
        b'{"instances": [[1, "x"], [2, "y"]]}',
        b'{"inputs": {"a": [1, 2], "b": ["x", "y"]}}',
    ]
    decoded = [validate(decode_mlflow(f, "application/json"), SCHEMA) for f in forms]
    decoded.append(validate(decode_mlflow(b"a,b\n1,x\n2,y\n", "text/csv"), SCHEMA))
    assert all(d == {"a": [1, 2], "b": ["x", "y"]} for d in decoded)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"", InvalidInputError, "empty"),
        (b"[1]", InvalidInputError, "JSON object"),
        (b'{"instances": [1], "inputs": [1]}', InvalidInputError, "exactly one of"),
        (
            b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}',
            ValidationError,
            "Row 0 of 'data' must be an array of 1 values",
        ),
        (b'{"instances": [{"a": 1}, [1]]}', ValidationError, "all be objects"),
        (b'{"inputs": {"a": [1], "b": ["x", "y"]}}', ValidationError, "same number"),
    ],
)
def test_malformed_mlflow_bodies(body: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        decode_mlflow(body, "application/json")


def test_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="text/plain"):
        decode_mlflow(b"a", "text/plain")


def test_infinite_and_missing_values() -> None:
    with pytest.raises(ValidationError, match="infinite"):
        validate(decode_vertex({"instances": [[float("inf"), "x"]]}), SCHEMA)
    with pytest.raises(ValidationError, match="Column 'b' is missing in row 1"):
        validate(decode_mlflow(b'{"instances": [{"a": 1, "b": "x"}, {"a": 2}]}', None), SCHEMA)


def test_v2_binary_tensors_round_trip() -> None:
    floats = np.array([1.5, 2.5], dtype="<f4").tobytes()
    words = b"".join(struct.pack("<I", len(w)) + w for w in (b"x", b"yz"))
    header = (
        b'{"inputs": [{"name": "a", "datatype": "FP32", "shape": [2], '
        b'"parameters": {"binary_data_size": 8}}, {"name": "b", "datatype": "BYTES", '
        b'"shape": [2, 1], "parameters": {"binary_data_size": 11}}]}'
    )
    request = v2.decode_body(header + floats + words, str(len(header)))
    payload = v2.to_payload(request, SCHEMA)
    assert validate(payload, SCHEMA) == {"a": [1.5, 2.5], "b": ["x", "yz"]}


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"name": "a", "datatype": "INT8", "shape": [1], "data": [300]}, "does not fit INT8"),
        ({"name": "a", "datatype": "BOOL", "shape": [1], "data": [1]}, "non-boolean"),
        ({"name": "a", "datatype": "FP32", "shape": [-1], "data": [1]}, "non-negative"),
        ({"name": "a", "datatype": "FP32", "shape": [1], "data": ["x"]}, "non-numeric"),
        ({"datatype": "FP32", "shape": [1], "data": [1]}, "needs a 'name'"),
    ],
)
def test_v2_bad_tensors(tensor: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        v2.to_payload({"inputs": [tensor]}, SCHEMA)
