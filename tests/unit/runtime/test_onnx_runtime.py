"""The ONNX runtime and the converter's imputer rewrite, on a pipeline built here."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lanza.runtime.rules import check_frame
from lanza.runtime.schema import Column, InputSchema

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from lanza.errors import ConversionError
from lanza.optimize.checks import compare
from lanza.optimize.convert import convert
from lanza.runtime.flavours import SklearnRuntime
from lanza.runtime.onnxrt import MISSING, OnnxRuntime
from lanza.runtime.serialization import dump_model, load_model

SCHEMA = InputSchema((Column("size", "double"), Column("colour", "string")))


def _frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=rows),
            "colour": rng.choice(["red", "blue", None], rows).astype(object),
        }
    )
    frame.loc[::7, "size"] = np.nan
    return frame


def _pipeline(frame: pd.DataFrame) -> Pipeline:
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                ["size"],
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                ["colour"],
            ),
        ]
    )
    target = (frame["size"].fillna(0) + (frame["colour"] == "red")) > 0.5
    return Pipeline([("prepare", prepare), ("model", LogisticRegression())]).fit(frame, target)


def test_text_imputer_is_rewritten_and_predictions_match(tmp_path: Path) -> None:
    frame = _frame()
    pipeline = _pipeline(frame)
    converted = convert(pipeline, SCHEMA, "m/1")
    assert len(converted.rewrites) == 2
    assert "prepare.numeric: numbers imputed and scaled in float64" in converted.rewrites[0]
    assert "categorical.impute" in converted.rewrites[1]
    assert np.isnan(
        pipeline.named_steps["prepare"].named_transformers_["categorical"][0].missing_values
    )
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(converted.model.SerializeToString())
    onnx = OnnxRuntime("m", "2", model_file, SCHEMA, converted.classes)
    original = SklearnRuntime("m", "1", load_model(dump_model(pipeline)), SCHEMA)
    parity = compare(original, onnx, check_frame(frame, SCHEMA), tolerance=1e-4)
    assert parity.ok
    assert parity.label_mismatches == 0
    assert parity.max_abs_diff < 1e-5
    revived = pickle.loads(pickle.dumps(onnx))  # as Ray and process pools ship it
    np.testing.assert_array_equal(
        revived.predict_frame(check_frame(frame, SCHEMA)).values,
        onnx.predict_frame(check_frame(frame, SCHEMA)).values,
    )
    feeds = onnx.feeds(check_frame(frame.head(3).assign(colour=[None, "red", np.nan]), SCHEMA))
    assert feeds["colour"][:, 0].tolist() == [MISSING, "red", MISSING]
    assert feeds["size"].dtype == np.float64  # imputed and scaled in float64, as in scikit-learn


def test_text_column_without_encoding_pipeline_is_refused() -> None:
    frame = _frame()
    model = LogisticRegression().fit(frame[["size"]].fillna(0), frame["size"].fillna(0) > 0)
    with pytest.raises(ConversionError, match="column 'colour' is text"):
        convert(model, SCHEMA, "m/1")
