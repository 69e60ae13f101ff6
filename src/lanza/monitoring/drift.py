"""Drift of one column against its reference sample, with the usual defaults.

Numeric columns: the two-sample Kolmogorov-Smirnov test (drift when p < ``p_value``)
while the reference has fewer than 1000 rows, else the Wasserstein distance divided by
the reference's standard deviation (drift when above ``distance``). Categorical
columns: chi-squared (p < ``p_value``) for small references, else the Jensen-Shannon
distance (above ``distance``). The population stability index is reported alongside.
The dataset drifts when at least ``dataset_share`` of its features drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

SMALL_REFERENCE = 1000
PSI_BINS = 10
EPSILON = 1e-4


@dataclass(frozen=True)
class Thresholds:
    """When a statistic counts as drift."""

    p_value: float = 0.05
    distance: float = 0.1
    dataset_share: float = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: the method, its statistic, the threshold and the verdict."""

    column: str
    kind: str
    method: str
    statistic: float
    threshold: float
    drifted: bool
    psi: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def is_numeric(series: pd.Series) -> bool:
    """Numbers (not booleans) are compared as distributions; everything else as categories."""
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def column_drift(
    name: str, reference: pd.Series, current: pd.Series, thresholds: Thresholds
) -> ColumnDrift:
    """Compare ``current`` with ``reference`` by the method their kind and size call for."""
    if is_numeric(reference):
        ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(float)
        cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(float)
        return _numeric(name, ref, cur, thresholds)
    return _categorical(
        name, reference.dropna().astype(str), current.dropna().astype(str), thresholds
    )


def _numeric(name: str, ref: np.ndarray, cur: np.ndarray, t: Thresholds) -> ColumnDrift:
    psi = _numeric_psi(ref, cur)
    if len(ref) < SMALL_REFERENCE:
        p = float(stats.ks_2samp(ref, cur).pvalue)
        return ColumnDrift(name, "numeric", "ks", p, t.p_value, p < t.p_value, psi)
    std = float(np.std(ref)) or 1.0
    distance = float(stats.wasserstein_distance(ref, cur)) / std
    return ColumnDrift(
        name, "numeric", "wasserstein", distance, t.distance, distance > t.distance, psi
    )


def _categorical(name: str, ref: pd.Series, cur: pd.Series, t: Thresholds) -> ColumnDrift:
    labels = sorted(set(ref) | set(cur))
    ref_counts = ref.value_counts().reindex(labels, fill_value=0).to_numpy(float)
    cur_counts = cur.value_counts().reindex(labels, fill_value=0).to_numpy(float)
    psi = _psi(ref_counts, cur_counts)
    if len(ref) < SMALL_REFERENCE:
        p = _chi_squared(ref_counts, cur_counts)
        return ColumnDrift(name, "categorical", "chi2", p, t.p_value, p < t.p_value, psi)
    distance = float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))
    return ColumnDrift(
        name, "categorical", "jensenshannon", distance, t.distance, distance > t.distance, psi
    )


def _chi_squared(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    if len(ref_counts) < 2:
        return 1.0
    table = np.vstack([ref_counts, cur_counts]) + 0.5  # no empty cells
    return float(stats.chi2_contingency(table).pvalue)


def _numeric_psi(ref: np.ndarray, cur: np.ndarray) -> float | None:
    if len(ref) == 0 or len(cur) == 0:
        return None
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, PSI_BINS + 1)))
    if len(edges) < 2:
        return None
    edges[0], edges[-1] = -np.inf, np.inf
    ref_counts = np.histogram(ref, edges)[0].astype(float)
    cur_counts = np.histogram(cur, edges)[0].astype(float)
    return _psi(ref_counts, cur_counts)


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float | None:
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return None
    expected = np.clip(ref_counts / ref_counts.sum(), EPSILON, None)
    actual = np.clip(cur_counts / cur_counts.sum(), EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def dataset_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str], thresholds: Thresholds
) -> tuple[list[ColumnDrift], float, bool]:
    """Per-feature drift, the share of features drifting, and whether the dataset drifts."""
    results = [
        column_drift(f, reference[f], current[f], thresholds)
        for f in features
        if f in reference.columns and f in current.columns
    ]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return results, share, bool(results) and share >= thresholds.dataset_share
