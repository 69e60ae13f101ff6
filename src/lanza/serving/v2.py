"""The Open Inference Protocol v2 (KServe, Triton, MLServer): typed tensors in and out.

Inputs are either one tensor per column (shape ``[N]`` or ``[N, 1]``, named like the
column) or one ``[N, F]`` tensor whose columns follow the model's signature. Bodies may
use the binary tensor extension (``Inference-Header-Content-Length``), as
``tritonclient.http`` does by default.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from lanza.errors import InvalidInputError
from lanza.runtime.base import Prediction
from lanza.runtime.schema import InputSchema
from lanza.serving.payload import Payload

DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
MAX_ELEMENTS = 10_000_000


def decode_body(body: bytes, header_length: str | None) -> dict[str, Any]:
    """The JSON header, with binary tensors attached as ``_binary`` on their inputs."""
    if header_length is None:
        head, rest = body, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise InvalidInputError("Inference-Header-Content-Length does not match the body.")
        head, rest = body[: int(header_length)], body[int(header_length) :]
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"The inference request is not valid JSON: {exc}.") from exc
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise InvalidInputError("An inference request needs an 'inputs' array of tensors.")
    offset = 0
    for tensor in request["inputs"]:
        if not isinstance(tensor, dict):
            raise InvalidInputError("Each input must be a tensor object.")
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(rest):
                raise InvalidInputError(f"Input '{tensor.get('name')}' has a bad binary size.")
            tensor["_binary"] = rest[offset : offset + size]
            offset += size
    return request


@dataclass(frozen=True)
class DecodedTensor:
    """One input tensor as a face decoded it: its name, shape and values in that shape."""

    name: str
    shape: list[int]
    values: np.ndarray[Any, Any]


def tensor_values(tensor: dict[str, Any]) -> DecodedTensor:
    """One input tensor of a JSON request, checked against its datatype and shape."""
    name, datatype, shape = tensor_header(
        tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
    )
    if "_binary" in tensor:
        values = from_binary(name, datatype, tensor["_binary"])
    else:
        values = _from_json(name, datatype, tensor.get("data"))
    return shaped(name, shape, values)


def tensor_header(name: Any, datatype: Any, shape: Any) -> tuple[str, str, list[int]]:
    """A tensor's name, datatype and shape, checked (a 400 naming what is wrong)."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError("Each input tensor needs a 'name'.")
    if not isinstance(datatype, str) or datatype not in DTYPES:  # a list is unhashable
        raise InvalidInputError(f"Input '{name}' has unknown datatype {datatype!r}.")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        raise InvalidInputError(f"Input '{name}' needs a 'shape' of non-negative integers.")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise InvalidInputError(
            f"Input '{name}' has {count:,} elements; the limit is {MAX_ELEMENTS:,}."
        )
    return name, datatype, shape


def shaped(name: str, shape: list[int], values: np.ndarray[Any, Any]) -> DecodedTensor:
    """Flat values in the tensor's shape; a 400 when their count does not fill it."""
    count = math.prod(shape)
    if values.size != count:
        raise InvalidInputError(
            f"Input '{name}' has {values.size} values but shape {shape} needs {count}."
        )
    return DecodedTensor(name, shape, values.reshape(shape))


def to_payload(request: dict[str, Any], schema: InputSchema) -> Payload:
    """The inputs of a JSON request as rows (``tensors_payload``)."""
    return tensors_payload([tensor_values(t) for t in request["inputs"]], schema)


def tensors_payload(tensors: list[DecodedTensor], schema: InputSchema) -> Payload:
    """Tensors to rows: one tensor per column, or one 2-D tensor in signature order; for a
    model with a tensor signature, one tensor per input tensor (any name when it has one)."""
    if schema.tensors:
        return _tensor_payload(tensors, schema)
    if (
        len(tensors) == 1
        and len(tensors[0].shape) == 2
        and (tensors[0].name not in schema.names or tensors[0].shape[1] > 1)
    ):
        shape, values = tensors[0].shape, tensors[0].values
        rows = [[_plain(v) for v in row] for row in values.tolist()]
        return Payload(rows=rows, count=shape[0])
    columns: dict[str, list[Any]] = {}
    counts = set()
    for tensor in tensors:
        name, shape = tensor.name, tensor.shape
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInputError(
                f"Input '{name}' must have shape [N] or [N, 1] when inputs are columns."
            )
        columns[name] = [_plain(v) for v in tensor.values.reshape(-1).tolist()]
        counts.add(shape[0])
    if len(counts) != 1:
        raise InvalidInputError("Every input tensor must have the same first dimension.")
    return Payload(columns=columns, count=counts.pop())


def _tensor_payload(tensors: list[DecodedTensor], schema: InputSchema) -> Payload:
    single = len(schema.tensors) == 1 and schema.tensors[0].name is None
    if single and len(tensors) == 1:
        tensors = [DecodedTensor(schema.tensors[0].label, tensors[0].shape, tensors[0].values)]
    counts = {t.shape[0] for t in tensors}
    if len(counts) != 1:
        raise InvalidInputError("Every input tensor must have the same first dimension.")
    columns = {t.name: [_plain_rows(row) for row in t.values.tolist()] for t in tensors}
    return Payload(columns=columns, count=counts.pop())


def _plain_rows(row: Any) -> Any:
    return [_plain_rows(v) for v in row] if isinstance(row, list) else _plain(row)


def datatype(dtype: Any) -> str:
    """The v2 datatype that ``encode_outputs`` gives values of this numpy dtype."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def datatype_of(dtype: str) -> str:
    """The v2 datatype of an input tensor of this numpy dtype."""
    name = np.dtype(dtype).name
    for v2_type, numpy_name in DTYPES.items():
        if numpy_name == name:
            return v2_type
    return "BYTES"


def encode_outputs(prediction: Prediction, probabilities: bool) -> list[dict[str, Any]]:
    """Predictions (and probabilities) as v2 output tensors."""
    values = prediction.values
    outputs = [_tensor("predict", values)]
    if probabilities and prediction.probabilities is not None:
        outputs.append(_tensor("predict_proba", prediction.probabilities))
    return outputs


def _tensor(name: str, values: np.ndarray[Any, Any]) -> dict[str, Any]:
    kind = datatype(values.dtype)
    data = values.reshape(-1).tolist()
    if kind == "BYTES":
        data = [str(v) for v in data]
    return {"name": name, "datatype": kind, "shape": list(values.shape), "data": data}


def _from_json(name: str, datatype: str, data: Any) -> np.ndarray[Any, Any]:
    if not isinstance(data, list):
        raise InvalidInputError(f"Input '{name}' needs a 'data' array.")
    flat = _flatten(data)
    try:
        if datatype == "BYTES":
            return np.array([_text(v) for v in flat], dtype=object)
        if datatype == "BOOL":
            if not all(isinstance(v, bool) for v in flat):
                raise InvalidInputError(f"Input '{name}' is BOOL but has a non-boolean value.")
            return np.array(flat, dtype=bool)
        if any(isinstance(v, bool | str) or v is None for v in flat):
            raise InvalidInputError(f"Input '{name}' is {datatype} but has a non-numeric value.")
        return np.array(flat, dtype=DTYPES[datatype])
    except (OverflowError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"Input '{name}' does not fit {datatype}: {exc}.") from exc


def from_binary(name: str, datatype: str, raw: bytes) -> np.ndarray[Any, Any]:
    """Values in the binary tensor extension's layout (also gRPC's raw contents), as
    numpy reads them: fixed-size types without a copy, BYTES as strings."""
    if datatype == "BYTES":
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise InvalidInputError(f"Input '{name}' has truncated BYTES data.")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            items.append(raw[offset : offset + length].decode("utf-8", "replace"))
            offset += length
        return np.array(items, dtype=object)
    dtype = np.dtype(DTYPES[datatype]).newbyteorder("<")
    if len(raw) % dtype.itemsize:
        raise InvalidInputError(f"Input '{name}' binary data is not a whole number of {datatype}.")
    return np.frombuffer(raw, dtype=dtype)


def _flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack = [iter(data)]
    depth_limit = 32
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                if len(stack) >= depth_limit:
                    raise InvalidInputError("Tensor data is nested too deeply.")
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise InvalidInputError("BYTES tensors must hold strings.")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def wants_binary(body: dict[str, Any], name: str) -> bool:
    """Whether the request asks for output ``name`` in binary: per output
    (``parameters.binary_data``), or for all (``parameters.binary_data_output``)."""
    for output in body.get("outputs") or []:
        if isinstance(output, dict) and output.get("name") == name:
            flag = (output.get("parameters") or {}).get("binary_data")
            if flag is not None:
                return flag is True
    return (body.get("parameters") or {}).get("binary_data_output") is True


def encode_body(document: dict[str, Any], body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The response body, with the outputs asked for in binary appended after the JSON
    header (the binary tensor extension), and the headers that describe it."""
    chunks = []
    for output in document["outputs"]:
        if wants_binary(body, output["name"]):
            raw = tensor_bytes(output["datatype"], output.pop("data"))
            output.setdefault("parameters", {})["binary_data_size"] = len(raw)
            chunks.append(raw)
    head = orjson.dumps(document)
    if not chunks:
        return head, {}
    return head + b"".join(chunks), {"inference-header-content-length": str(len(head))}


def tensor_bytes(datatype: str, data: list[Any]) -> bytes:
    """Flat tensor values as the binary tensor extension lays them out (little-endian;
    BYTES as 4-byte lengths, each followed by the value)."""
    if datatype == "BYTES":
        parts = []
        for value in data:
            raw = value if isinstance(value, bytes) else str(value).encode()
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    dtype = np.dtype(DTYPES[datatype]).newbyteorder("<")
    return np.asarray(data, dtype=dtype).tobytes()
