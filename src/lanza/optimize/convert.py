"""scikit-learn, XGBoost and LightGBM models to ONNX, or a sentence saying why not.

A pipeline that starts from raw columns (lanza's own, a ``ColumnTransformer`` first)
becomes a graph with one input per column: numbers as float32, text as strings. A bare
estimator becomes a graph with one float32 matrix input. XGBoost and LightGBM estimators
inside scikit-learn pipelines are converted with onnxmltools' converters.

One rewrite makes lanza's pipelines convertible: their categorical imputer treats NaN
as missing in text columns, which ONNX cannot express (ONNX strings are never null).
A copy of that imputer treats the marker ``MISSING`` as missing instead, with the same
fill values, and the ONNX runtime sends ``MISSING`` for every null text value; the
parity check on the reference sample then shows that nothing changed.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lanza.errors import LanzaError
from lanza.runtime.onnxrt import MISSING
from lanza.runtime.schema import InputSchema

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
INSTALL = "lanza optimize needs the onnx extra: pip install 'lanza[onnx]'."


class ConversionError(LanzaError):
    """A model cannot be converted to ONNX; the message says why."""

    status_code = 422
    code = "not_convertible"


@dataclass(frozen=True)
class Converted:
    """An ONNX graph, the classes its probabilities follow, and what was rewritten."""

    model: Any
    classes: list[Any] | None
    rewrites: list[str]


def convert(estimator: Any, schema: InputSchema, ref: str) -> Converted:
    """The ONNX form of ``estimator``, which takes the columns of ``schema``."""
    _register_boosters()
    from skl2onnx import convert_sklearn

    model, rewrites = _convertible(estimator)
    inputs = _inputs(model, schema)
    # Probabilities as a plain matrix rather than a list of maps (ZipMap), when there are any.
    last = _last(model)
    options = {id(last): {"zipmap": False}} if hasattr(last, "predict_proba") else None
    try:
        graph = convert_sklearn(
            model, initial_types=inputs, options=options, target_opset=TARGET_OPSET
        )
    except Exception as exc:
        raise ConversionError(f"{ref} cannot be converted to ONNX: {_reason(exc, model)}") from exc
    classes = getattr(_last(model), "classes_", None)
    plain = None if classes is None else [_plain(c) for c in classes]
    return Converted(graph, plain, rewrites)


def _convertible(estimator: Any) -> tuple[Any, list[str]]:
    """A copy of ``estimator`` whose text imputers use ``MISSING`` instead of NaN."""
    from sklearn.impute import SimpleImputer

    model = copy.deepcopy(estimator)
    rewrites = []
    for path, step in _walk(model):
        if isinstance(step, SimpleImputer) and _text_imputer(step):
            step.missing_values = MISSING
            rewrites.append(f"{path}: text imputer counts '{MISSING}' as missing instead of NaN")
        booster = step.get_booster() if type(step).__module__.startswith("xgboost") else None
        if booster is not None and booster.feature_names:
            # onnxmltools reads features by position (f0, f1, ...), which is how ONNX feeds them.
            booster.feature_names = None
    return model, rewrites


def _walk(model: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every estimator inside pipelines and column transformers, with a dotted path."""
    found = [(path or type(model).__name__, model)]
    for name, child in getattr(model, "steps", []):
        found += _walk(child, f"{path}.{name}" if path else name)
    for name, child, _columns in getattr(model, "transformers_", []):
        if not isinstance(child, str):
            found += _walk(child, f"{path}.{name}" if path else name)
    return found


def _text_imputer(imputer: Any) -> bool:
    missing = imputer.missing_values
    is_nan = missing is None or (isinstance(missing, float) and math.isnan(missing))
    stats = getattr(imputer, "statistics_", None)
    return is_nan and stats is not None and stats.dtype == object


def _inputs(model: Any, schema: InputSchema) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    first = model.steps[0][1] if hasattr(model, "steps") else model
    if hasattr(first, "transformers_") and schema.columns:
        return [
            (c.name, FloatTensorType([None, 1]) if c.numeric else StringTensorType([None, 1]))
            for c in schema.columns
        ]
    if schema.columns and not all(c.numeric for c in schema.columns):
        text = next(c.name for c in schema.columns if not c.numeric)
        raise ConversionError(
            f"column '{text}' is text, and only pipelines that encode text (a ColumnTransformer "
            "first) can be converted"
        )
    width = len(schema.columns) or int(getattr(first, "n_features_in_", 0))
    if not width:
        raise ConversionError("the model does not say how many input columns it takes")
    return [("input", FloatTensorType([None, width]))]


def _last(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


@functools.cache
def _register_boosters() -> None:
    """Teach skl2onnx the XGBoost and LightGBM estimators (once per process)."""
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError as exc:
        raise ConversionError(INSTALL) from exc
    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor

        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    except ImportError:
        pass
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )
    except ImportError:
        pass


def _reason(exc: Exception, model: Any) -> str:
    """One sentence from a converter's exception: the deepest cause, first line."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = (str(root).strip().splitlines() or [type(root).__name__])[0]
    if "Unable to find a shape calculator" in text or "no converter" in text.lower():
        return f"ONNX converters do not support {type(_last(model)).__name__}"
    return f"the converter for {type(_last(model)).__name__} failed ({text[:200]})"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
