"""Models logged with a tensor signature: requests checked against it, and arrays for the model.

A request's rows travel through validation and micro-batching as one value per row and
tensor (a nested list of the row's shape), so batching merges tensor requests the same
way it merges columns; ``model_input`` stacks them back into the array (or the dict of
named arrays) the model was logged with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lanza.errors import ValidationError
from lanza.runtime.schema import InputSchema, TensorSpec


def validate_tensors(
    columns: dict[str, list[Any]] | None,
    rows: list[list[Any]] | None,
    count: int,
    schema: InputSchema,
) -> dict[str, list[Any]]:
    """One list of row values per tensor, each row checked against the tensor's dtype and
    shape; a ``ValidationError`` naming the tensor otherwise."""
    specs = schema.tensors
    if columns is None:
        assert rows is not None
        if len(specs) > 1:
            names = ", ".join(s.label for s in specs)
            raise ValidationError(f"This model takes named tensors ({names}); send an object.")
        return {specs[0].label: _rows(specs[0], _unwrap(specs[0], rows), count)}
    if len(specs) == 1 and specs[0].name is None and specs[0].label not in columns:
        # an unnamed tensor sent as a frame (dataframe_split, CSV): columns in order
        matrix = [list(row) for row in zip(*columns.values(), strict=True)]
        return {specs[0].label: _rows(specs[0], _unwrap(specs[0], matrix), count)}
    extra = [n for n in columns if n not in {s.label for s in specs}]
    if extra:
        raise ValidationError(f"Tensor '{extra[0]}' is not an input of this model.")
    out: dict[str, list[Any]] = {}
    for spec in specs:
        if spec.label not in columns:
            raise ValidationError(f"Tensor '{spec.label}' is missing.")
        out[spec.label] = _rows(spec, columns[spec.label], count)
    return out


def model_input(frame: pd.DataFrame, schema: InputSchema) -> Any:
    """The array (one unnamed tensor) or dict of arrays (named tensors) for the model."""
    return tensor_input({spec.label: frame[spec.label].tolist() for spec in schema.tensors}, schema)


def tensor_input(columns: dict[str, list[Any]], schema: InputSchema) -> Any:
    """``model_input`` from validated rows per tensor, with no DataFrame between (a frame of
    nested lists costs more than a small model's prediction)."""
    arrays = {
        spec.label: np.asarray(columns[spec.label], dtype=spec.dtype) for spec in schema.tensors
    }
    if len(schema.tensors) == 1 and schema.tensors[0].name is None:
        return arrays[schema.tensors[0].label]
    return arrays


def _unwrap(spec: TensorSpec, rows: list[Any]) -> list[Any]:
    # rows of one value each ([[1], [2]] from a flat list) for a one-dimensional tensor
    if len(spec.shape) == 1:
        return [r[0] if isinstance(r, list) and len(r) == 1 else r for r in rows]
    return rows


def _rows(spec: TensorSpec, values: list[Any], count: int) -> list[Any]:
    if len(values) != count:
        raise ValidationError(f"Tensor '{spec.label}' has {len(values)} rows; expected {count}.")
    try:
        array = np.asarray(values, dtype=spec.dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"Tensor '{spec.label}' must hold {spec.dtype} values of shape "
            f"{list(spec.shape)}: {exc}."
        ) from exc
    if array.ndim != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    ):
        raise ValidationError(
            f"Tensor '{spec.label}' has shape {list(array.shape)}; the model takes "
            f"{list(spec.shape)}."
        )
    if array.dtype.kind == "f" and np.isinf(array).any():
        raise ValidationError(f"Tensor '{spec.label}' has an infinite value.")
    return list(array.tolist())
