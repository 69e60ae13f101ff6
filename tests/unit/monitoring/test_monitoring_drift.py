"""Drift: exact statistics, effect sizes with fixed thresholds, and the verdict rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lanza.monitoring.drift import (
    SAMPLE_ROWS,
    NumericReference,
    ReferenceProfile,
    Thresholds,
    _numeric_stats,
    column_drift,
    dataset_drift,
)

T = Thresholds()


def _normal(n: int, seed: int, shift: float = 0.0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(shift, 1.0, n))


@pytest.mark.parametrize(
    ("n", "m", "integers"),
    [(50, 80, False), (5000, 1000, False), (300, 2000, True), (7, 5, True), (1, 9, False)],
)
def test_ks_and_wasserstein_match_scipy_exactly(n: int, m: int, integers: bool) -> None:
    rng = np.random.default_rng(n + m)
    ref, cur = rng.normal(size=n), rng.normal(0.3, 1.3, size=m)
    if integers:  # ties on both sides
        ref, cur = np.round(ref * 2), np.round(cur * 2)
    d, w = _numeric_stats(NumericReference(ref), np.sort(cur))
    assert d == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def test_numeric_reports_statistic_p_value_and_effect_in_sds() -> None:
    same = column_drift("x", _normal(5000, 0) * 10, _normal(2000, 1) * 10, T)
    moved = column_drift("x", _normal(5000, 0) * 10, _normal(2000, 1, shift=0.5) * 10, T)
    assert (same.test, same.effect, same.drifted) == ("ks", "wasserstein_sd", False)
    assert moved.drifted
    assert moved.effect_size == pytest.approx(0.5, abs=0.06)  # in reference SDs
    assert moved.p_value is not None
    assert moved.p_value < 1e-6
    assert same.p_value is not None
    assert same.p_value > 0.01
    assert moved.statistic > same.statistic
    assert moved.psi is not None
    assert moved.psi > 0.2
    assert moved.why() == f"x moved {moved.effect_size:.2f} SD, p < 0.001"


def test_large_windows_do_not_flag_trivial_shifts() -> None:
    """A 0.03 SD shift on 200k rows is significant, but too small to count as drift."""
    tiny = column_drift("x", _normal(5000, 0), _normal(200_000, 1, shift=0.03), T)
    assert tiny.effect_size < T.distance
    assert tiny.drifted is False


def test_small_windows_need_significance() -> None:
    """On 20 rows an effect size above the threshold is common noise; the test guards it."""
    noisy = [column_drift("x", _normal(5000, 0), _normal(20, s), T) for s in range(50)]
    assert any(r.effect_size >= T.distance for r in noisy)
    assert sum(r.drifted for r in noisy) <= 2
    loose = Thresholds(significance=False)
    flagged = [column_drift("x", _normal(5000, 0), _normal(20, s), loose) for s in range(50)]
    assert sum(r.drifted for r in flagged) > 10


def test_categorical_uses_chi_squared_and_share_changed() -> None:
    ref = pd.Series(["a", "b", "c"] * 1000)
    same = column_drift("k", ref, pd.Series(["a", "b", "c"] * 200), T)
    assert (same.test, same.effect, same.drifted) == ("chi2", "total_variation", False)
    assert same.effect_size == pytest.approx(0.0)
    moved = column_drift("k", ref, pd.Series(["a"] * 300 + ["b"] * 150 + ["c"] * 150), T)
    assert moved.drifted
    assert moved.effect_size == pytest.approx(1 / 6)  # a sixth of rows changed category
    assert moved.p_value is not None
    assert moved.p_value < 1e-6
    assert "17% of k values changed category" in moved.why()


def test_empty_current_column_is_not_drift() -> None:
    result = column_drift("x", _normal(100, 0), pd.Series([np.nan, np.nan]), T)
    assert (result.drifted, result.p_value, result.rows) == (False, None, 0)


def test_dataset_drifts_when_half_the_features_drift() -> None:
    ref = pd.DataFrame({f: _normal(400, i) for i, f in enumerate("abcd")})
    cur = pd.DataFrame({f: _normal(200, 10 + i) for i, f in enumerate("abcd")})
    found = dataset_drift(ref, cur, list("abcd"), T)
    assert (found.share, found.drifted) == (0.0, False)
    cur["a"] += 2
    cur["b"] += 2
    found = dataset_drift(ref, cur, list("abcd"), T)
    assert [r.drifted for r in found.features] == [True, True, False, False]
    assert (found.share, found.drifted) == (0.5, True)


def test_big_windows_run_columns_in_parallel_with_the_same_results() -> None:
    ref = pd.DataFrame({f: _normal(5000, i) for i, f in enumerate("abc")})
    cur = pd.DataFrame({f: _normal(60_000, 10 + i, shift=0.3 * i) for i, f in enumerate("abc")})
    found = dataset_drift(ref, cur, list("abc"), T)
    alone = [column_drift(f, ref[f], cur[f], T) for f in "abc"]
    assert found.features == alone
    assert [r.drifted for r in found.features] == [False, True, True]


def test_numeric_windows_past_the_sample_size_say_they_were_sampled() -> None:
    big = column_drift("x", _normal(5000, 0), _normal(250_000, 1, shift=0.2), T)
    assert (big.rows, big.sample_rows) == (250_000, SAMPLE_ROWS)
    assert big.drifted
    assert big.effect_size == pytest.approx(0.2, abs=0.03)
    small = column_drift("x", _normal(5000, 0), _normal(1000, 1), T)
    assert (small.rows, small.sample_rows) == (1000, None)


def test_a_prepared_reference_gives_the_same_figures_round_after_round() -> None:
    ref = pd.DataFrame({"a": _normal(5000, 0), "k": pd.Series(["x", "y"] * 2500)})
    profile = ReferenceProfile(ref)
    for seed in range(3):
        cur = pd.DataFrame({"a": _normal(300, 10 + seed, 0.4 * seed), "k": ["x"] * 300})
        assert dataset_drift(profile, cur, ["a", "k"], T) == dataset_drift(ref, cur, ["a", "k"], T)


def test_sampled_windows_leave_missing_values_out_per_column() -> None:
    """Past SAMPLE_ROWS rows one sample of positions serves every column; each column's
    missing values drop out of its own share of it, and the figures match the full data."""
    rows = SAMPLE_ROWS * 3
    ref = pd.DataFrame({"a": _normal(5000, 0), "b": _normal(5000, 1)})
    b = _normal(rows, 3, shift=0.3)
    b[::2] = np.nan
    cur = pd.DataFrame({"a": _normal(rows, 2), "b": b})
    a_found, b_found = dataset_drift(ref, cur, ["a", "b"], T).features
    assert (a_found.rows, a_found.sample_rows) == (rows, SAMPLE_ROWS)
    assert b_found.rows == rows // 2
    assert b_found.sample_rows is not None
    assert abs(b_found.sample_rows - SAMPLE_ROWS // 2) < SAMPLE_ROWS // 20
    full = stats.wasserstein_distance(ref["b"], b.dropna()) / np.std(ref["b"])
    assert b_found.effect_size == pytest.approx(full, abs=0.02)
    assert (a_found.drifted, b_found.drifted) == (False, True)


def test_categories_whose_text_is_the_same_are_counted_together() -> None:
    ref = pd.Series([1, 2] * 500, dtype=object)
    cur = pd.Series([1, "1", 2, "2"] * 100, dtype=object)
    found = column_drift("k", ref, cur, T)
    assert (found.rows, found.effect_size, found.drifted) == (400, 0.0, False)
