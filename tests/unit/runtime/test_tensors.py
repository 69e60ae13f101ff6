"""Tensor signatures, params and pyfunc outputs, without a server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lanza.errors import ValidationError
from lanza.runtime.flavours import SklearnRuntime, to_prediction
from lanza.runtime.params import check_params
from lanza.runtime.schema import Column, InputSchema, TensorSpec
from lanza.runtime.tensors import model_input, tensor_input, validate_tensors

UNNAMED = InputSchema((), (TensorSpec(None, "float64", (-1, 3)),))
NAMED = InputSchema((), (TensorSpec("a", "float32", (-1, 2)), TensorSpec("b", "int64", (-1,))))
PARAMS = InputSchema(
    (Column("x", "double"),),
    params='[{"name": "k", "type": "long", "default": 1, "shape": null}]',
)


def test_rows_become_one_array() -> None:
    checked = validate_tensors(None, [[1, 2, 3], [4, 5, 6]], 2, UNNAMED)
    frame = pd.DataFrame(checked)
    array = model_input(frame, UNNAMED)
    assert array.dtype == np.float64
    assert array.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_a_frame_is_read_in_column_order_for_an_unnamed_tensor() -> None:
    checked = validate_tensors({"0": [1, 4], "1": [2, 5], "2": [3, 6]}, None, 2, UNNAMED)
    assert checked == {"input": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}


def test_named_tensors_become_a_dict() -> None:
    checked = validate_tensors({"a": [[1, 2], [3, 4]], "b": [7, 8]}, None, 2, NAMED)
    arrays = model_input(pd.DataFrame(checked), NAMED)
    assert arrays["a"].dtype == np.float32
    assert arrays["b"].tolist() == [7, 8]


@pytest.mark.parametrize(
    ("columns", "rows", "message"),
    [
        (None, [[1, 2]], r"Tensor 'input' has shape \[1, 2\]; the model takes \[-1, 3\]"),
        (None, [["x", 1, 2]], "Tensor 'input' must hold float64 values"),
        (None, [[1, 2, float("inf")]], "infinite"),
    ],
)
def test_bad_tensors_are_named(
    columns: dict[str, list[object]] | None, rows: list[list[object]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_tensors(columns, rows, 1, UNNAMED)


def test_named_tensors_need_every_name() -> None:
    with pytest.raises(ValidationError, match="Tensor 'b' is missing"):
        validate_tensors({"a": [[1, 2]]}, None, 1, NAMED)
    with pytest.raises(ValidationError, match="Tensor 'c' is not an input"):
        validate_tensors({"a": [[1, 2]], "b": [1], "c": [1]}, None, 1, NAMED)


def test_params_follow_mlflow_rules() -> None:
    assert check_params({"k": 3, "unknown": 1}, PARAMS) == {"k": 3}
    assert check_params({}, PARAMS) == {"k": 1}
    with pytest.raises(ValidationError, match="params are not valid"):
        check_params({"k": "three"}, PARAMS)
    with pytest.raises(ValidationError, match="must be an object"):
        check_params([1], PARAMS)
    assert check_params({"k": 3}, InputSchema((Column("x", "double"),))) is None


def test_pyfunc_outputs_keep_their_shape_for_the_mlflow_face() -> None:
    frame = to_prediction(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert frame.to_mlflow() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert frame.slice(1, 2).to_mlflow() == [{"a": 2, "b": "y"}]
    series = to_prediction(pd.Series([1.5, 2.5], name="score"))
    assert series.to_mlflow() == [{"score": 1.5}, {"score": 2.5}]
    assert series.to_list() == [1.5, 2.5]
    columns = to_prediction({"d": [2, 4], "s": [1, 4]})
    assert columns.to_mlflow() == {"d": [2, 4], "s": [1, 4]}
    assert to_prediction(np.array([0, 1])).to_mlflow() == [0, 1]


def test_arrays_from_rows_match_those_from_a_frame() -> None:
    checked = validate_tensors({"a": [[1, 2], [3, 4]], "b": [7, 8]}, None, 2, NAMED)
    direct, framed = tensor_input(checked, NAMED), model_input(pd.DataFrame(checked), NAMED)
    assert direct["a"].dtype == framed["a"].dtype == np.float32
    assert direct["a"].tolist() == framed["a"].tolist()
    assert direct["b"].tolist() == framed["b"].tolist() == [7, 8]


def test_a_scikit_learn_tensor_model_answers_the_same_from_arrays_and_frames() -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [1.0, 1.0, 1.0], [4.0, 0.0, 2.0]])
    runtime = SklearnRuntime("m", "1", LogisticRegression().fit(x, [0, 1, 0, 1]), UNNAMED)
    rows = validate_tensors(None, x.tolist(), 4, UNNAMED)
    from_arrays = runtime.predict_tensors(rows, probabilities=True)
    from_frame = runtime.predict_frame(pd.DataFrame(rows), probabilities=True)
    assert from_arrays.values.tolist() == from_frame.values.tolist()
    assert from_arrays.probabilities is not None
    assert np.allclose(from_arrays.probabilities, from_frame.probabilities)
