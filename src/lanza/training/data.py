"""Reading a training table and checking that it can be learned from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from lanza.errors import DataError
from lanza.training.features import ColumnPlan, plan_columns

Task = Literal["classification", "regression"]
READERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MAX_CLASSES = 50
MIN_ROWS = 10
TINY_ROWS = 50
TINY_FOLDS = 3
IMBALANCED_SHARE = 0.1
POSITIVE_WORDS = ("yes", "y", "true", "1", "positive", "pos")


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
    plan: ColumnPlan = field(default_factory=ColumnPlan)
    folds: int = 5
    notes: tuple[str, ...] = ()
    imbalanced: bool = False
    positive: object = None

    @property
    def classes(self) -> list[str]:
        """Class labels, for classification."""
        return [str(c) for c in sorted(self.target.unique(), key=str)]

    @property
    def class_shares(self) -> dict[str, float]:
        """Share of rows per class, rarest first, for classification."""
        shares = self.target.value_counts(normalize=True, ascending=True)
        return {str(k): float(v) for k, v in shares.items()}


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
    """Split a table into features and target, plan its columns and fit the folds to it.

    Columns a model cannot learn from are left out, tiny tables and rare classes get
    fewer folds, and class imbalance is noted; each with a sentence in ``notes``.
    """
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:10]))
        raise DataError(f"The target column '{target}' is not in the data (columns: {shown}).")
    if frame[target].isna().all():
        raise DataError(f"The target column '{target}' has no values: every row is missing it.")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError("The data has no feature columns besides the target.")
    labelled = frame[target].notna()
    features, y = features[labelled].reset_index(drop=True), frame[target][labelled]
    y = y.reset_index(drop=True)
    plan = plan_columns(features)
    if not plan.used:
        reasons = "; ".join(f"'{c.column}': {c.reason}" for c in plan.left_out[:3])
        raise DataError(f"No feature column can be learned from ({reasons}).")
    features = features[[c for c in features.columns if str(c) in set(plan.used)]]
    task = task or infer_task(y)
    folds, notes = _check_target(y, task, folds)
    imbalanced, positive = False, None
    if task == "classification":
        imbalanced, note = _imbalance(y)
        notes += [note] if note else []
        positive = positive_class(y) if y.nunique() == 2 else None
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes()).hexdigest()
    return TrainingData(
        features,
        y,
        target,
        task,
        digest[:16],
        source,
        int((~labelled).sum()),
        plan,
        folds,
        tuple(plan.describe() + notes),
        imbalanced,
        positive,
    )


def positive_class(y: pd.Series) -> object:
    """The class binary metrics count as positive: 1, True or 'yes' if present, else the rarer."""
    counts = y.value_counts(ascending=True)
    for label in counts.index:
        plain = label.item() if hasattr(label, "item") else label
        if plain is True or (not isinstance(plain, bool) and plain == 1):
            return plain
        if isinstance(plain, str) and plain.strip().lower() in POSITIVE_WORDS:
            return plain
    rarest = counts.index[0]
    return rarest.item() if hasattr(rarest, "item") else rarest


def _imbalance(y: pd.Series) -> tuple[bool, str]:
    counts = y.value_counts(ascending=True)
    share = float(counts.iloc[0] / len(y))
    if share >= IMBALANCED_SHARE:
        return False, ""
    return True, (
        f"classes are imbalanced: {_label(counts.index[0])} is {share:.1%} of rows "
        f"({int(counts.iloc[0])} of {len(y):,})"
    )


def infer_task(target: pd.Series) -> Task:
    """Classification for labels and few distinct integers, regression for real numbers."""
    if not _is_numeric(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    distinct = target.nunique()
    if pd.api.types.is_integer_dtype(target) and distinct <= min(MAX_CLASSES, len(target) // 5):
        return "classification"
    return "regression"


def _check_target(y: pd.Series, task: Task, folds: int) -> tuple[int, list[str]]:
    """The folds the target allows, with a sentence for each reduction; errors for the rest."""
    if len(y) < MIN_ROWS:
        raise DataError(
            f"The data has {len(y)} labelled rows; lanza needs at least {MIN_ROWS} to "
            "cross-validate."
        )
    notes = []
    if len(y) < TINY_ROWS and folds > TINY_FOLDS:
        folds = TINY_FOLDS
        notes.append(
            f"only {len(y)} labelled rows: {folds}-fold cross-validation, and scores are rough"
        )
    if task == "regression":
        if not _is_numeric(y) or pd.api.types.is_bool_dtype(y):
            raise DataError(f"The target '{y.name}' is not numeric, so it cannot be regressed.")
        if y.nunique() < 2:
            raise DataError(f"The target '{y.name}' has a single value; there is nothing to learn.")
        return folds, notes
    counts = y.value_counts(ascending=True)
    if len(counts) < 2:
        raise DataError(
            f"The target '{y.name}' has only one class ({_label(counts.index[0])}); "
            "classification needs at least two."
        )
    if len(counts) > MAX_CLASSES and not _is_numeric(y):
        raise DataError(
            f"The target '{y.name}' has {len(counts):,} classes, more than the {MAX_CLASSES} "
            "lanza classifies; is it an identifier or free text?"
        )
    rarest = int(counts.iloc[0])
    if rarest < 2:
        raise DataError(
            f"Class {_label(counts.index[0])} of '{y.name}' has only 1 row; every class needs "
            "at least 2 to cross-validate (add rows or drop that class)."
        )
    if rarest < folds:
        folds = rarest
        notes.append(
            f"class {_label(counts.index[0])} has {rarest} rows: {folds}-fold cross-validation"
        )
    return folds, notes


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _label(value: object) -> str:
    """A class label as users wrote it: 1, not np.int64(1); 'yes' in quotes."""
    return repr(value.item() if hasattr(value, "item") else value)
