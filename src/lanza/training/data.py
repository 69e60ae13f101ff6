"""Reading a training table and checking that it can be learned from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from lanza.errors import DataError

Task = Literal["classification", "regression"]
READERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MAX_CLASSES = 50


@dataclass(frozen=True)
class TrainingData:
    """Features and target, checked, with what lanza needs to describe them."""

    features: pd.DataFrame
    target: pd.Series
    target_name: str
    task: Task
    digest: str
    source: str
    dropped_rows: int = 0

    @property
    def classes(self) -> list[str]:
        """Class labels, for classification."""
        return [str(c) for c in sorted(self.target.unique(), key=str)]

    @property
    def numeric_columns(self) -> list[str]:
        """Columns that are numbers (booleans count as numbers)."""
        return [c for c in self.features.columns if _is_numeric(self.features[c])]

    @property
    def categorical_columns(self) -> list[str]:
        """Columns that are categories or text."""
        numeric = set(self.numeric_columns)
        return [c for c in self.features.columns if c not in numeric]


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a data frame, with a clear error when it cannot."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"The data file '{path}' does not exist.")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder; give one CSV or Parquet file.")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"'{path.name}' has an unsupported format '{path.suffix or '(none)'}'; "
            "use .csv or .parquet."
        )
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except Exception as exc:
        raise DataError(f"'{path.name}' cannot be read as {kind.upper()}: {exc}") from exc


def prepare(
    frame: pd.DataFrame,
    target: str,
    task: Task | None = None,
    folds: int = 5,
    source: str = "",
) -> TrainingData:
    """Split a table into features and target and check it is fit for cross-validation."""
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:10]))
        raise DataError(f"The target column '{target}' is not in the data (columns: {shown}).")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError("The data has no feature columns besides the target.")
    labelled = frame[target].notna()
    features, y = features[labelled].reset_index(drop=True), frame[target][labelled]
    y = y.reset_index(drop=True)
    _check_columns(features)
    task = task or infer_task(y)
    _check_target(y, task, folds)
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes()).hexdigest()
    return TrainingData(features, y, target, task, digest[:16], source, int((~labelled).sum()))


def infer_task(target: pd.Series) -> Task:
    """Classification for labels and few distinct integers, regression for real numbers."""
    if not _is_numeric(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    distinct = target.nunique()
    if pd.api.types.is_integer_dtype(target) and distinct <= min(MAX_CLASSES, len(target) // 5):
        return "classification"
    return "regression"


def _check_columns(features: pd.DataFrame) -> None:
    empty = [str(c) for c in features.columns if features[c].isna().all()]
    if empty:
        raise DataError(
            f"Column '{empty[0]}' is entirely missing; drop it or fill it before training."
        )
    for column in features.columns:
        if pd.api.types.is_datetime64_any_dtype(features[column]):
            raise DataError(
                f"Column '{column}' holds dates; turn it into numbers (e.g. day of week) first."
            )


def _check_target(y: pd.Series, task: Task, folds: int) -> None:
    if len(y) < folds:
        raise DataError(
            f"The data has {len(y)} labelled rows, fewer than the {folds} folds of "
            "cross-validation; add rows or lower --folds."
        )
    if task == "regression":
        if not _is_numeric(y):
            raise DataError(f"The target '{y.name}' is not numeric, so it cannot be regressed.")
        if y.nunique() < 2:
            raise DataError(f"The target '{y.name}' has a single value; there is nothing to learn.")
        return
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"The target '{y.name}' has only one class ({_label(counts.index[0])}); "
            "classification needs at least two."
        )
    rare = counts[counts < folds]
    if len(rare):
        raise DataError(
            f"Class {_label(rare.index[0])} of '{y.name}' has {int(rare.iloc[0])} rows, fewer than "
            f"the {folds} folds; add rows, merge rare classes or lower --folds."
        )


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _label(value: object) -> str:
    """A class label as users wrote it: 1, not np.int64(1); 'yes' in quotes."""
    return repr(value.item() if hasattr(value, "item") else value)
