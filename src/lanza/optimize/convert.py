"""scikit-learn, XGBoost and LightGBM models to ONNX, or a sentence saying why not.

A pipeline that starts from raw columns (lanza's own, a ``ColumnTransformer`` first)
becomes a graph with one input per column: numbers as float32, text as strings. A bare
estimator becomes a graph with one float32 matrix input. XGBoost and LightGBM estimators
inside scikit-learn pipelines are converted with onnxmltools' converters.

Two rewrites make lanza's pipelines convertible without changing an answer:

- Their categorical imputer treats NaN as missing in text columns, which ONNX cannot
  express (ONNX strings are never null). A copy of that imputer treats the marker
  ``MISSING`` as missing instead, with the same fill values, and the ONNX runtime sends
  ``MISSING`` for every null text value.
- Their numeric steps (median imputer, then standard scaler) run in float64 in
  scikit-learn, and most estimators then cast to float32 (trees, XGBoost). Converted as
  they are, ONNX would impute and scale in float32, and a value one float32 step away
  from a split would take the other branch: tree thresholds learnt from the data sit
  exactly on training values, so the reference sample itself would disagree. The graph
  takes numbers as float64 and imputes and scales them in float64, as scikit-learn does,
  and only then casts to float32.

The parity check on the reference sample then shows that nothing changed.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lanza.errors import ConversionError
from lanza.runtime.onnxrt import MISSING
from lanza.runtime.schema import InputSchema

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
INSTALL = "lanza optimize needs the onnx extra: pip install 'lanza[onnx]'."


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
    _refuse_unfaithful(_last(model), ref)
    _refuse_unconvertible(model, ref)
    inputs = _inputs(model, schema)
    last = _last(model)
    try:
        graph = _convert(convert_sklearn, model, inputs, _options(last))
    except Exception as exc:
        raise ConversionError(f"{ref} cannot be converted to ONNX: {_reason(exc, model)}") from exc
    classes = getattr(last, "classes_", None)
    if classes is not None and not hasattr(last, "predict_proba"):
        # Decision scores are not probabilities: the graph answers labels only, as
        # scikit-learn does for this model.
        del graph.graph.output[1:]
    plain = None if classes is None else [_plain(c) for c in classes]
    return Converted(graph, plain, rewrites)


# What lanza's own steps without an ONNX converter do, for the refusal's sentence.
STEP_PURPOSE = {"DateParts": "date columns", "TextVectors": "free-text columns"}


def _refuse_unconvertible(model: Any, ref: str) -> None:
    """Refuse, naming them, the steps no ONNX converter knows (not only the first one)."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    missing: list[str] = []
    for _path, step in _walk(model):
        container = hasattr(step, "steps") or hasattr(step, "transformers_")
        name = type(step).__name__
        if container or type(step) in sklearn_operator_name_map or name in missing:
            continue
        missing.append(name)
    if missing:
        said = [f"{n} ({STEP_PURPOSE[n]})" if n in STEP_PURPOSE else n for n in missing]
        raise ConversionError(
            f"{ref} cannot be converted to ONNX: there is no ONNX converter for "
            f"{' and '.join(said)} in its pipeline."
        )


def _refuse_unfaithful(last: Any, ref: str) -> None:
    """Estimators whose converter exists but answers differently, refused with the reason."""
    if type(last).__name__.startswith("KNeighbors") and last.weights != "uniform":
        raise ConversionError(
            f"{ref} cannot be converted to ONNX: the ONNX converter for "
            f"{type(last).__name__} ignores weights='{last.weights}' (it weighs every "
            "neighbour alike), which changes its answers."
        )
    categorical = getattr(last, "is_categorical_", None)
    if categorical is not None and np.any(categorical):
        raise ConversionError(
            f"{ref} cannot be converted to ONNX: the ONNX converter for "
            f"{type(last).__name__} has no categorical splits (it would read the "
            "categorical_features columns as numbers), which changes its answers."
        )
    if type(last).__name__.startswith("Dummy"):
        raise ConversionError(
            f"{ref} cannot be converted to ONNX: {type(last).__name__} is a baseline that "
            "ignores its inputs, so there is nothing for ONNX to speed up."
        )


def _options(last: Any) -> dict[str, Any]:
    """Converter options for the final estimator.

    Probabilities as a plain matrix rather than a list of maps (ZipMap). Nearest
    neighbours by direct differences (``cdist``), which are exactly zero for a row
    equal to a training row, where the expanded form ``|a|² - 2ab + |b|²`` is not.
    """
    options: dict[str, Any] = {}
    if getattr(last, "classes_", None) is not None:
        options["zipmap"] = False
    if type(last).__name__.startswith("KNeighbors"):
        options["optim"] = "cdist"
    return options


def _convert(convert_sklearn: Any, model: Any, inputs: Any, options: dict[str, Any]) -> Any:
    """``convert_sklearn`` with ``options``, dropping any its converter does not take."""
    last = _last(model)
    while True:
        try:
            return convert_sklearn(
                model,
                initial_types=inputs,
                options={id(last): options} if options else None,
                target_opset=TARGET_OPSET,
            )
        except Exception as exc:
            said = _messages(exc)
            refused = next((o for o in options if f"Option '{o}' not in" in said), None)
            if refused is None:
                raise
            options = {k: v for k, v in options.items() if k != refused}


def _messages(exc: BaseException) -> str:
    """The messages of an exception and of every exception that caused it."""
    said = []
    cause: BaseException | None = exc
    while cause is not None:
        said.append(str(cause))
        cause = cause.__cause__
    return "\n".join(said)


def _convertible(estimator: Any) -> tuple[Any, list[str]]:
    """A copy of ``estimator`` whose text imputers use ``MISSING`` instead of NaN."""
    from sklearn.impute import SimpleImputer

    model = copy.deepcopy(estimator)
    rewrites: list[str] = []
    _numeric_in_float64(model, rewrites)
    for path, step in _walk(model):
        if isinstance(step, SimpleImputer) and _text_imputer(step):
            step.missing_values = MISSING
            rewrites.append(f"{path}: text imputer counts '{MISSING}' as missing instead of NaN")
        booster = step.get_booster() if type(step).__module__.startswith("xgboost") else None
        if booster is not None and booster.feature_names:
            # onnxmltools reads features by position (f0, f1, ...), which is how ONNX feeds them.
            booster.feature_names = None
    return model, rewrites


class NumericSteps:
    """Median imputation then standard scaling, as one step that ONNX runs in float64.

    Stands in for lanza's numeric ``Pipeline(SimpleImputer, StandardScaler)`` inside a
    copy of the model that is only converted, never used to predict.
    """

    def __init__(self, fill: np.ndarray[Any, Any], mean: np.ndarray[Any, Any], scale: Any):
        self.fill = fill.astype(np.float64)
        self.mean = mean.astype(np.float64)
        self.scale = scale.astype(np.float64)


def _numeric_in_float64(model: Any, rewrites: list[str]) -> None:
    """Swap the numeric imputer-and-scaler pipelines of ``model`` for ``NumericSteps``."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    first = model.steps[0][1] if hasattr(model, "steps") else model
    for index, (name, child, columns) in enumerate(getattr(first, "transformers_", [])):
        steps = [s for _, s in getattr(child, "steps", [])]
        if not (
            isinstance(child, Pipeline)
            and len(steps) == 2
            and isinstance(steps[0], SimpleImputer)
            and isinstance(steps[1], StandardScaler)
        ):
            continue
        imputer, scaler = steps
        fill = np.asarray(imputer.statistics_, dtype=np.float64)
        width = len(columns)
        if fill.shape != (width,) or np.isnan(fill).any() or imputer.add_indicator:
            continue  # a column dropped or flagged by the imputer: leave it to skl2onnx
        mean = scaler.mean_ if scaler.mean_ is not None else np.zeros(width)
        scale = scaler.scale_ if scaler.scale_ is not None else np.ones(width)
        first.transformers_[index] = (name, NumericSteps(fill, mean, scale), columns)
        path = f"{model.steps[0][0]}.{name}" if hasattr(model, "steps") else name
        rewrites.append(f"{path}: numbers imputed and scaled in float64, as scikit-learn does")


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
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    first = model.steps[0][1] if hasattr(model, "steps") else model
    if hasattr(first, "transformers_") and schema.columns:
        # float64 numbers only where every numeric step of the graph takes them.
        wide = all(
            isinstance(step, NumericSteps)
            for _, step, columns in first.transformers_
            if any(c.numeric and c.name in _names(columns) for c in schema.columns)
        )
        number = DoubleTensorType if wide else FloatTensorType
        return [
            (c.name, number([None, 1]) if c.numeric else StringTensorType([None, 1]))
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


def _names(columns: Any) -> set[str]:
    """Column names a ``ColumnTransformer`` entry selects (a name or a list of names)."""
    return {columns} if isinstance(columns, str) else {str(c) for c in columns}


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
    _register_numeric_steps(update_registered_converter)
    _linear_svc_inside_pipelines()
    _plain_attribute_lists()
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


def _plain_attribute_lists() -> None:
    """Give ONNX node attributes plain Python numbers, as protobuf 7 requires.

    skl2onnx's tree converters pass lists mixing NumPy scalars and booleans as node
    attributes; protobuf 7 refuses the booleans ("Field onnx.AttributeProto.ints:
    Expected an int, got a boolean"), so every tree model failed to convert there. The
    container's ``add_node`` is wrapped once to turn such lists into ints and floats.
    """
    from skl2onnx.common._container import ModelComponentContainer

    original = ModelComponentContainer.add_node
    if getattr(original, "_lanza_plain", False):
        return

    def add_node(
        self: Any, op_type: Any, inputs: Any, outputs: Any, *args: Any, **attrs: Any
    ) -> Any:
        plain = {k: _plain_list(v) if isinstance(v, list) else v for k, v in attrs.items()}
        return original(self, op_type, inputs, outputs, *args, **plain)

    add_node._lanza_plain = True  # type: ignore[attr-defined]
    ModelComponentContainer.add_node = add_node


def _plain_list(values: list[Any]) -> list[Any]:
    """Booleans and NumPy integers as ``int``, NumPy floats as ``float``; the rest as is."""
    return [
        int(v)
        if isinstance(v, bool | np.integer | np.bool_)
        else float(v)
        if isinstance(v, np.floating)
        else v
        for v in values
    ]


def _linear_svc_inside_pipelines() -> None:
    """Let a pipeline that ends in ``LinearSVC`` convert.

    skl2onnx's pipeline parser asks every classifier for its ``zipmap`` option, which its
    ``LinearSVC`` converter does not declare, so the conversion stops with "Option
    'zipmap' not in ...". ``LinearSVC`` has no probabilities to zip, so declaring the
    option with its one meaningful value, ``False``, changes nothing in the graph.
    """
    from skl2onnx.common import _registration

    converter = getattr(_registration, "_converter_pool", {}).get("SklearnLinearSVC")
    allowed = getattr(converter, "_options", None)
    if isinstance(allowed, dict) and "zipmap" not in allowed:
        allowed["zipmap"] = [False]


def _register_numeric_steps(register: Any) -> None:
    """``NumericSteps`` as ONNX: IsNaN/Where fill, Sub, Div in float64, then Cast to float."""
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxDiv, OnnxIsNaN, OnnxSub, OnnxWhere
    from skl2onnx.common.data_types import FloatTensorType

    def shape(operator: Any) -> None:
        rows = operator.inputs[0].get_first_dimension()
        width = len(operator.raw_operator.mean)
        operator.outputs[0].type = FloatTensorType([rows, width])

    def converter(scope: Any, operator: Any, container: Any) -> None:
        steps: NumericSteps = operator.raw_operator
        opv = container.target_opset
        x = operator.inputs[0]
        filled = OnnxWhere(OnnxIsNaN(x, op_version=opv), steps.fill[None, :], x, op_version=opv)
        scaled = OnnxDiv(
            OnnxSub(filled, steps.mean[None, :], op_version=opv),
            steps.scale[None, :],
            op_version=opv,
        )
        cast = OnnxCast(
            scaled, to=TensorProto.FLOAT, op_version=opv, output_names=operator.outputs[:1]
        )
        cast.add_to(scope, container)

    def parser(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
        # Declared float32 here, so that what follows (the concatenation, the estimator)
        # is typed float32 although the graph's inputs are float64.
        operator = scope.declare_local_operator("LanzaNumericSteps", model)
        operator.inputs = inputs
        operator.outputs.append(scope.declare_local_variable("numbers", FloatTensorType()))
        return operator.outputs

    register(NumericSteps, "LanzaNumericSteps", shape, converter, parser=parser)


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
