"""A ModelInferRequest decodes straight into numpy arrays, and refuses what does not fit."""

from __future__ import annotations

import numpy as np
import pytest

from lanza.errors import InvalidInputError
from lanza.serving.faces.grpc import open_inference_pb2 as pb
from lanza.serving.faces.grpc.face import infer_request


def _request(datatype: str, shape: list[int]) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="m", id="call-1")
    message.inputs.add(name="input", datatype=datatype, shape=shape)
    return message


def test_raw_contents_become_an_array_of_their_datatype_and_shape() -> None:
    message = _request("FP32", [2, 2])
    message.raw_input_contents.append(np.array([1, 2, 3, 4], "<f4").tobytes())
    message.outputs.add(name="predict_proba")
    message.parameters["probabilities"].bool_param = True
    decoded = infer_request(message)
    (tensor,) = decoded.tensors
    assert tensor.name == "input"
    assert tensor.values.dtype == np.float32
    assert tensor.values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert decoded.outputs == ["predict_proba"]
    assert decoded.parameters == {"probabilities": True}
    assert decoded.id == "call-1"
    assert decoded.gather is False  # gRPC calls never wait for a micro-batch


@pytest.mark.parametrize(
    ("datatype", "field", "values", "dtype"),
    [
        ("INT64", "int64_contents", [1, -2], np.int64),
        ("FP64", "fp64_contents", [0.5, 1.5], np.float64),
        ("BOOL", "bool_contents", [True, False], np.bool_),
        ("UINT8", "uint_contents", [0, 255], np.uint8),
    ],
)
def test_typed_contents_become_an_array_of_their_datatype(
    datatype: str, field: str, values: list[object], dtype: type
) -> None:
    message = _request(datatype, [2])
    getattr(message.inputs[0].contents, field).extend(values)
    (tensor,) = infer_request(message).tensors
    assert tensor.values.dtype == dtype
    assert tensor.values.tolist() == values


def test_bytes_contents_become_text() -> None:
    message = _request("BYTES", [1])
    message.inputs[0].contents.bytes_contents.append("día".encode())
    assert infer_request(message).tensors[0].values.tolist() == ["día"]


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda m: m.inputs[0].contents.int_contents.append(70000), "does not fit INT16"),
        (lambda m: m.inputs[0].contents.int_contents.extend([1, 2]), "has 2 values"),
        (lambda m: m.raw_input_contents.extend([b"\0", b"\0"]), "2 raw contents"),
        (lambda m: m.raw_input_contents.append(b"\0\0\0"), "whole number of INT16"),
    ],
)
def test_what_does_not_fit_is_refused_with_a_sentence(build: object, words: str) -> None:
    message = _request("INT16", [1])
    build(message)  # type: ignore[operator]
    with pytest.raises(InvalidInputError, match=words):
        infer_request(message)
