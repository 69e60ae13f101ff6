"""Open Inference v2 encodings: compression, binary outputs and tensor bytes."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import orjson
import pytest

from lanza.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from lanza.serving import v2
from lanza.serving.codecs import accepted_encoding, compress, decompress


def test_request_bodies_inflate_within_the_limit() -> None:
    body = b'{"inputs": []}'
    assert decompress(gzip.compress(body), "gzip", 100) == body
    assert decompress(zlib.compress(body), "deflate", 100) == body
    assert decompress(body, None, 100) == body
    with pytest.raises(PayloadTooLargeError, match="over the limit of 1,000 bytes"):
        decompress(gzip.compress(b" " * 5000), "gzip", 1000)
    with pytest.raises(InvalidInputError, match="cannot be decompressed"):
        decompress(b"not gzip", "gzip", 1000)
    with pytest.raises(UnsupportedMediaTypeError, match="'br' is not supported"):
        decompress(body, "br", 1000)


def test_responses_compress_when_asked() -> None:
    assert accepted_encoding("gzip, deflate") == "gzip"
    assert accepted_encoding("deflate") == "deflate"
    assert accepted_encoding("br") is None
    assert accepted_encoding(None) is None
    assert gzip.decompress(compress(b"abc", "gzip")) == b"abc"
    assert zlib.decompress(compress(b"abc", "deflate")) == b"abc"


def test_binary_outputs_follow_the_extension() -> None:
    document = {
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [2], "data": [1, 0]},
            {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["yes"]},
        ]
    }
    body = {"outputs": [{"name": "label", "parameters": {"binary_data": False}}]}
    body["parameters"] = {"binary_data_output": True}
    content, headers = v2.encode_body(document, body)
    head = int(headers["inference-header-content-length"])
    header = orjson.loads(content[:head])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert header["outputs"][1]["data"] == ["yes"]
    assert np.frombuffer(content[head:], "<i8").tolist() == [1, 0]
    plain, none = v2.encode_body(
        {"outputs": [{"name": "p", "datatype": "FP64", "data": [1.0]}]}, {}
    )
    assert none == {}
    assert orjson.loads(plain)["outputs"][0]["data"] == [1.0]


def test_bytes_tensors_are_length_prefixed() -> None:
    raw = v2.tensor_bytes("BYTES", ["ab", "c"])
    assert raw == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 1) + b"c"
    assert v2.tensor_bytes("FP32", [1.5]) == np.float32(1.5).tobytes()
    assert v2.datatype("int32") == "INT64"
    assert v2.datatype_of("float32") == "FP32"
