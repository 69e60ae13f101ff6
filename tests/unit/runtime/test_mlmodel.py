"""lanza's reading of an MLmodel file gives the schema MLflow's reader gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from mlflow.types.schema import Array

from lanza.runtime import mlmodel
from lanza.runtime.mlmodel import read_model_file
from lanza.runtime.schema import InputSchema

PLAIN = Schema([ColSpec("double", "f0"), ColSpec("string", "city"), ColSpec("long", "n", False)])
CASES = {
    "plain columns": (ModelSignature(PLAIN), True),
    "no signature": (None, True),
    "unnamed tensor": (ModelSignature(Schema([TensorSpec(np.dtype("float32"), (-1, 4))])), True),
    "named tensors": (
        ModelSignature(Schema([TensorSpec(np.dtype("float32"), (-1,), "x")])),
        True,
    ),
    "columns and params": (
        ModelSignature(PLAIN, params=ParamSchema([ParamSpec("k", "long", 3)])),
        True,
    ),
    "an array column": (ModelSignature(Schema([ColSpec(Array("double"), "v")])), False),
}


def _save(folder: Path, signature: ModelSignature | None) -> Path:
    model = Model(signature=signature, metadata={"lanza.classes": [0, 1]})
    model.add_flavor("sklearn", pickled_model="model.skops", serialization_format="skops")
    folder.mkdir()
    model.save(str(folder / "MLmodel"))
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_the_schema_is_the_one_mlflow_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    signature, plain = CASES[case]
    folder = _save(tmp_path / "m", signature)
    expected = InputSchema.from_signature(Model.load(str(folder)).signature)
    if plain:  # read without MLflow
        monkeypatch.setattr(mlmodel, "_mlflow_schema", pytest.fail)
    found = read_model_file(folder)
    assert found.schema == expected
    assert found.flavors["sklearn"]["pickled_model"] == "model.skops"
    assert found.metadata == {"lanza.classes": [0, 1]}


def test_a_file_without_flavours_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("signature: null\n")
    with pytest.raises(ValueError, match="no flavors"):
        read_model_file(tmp_path)
