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
(``_numeric_stats``). A window's numeric columns are handled together: one sample of row
positions for all of them, one two-dimensional array sorted in place (NaNs sort last and
are cut off per column), split across the cores, and every p-value in one vectorised call.
A window of more than ``SAMPLE_ROWS`` rows is compared through a random sample of that
many rows, drawn with replacement (``sample_rows`` in the result gives the values used).
The reference is what limits precision: with its 5,000 rows the test's effective size
n*m/(n+m) is 4,762 with a 100,000-row sample against 4,975 with a million rows, and the
sample adds a twentieth to the variance the reference already gives the effect size
(about 0.002 SD of sampling error against a 0.1 SD threshold), so the false-alarm and
detection rates at a million rows stay those measured at 100,000 (``docs/monitoring.md``),
and the sort costs less than a tenth. Categorical columns are always counted in full: each
distinct value once, then its count. What a reference needs (sorted distinct values, CDF,
SD, PSI bins, category counts) is prepared once per reference (``ReferenceProfile``) and
reused by every round. The population stability index is reported alongside.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

PSI_BINS = 10
EPSILON = 1e-4
PARALLEL_VALUES = 2_000_000  # values of a window's numeric block worth sorting on all cores
SAMPLE_ROWS = 100_000


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
        self.bin_edges = self.edges.astype(float)
        if len(self.bin_edges):
            self.bin_edges[0], self.bin_edges[-1] = -np.inf, np.inf
        self.counts = (
            np.histogram(values, self.bin_edges)[0].astype(float) if len(self.edges) > 1 else None
        )


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
    return _numeric_columns([name], [ref], [current], t)[0]


def _sample(rows: int) -> np.ndarray | None:
    """Sorted row positions of a window's sample, or None when every row is compared.

    Drawn with replacement (an independent draw from the window's values per position)
    and sorted, so gathering them reads each column front to back. Seeded by the
    window's size, so the same window gives the same figures.
    """
    if rows <= SAMPLE_ROWS:
        return None
    picks = np.random.default_rng(rows).integers(0, rows, SAMPLE_ROWS)
    picks.sort()
    return picks


def _numeric_columns(
    names: list[str], refs: list[NumericReference], columns: list[np.ndarray], t: Thresholds
) -> list[ColumnDrift]:
    """Numeric columns of one window (equal lengths), sampled, sorted and tested together."""
    if not names:
        return []
    rows = len(columns[0])
    picks = _sample(rows)
    block = np.empty((len(columns), rows if picks is None else len(picks)))
    present = []
    for j, values in enumerate(columns):
        present.append(rows - int(np.count_nonzero(np.isnan(values))))
        if picks is None:
            block[j] = values
        else:
            np.take(values, picks, out=block[j])
    kept = block.shape[1] - np.count_nonzero(np.isnan(block), axis=1)
    _sort_rows(block)  # NaNs sort last: each column's values are block[j, :kept[j]]
    found: list[tuple[int, float, float, float | None]] = []
    for j, ref in enumerate(refs):
        cur = block[j, : kept[j]]
        if ref.size == 0 or len(cur) == 0:
            continue
        d, wasserstein = _numeric_stats(ref, cur)
        psi = None
        if ref.counts is not None:
            cur_counts = np.diff(np.searchsorted(cur, ref.bin_edges, side="right")).astype(float)
            psi = _psi(ref.counts, cur_counts)
        found.append((j, d, wasserstein / (ref.std or 1.0), psi))
    sizes = [refs[j].size * kept[j] / (refs[j].size + kept[j]) for j, *_ in found]
    ds = np.array([d for _, d, _, _ in found])
    from scipy import stats  # on first use: a server imports this module at start

    p_values = stats.kstwo.sf(ds, np.maximum(1, np.round(sizes)).astype(np.int64))
    out = [_empty(name, "numeric", t.distance, present[j]) for j, name in enumerate(names)]
    for (j, d, effect, psi), p in zip(found, np.atleast_1d(p_values), strict=True):
        out[j] = ColumnDrift(
            column=names[j],
            kind="numeric",
            test="ks",
            statistic=d,
            p_value=float(p),
            effect="wasserstein_sd",
            effect_size=effect,
            threshold=t.distance,
            drifted=_verdict(effect, t.distance, float(p), t),
            psi=psi,
            rows=present[j],
            sample_rows=None if picks is None else int(kept[j]),
        )
    return out


def _sort_rows(block: np.ndarray) -> None:
    """Sort each row in place; a big block in one slice of rows per core (sort frees the GIL)."""
    cores = min(_cores(), len(block))
    if block.size < PARALLEL_VALUES or cores < 2:
        block.sort(axis=1)
        return
    with ThreadPoolExecutor(max_workers=cores) as pool:
        list(pool.map(lambda part: part.sort(axis=1), np.array_split(block, cores)))


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
    return _categorical(name, category_counts(reference), category_counts(current), t)


def category_counts(series: pd.Series) -> pd.Series:
    """Rows per category (missing values left out), labelled by the category's text.

    Each distinct value is counted first and turned into text once, rather than every row.
    """
    counts = series.value_counts(dropna=True)
    counts.index = counts.index.astype(str)
    if not counts.index.is_unique:  # values whose text is the same, e.g. 1 and "1"
        counts = counts.groupby(level=0).sum()
    return counts


def _categorical(
    name: str, ref_counts_s: pd.Series, cur_counts_s: pd.Series, t: Thresholds
) -> ColumnDrift:
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
    from scipy import stats

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


class ReferenceProfile:
    """A reference sample prepared for drift once, then reused by every window compared.

    Numeric columns keep their sorted distinct values, CDF, SD and PSI bins
    (``NumericReference``), categorical ones their counts; each is made on first use.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._numeric: dict[str, NumericReference] = {}
        self._counts: dict[str, pd.Series] = {}

    def numeric(self, name: str) -> NumericReference:
        """The prepared numeric column ``name``."""
        if name not in self._numeric:
            self._numeric[name] = NumericReference(_floats(self.frame[name]))
        return self._numeric[name]

    def counts(self, name: str) -> pd.Series:
        """The categories of column ``name`` and their counts."""
        if name not in self._counts:
            self._counts[name] = category_counts(self.frame[name])
        return self._counts[name]


def dataset_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    features: list[str],
    thresholds: Thresholds,
) -> DatasetDrift:
    """Per-feature drift (numeric columns together, see the module) and the dataset's verdict.

    ``reference`` is best a ``ReferenceProfile`` kept between calls; a frame is prepared anew.
    """
    profile = reference if isinstance(reference, ReferenceProfile) else ReferenceProfile(reference)
    frame = profile.frame
    names = [f for f in features if f in frame.columns and f in current.columns]
    numeric = [n for n in names if is_numeric(frame[n])]
    found = dict(
        zip(
            numeric,
            _numeric_columns(
                numeric,
                [profile.numeric(n) for n in numeric],
                [_floats(current[n]) for n in numeric],
                thresholds,
            ),
            strict=True,
        )
    )
    for name in names:
        if name not in found:
            found[name] = _categorical(
                name, profile.counts(name), category_counts(current[name]), thresholds
            )
    results = [found[n] for n in names]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DatasetDrift(results, share, bool(results) and share >= thresholds.dataset_share)


def _cores() -> int:
    return os.cpu_count() or 1
