"""Drift of one column against its reference sample: a test, its p-value and an effect size.

Each column gets a two-sample test (its statistic and p-value) and an effect size whose
threshold is fixed in the data's own units, so it means the same thing at 100 rows and
at a million:

=============  =======================================  ================================
kind           test (statistic, p-value)                effect size (default threshold)
=============  =======================================  ================================
numeric        Kolmogorov-Smirnov (D, asymptotic p)     Wasserstein distance in reference
                                                        standard deviations (0.1)
categorical    chi-squared on the 2 x K counts          total variation distance: the
                                                        share of rows that changed
                                                        category (0.05)
=============  =======================================  ================================

A column drifts when its effect size reaches the threshold and, unless significance is
switched off, its p-value is below ``p_value``. The effect size keeps large windows from
flagging shifts too small to matter (every p-value goes to zero with enough rows); the
p-value keeps small windows from flagging noise (an effect size is noisy on 100 rows).
The false-alarm and detection rates this gives at 100 to 1,000,000 rows are measured by
``bench/drift_calibration.py`` and published in ``docs/monitoring.md``.

Both numeric statistics are computed exactly on the values compared: one sort of the
window's column, then O(reference x log(window)) work on the reference's distinct values
(``_numeric_stats``). A numeric column of more than ``SAMPLE_ROWS`` values is compared
through a random sample of that many (``sample_rows`` in the result says so): the
reference has 5,000 rows, so the test's effective size n*m/(n+m) is 4,878 with a
200,000-row sample and 4,975 with a million rows, and the effect size's sampling error is
about 0.002 SD; the verdicts do not change, and the sort costs a fifth. Categorical
columns are always counted in full. The population stability index is reported alongside.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

PSI_BINS = 10
EPSILON = 1e-4
PARALLEL_ROWS = 50_000
SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class Thresholds:
    """When a column counts as drifting, and when the dataset does."""

    p_value: float = 0.01
    distance: float = 0.1
    category_share: float = 0.05
    dataset_share: float = 0.5
    significance: bool = True


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test, effect size, threshold and verdict."""

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    effect: str
    effect_size: float
    threshold: float
    drifted: bool
    psi: float | None
    rows: int
    sample_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def why(self) -> str:
        """The verdict in words, e.g. ``0.31 SD shift (p < 0.001)``."""
        p = "" if self.p_value is None else f", {_p_text(self.p_value)}"
        if self.effect == "wasserstein_sd":
            return f"{self.column} moved {self.effect_size:.2f} SD{p}"
        return f"{self.effect_size:.0%} of {self.column} values changed category{p}"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def is_numeric(series: pd.Series) -> bool:
    """Numbers (not booleans) are compared as distributions; everything else as categories."""
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


class NumericReference:
    """A numeric reference column prepared once: sorted distinct values and their counts."""

    def __init__(self, values: np.ndarray) -> None:
        values = values[~np.isnan(values)]
        self.size = len(values)
        self.values, counts = np.unique(values, return_counts=True)
        self.cdf = np.cumsum(counts) / max(self.size, 1)
        # integral of the reference CDF from the smallest value up to each distinct value
        widths = np.diff(self.values)
        self.area = np.concatenate([[0.0], np.cumsum(self.cdf[:-1] * widths)])
        self.std = float(np.std(values)) if self.size else 0.0
        edges = np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)) if self.size else []
        self.edges = np.unique(edges)
        self.counts = (
            np.histogram(values, self._edges())[0].astype(float) if len(self.edges) > 1 else None
        )

    def _edges(self) -> np.ndarray:
        edges = self.edges.astype(float)
        edges[0], edges[-1] = -np.inf, np.inf
        return edges


def column_drift(
    name: str, reference: pd.Series, current: pd.Series, thresholds: Thresholds
) -> ColumnDrift:
    """Compare ``current`` with ``reference`` by the test their kind calls for."""
    if is_numeric(reference):
        ref = NumericReference(_floats(reference))
        return numeric_drift(name, ref, _floats(current), thresholds)
    return categorical_drift(name, reference, current, thresholds)


def _floats(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(series):
        return series.to_numpy(float, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(float, na_value=np.nan)


def numeric_drift(
    name: str, ref: NumericReference, current: np.ndarray, t: Thresholds
) -> ColumnDrift:
    """KS test and the Wasserstein distance in reference SDs (on a sample past SAMPLE_ROWS)."""
    values = current[~np.isnan(current)]
    rows, sample_rows = len(values), None
    if rows > SAMPLE_ROWS:
        picks = np.random.default_rng(rows).integers(0, rows, SAMPLE_ROWS)
        values, sample_rows = values[picks], SAMPLE_ROWS
    cur = np.sort(values)
    if ref.size == 0 or len(cur) == 0:
        return _empty(name, "numeric", t.distance, rows)
    d, wasserstein = _numeric_stats(ref, cur)
    en = ref.size * len(cur) / (ref.size + len(cur))
    p = float(stats.kstwo.sf(d, max(1, round(en))))
    effect = wasserstein / (ref.std or 1.0)
    psi = None
    if ref.counts is not None:
        cur_counts = np.diff(np.searchsorted(cur, ref._edges(), side="right")).astype(float)
        psi = _psi(ref.counts, cur_counts)
    return ColumnDrift(
        column=name,
        kind="numeric",
        test="ks",
        statistic=d,
        p_value=p,
        effect="wasserstein_sd",
        effect_size=effect,
        threshold=t.distance,
        drifted=_verdict(effect, t.distance, p, t),
        psi=psi,
        rows=rows,
        sample_rows=sample_rows,
    )


def _numeric_stats(ref: NumericReference, cur: np.ndarray) -> tuple[float, float]:
    """The KS distance and the Wasserstein-1 distance between the two empirical CDFs.

    Between two neighbouring reference values the reference CDF is a constant ``a`` and
    the current CDF rises, so |F_ref - F_cur| is largest at either end, and its integral
    splits at the one point where the current CDF passes ``a``. Integrals of the current
    CDF come from its prefix sums: the integral of F_cur up to x is mean(max(0, x - cur)).
    """
    m = len(cur)
    u, a = ref.values, ref.cdf
    right = np.searchsorted(cur, u, side="right")
    left = np.searchsorted(cur, u, side="left")
    before = np.concatenate([[0.0], a[:-1]])
    d = float(max(np.max(np.abs(a - right / m)), np.max(np.abs(before - left / m))))
    prefix = np.concatenate([[0.0], np.cumsum(cur)])

    def area(x: np.ndarray) -> np.ndarray:  # integral of F_cur from -inf to x
        k = np.searchsorted(cur, x, side="right")
        return np.asarray((k * x - prefix[k]) / m)

    lo, hi = u[:-1], u[1:]
    # first current value at which F_cur reaches a, clipped to the interval
    reach = np.ceil(a[:-1] * m - 1e-9).astype(np.int64)
    cross = np.clip(cur[np.clip(reach - 1, 0, m - 1)], lo, hi)
    cross = np.where(reach <= 0, lo, cross)
    a_lo, a_cross, a_hi = area(lo), area(cross), area(hi)
    inner = np.abs(a[:-1] * (cross - lo) - (a_cross - a_lo)) + np.abs(
        (a_hi - a_cross) - a[:-1] * (hi - cross)
    )
    below = float(area(u[:1])[0])  # F_ref = 0 before the smallest reference value
    above = float(np.mean(np.maximum(cur - u[-1], 0.0)))  # F_ref = 1 after the largest
    return d, below + float(inner.sum()) + above


def categorical_drift(
    name: str, reference: pd.Series, current: pd.Series, t: Thresholds
) -> ColumnDrift:
    """Chi-squared on the counts, and the total variation distance between the shares."""
    ref_counts_s = reference.dropna().astype(str).value_counts()
    cur_counts_s = current.dropna().astype(str).value_counts()
    labels = ref_counts_s.index.union(cur_counts_s.index)
    ref_counts = ref_counts_s.reindex(labels, fill_value=0).to_numpy(float)
    cur_counts = cur_counts_s.reindex(labels, fill_value=0).to_numpy(float)
    rows = int(cur_counts.sum())
    if ref_counts.sum() == 0 or rows == 0:
        return _empty(name, "categorical", t.category_share, rows)
    chi2, p = _chi_squared(ref_counts, cur_counts)
    effect = 0.5 * float(np.abs(ref_counts / ref_counts.sum() - cur_counts / rows).sum())
    return ColumnDrift(
        column=name,
        kind="categorical",
        test="chi2",
        statistic=chi2,
        p_value=p,
        effect="total_variation",
        effect_size=effect,
        threshold=t.category_share,
        drifted=_verdict(effect, t.category_share, p, t),
        psi=_psi(ref_counts, cur_counts),
        rows=rows,
    )


def _empty(name: str, kind: str, threshold: float, rows: int) -> ColumnDrift:
    """A column with no values on one side: nothing to compare, no verdict of drift."""
    numeric = kind == "numeric"
    return ColumnDrift(
        column=name,
        kind=kind,
        test="ks" if numeric else "chi2",
        statistic=0.0,
        p_value=None,
        effect="wasserstein_sd" if numeric else "total_variation",
        effect_size=0.0,
        threshold=threshold,
        drifted=False,
        psi=None,
        rows=rows,
    )


def _verdict(effect: float, threshold: float, p: float | None, t: Thresholds) -> bool:
    if effect < threshold:
        return False
    return not t.significance or p is None or p < t.p_value


def _chi_squared(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-squared on the 2 x K table (no continuity correction)."""
    if len(ref_counts) < 2:
        return 0.0, 1.0
    table = np.vstack([ref_counts, cur_counts])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    return chi2, float(stats.chi2.sf(chi2, len(ref_counts) - 1))


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float | None:
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return None
    expected = np.clip(ref_counts / ref_counts.sum(), EPSILON, None)
    actual = np.clip(cur_counts / cur_counts.sum(), EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class DatasetDrift:
    """Every feature's drift, the share that drifts and the dataset's verdict."""

    features: list[ColumnDrift]
    share: float
    drifted: bool


def dataset_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str], thresholds: Thresholds
) -> DatasetDrift:
    """Per-feature drift (columns in parallel on big windows) and the dataset's verdict."""
    names = [f for f in features if f in reference.columns and f in current.columns]

    def one(name: str) -> ColumnDrift:
        return column_drift(name, reference[name], current[name], thresholds)

    if len(current) >= PARALLEL_ROWS and len(names) > 1:
        # sorting releases the GIL, so columns overlap on several cores
        with ThreadPoolExecutor(max_workers=min(len(names), _cores())) as pool:
            results = list(pool.map(one, names))
    else:
        results = [one(n) for n in names]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DatasetDrift(results, share, bool(results) and share >= thresholds.dataset_share)


def _cores() -> int:
    return os.cpu_count() or 1
