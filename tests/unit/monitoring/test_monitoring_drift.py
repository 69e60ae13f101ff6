"""Drift statistics: the method chosen by kind and reference size, and the verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lanza.monitoring.drift import Thresholds, column_drift, dataset_drift

T = Thresholds()


def _normal(n: int, seed: int, shift: float = 0.0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(shift, 1.0, n))


def test_small_numeric_reference_uses_ks() -> None:
    same = column_drift("x", _normal(500, 0), _normal(300, 2), T)
    moved = column_drift("x", _normal(500, 0), _normal(300, 2, shift=1.0), T)
    assert (same.method, same.drifted) == ("ks", False)
    assert (moved.method, moved.drifted) == ("ks", True)
    assert moved.statistic < 0.05 < same.statistic
    assert moved.psi is not None
    assert same.psi is not None
    assert moved.psi > 0.2 > same.psi


def test_large_numeric_reference_uses_normed_wasserstein() -> None:
    same = column_drift("x", _normal(5000, 0), _normal(500, 1), T)
    moved = column_drift("x", _normal(5000, 0) * 10, _normal(500, 1, shift=0.5) * 10, T)
    assert (same.method, same.drifted) == ("wasserstein", False)
    assert moved.method == "wasserstein"
    assert moved.drifted
    assert abs(moved.statistic - 0.5) < 0.15  # distance in reference standard deviations


def test_categorical_uses_chi_squared_then_jensen_shannon() -> None:
    ref = pd.Series(["a", "b", "c"] * 100)
    assert column_drift("k", ref, pd.Series(["a", "b", "c"] * 20), T).drifted is False
    moved = column_drift("k", ref, pd.Series(["a"] * 50 + ["b"] * 10), T)
    assert (moved.method, moved.drifted) == ("chi2", True)
    big = pd.Series(["a", "b"] * 1000)
    assert column_drift("k", big, pd.Series(["a", "b"] * 30), T).method == "jensenshannon"
    assert column_drift("k", big, pd.Series(["a"] * 60), T).drifted is True


def test_dataset_drifts_when_half_the_features_drift() -> None:
    ref = pd.DataFrame({f: _normal(400, i) for i, f in enumerate("abcd")})
    cur = pd.DataFrame({f: _normal(200, 10 + i) for i, f in enumerate("abcd")})
    results, share, drifted = dataset_drift(ref, cur, list("abcd"), T)
    assert (share, drifted) == (0.0, False)
    cur["a"] += 2
    cur["b"] += 2
    results, share, drifted = dataset_drift(ref, cur, list("abcd"), T)
    assert [r.drifted for r in results] == [True, True, False, False]
    assert (share, drifted) == (0.5, True)
