"""What the loader needs from a model's ``MLmodel`` file: its flavours, metadata and schema.

The file is YAML; reading it here spares a batch job MLflow's import (see
``lanza.registry.direct``). A column signature of plain types (``double``, ``string``…)
or of tensors, and the params schema, are read here; anything richer (arrays, objects)
goes to MLflow's own reader, so the schema is always the one MLflow would give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lanza.runtime.schema import Column, InputSchema, TensorSpec

PLAIN_TYPES = {"string", "integer", "long", "float", "double", "boolean", "binary", "datetime"}


@dataclass(frozen=True)
class ModelFile:
    """The parts of an ``MLmodel`` file the loader reads."""

    flavors: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    schema: InputSchema | None = None


def read_model_file(folder: Path) -> ModelFile:
    """Read ``folder/MLmodel``; raises ``OSError`` or ``ValueError`` when it is unreadable."""
    text = (folder / "MLmodel").read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(text, Loader=loader)
    if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
        raise ValueError("it has no flavors")
    metadata = document.get("metadata") or {}
    found, schema = _plain_schema(document.get("signature"))
    if not found:
        schema = _mlflow_schema(folder)
    return ModelFile(document["flavors"], metadata if isinstance(metadata, dict) else {}, schema)


def _plain_schema(signature: Any) -> tuple[bool, InputSchema | None]:
    """``(True, schema)`` when the signature is absent, plain columns or tensors;
    ``(False, None)`` when MLflow must read it."""
    if signature is None:
        return True, None
    if not isinstance(signature, dict):
        return False, None
    params = signature.get("params")
    if params is not None and not isinstance(params, str):
        return False, None
    inputs = signature.get("inputs")
    if inputs is None:
        return True, None if params is None else InputSchema((), (), params)
    try:
        specs = json.loads(inputs) if isinstance(inputs, str) else None
    except ValueError:
        return False, None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return False, None
    if specs and all(s.get("type") == "tensor" for s in specs):
        tensors = _tensors(specs)
        return (False, None) if tensors is None else (True, InputSchema((), tensors, params))
    if not specs or specs[0].get("name") is None:
        # no input names: MLflow's reader gives no columns either
        return True, None if params is None else InputSchema((), (), params)
    if not all(s.get("type") in PLAIN_TYPES and isinstance(s.get("name"), str) for s in specs):
        return False, None
    columns = tuple(Column(s["name"], s["type"], bool(s.get("required", True))) for s in specs)
    return True, InputSchema(columns, (), params)


def _tensors(specs: list[dict[str, Any]]) -> tuple[TensorSpec, ...] | None:
    out = []
    for spec in specs:
        body = spec.get("tensor-spec")
        name = spec.get("name")
        if not isinstance(body, dict) or not isinstance(body.get("shape"), list):
            return None
        if name is not None and not isinstance(name, str):
            return None
        shape = tuple(int(d) for d in body["shape"])
        out.append(TensorSpec(name, str(np.dtype(body.get("dtype", "float64")).name), shape))
    return tuple(out)


def _mlflow_schema(folder: Path) -> InputSchema | None:
    from mlflow.models import Model

    return InputSchema.from_signature(Model.load(str(folder)).signature)
