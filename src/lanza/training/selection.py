"""The simplest-adequate rule: the simplest candidate within one standard error of the best.

The best candidate's standard error is ``std(fold scores) / sqrt(folds)``. Any candidate
whose mean score is within that distance of the best mean is statistically as good, so
the simplest of them (earliest in the complexity order) is picked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lanza.training.metrics import Metric


class Scored(Protocol):
    """What the rule needs of a candidate's result."""

    @property
    def name(self) -> str: ...
    @property
    def complexity(self) -> int: ...
    @property
    def mean(self) -> float: ...
    @property
    def std(self) -> float: ...
    @property
    def folds(self) -> int: ...


@dataclass(frozen=True)
class Selection:
    """The pick, the best, and a sentence that says why."""

    picked: str
    best: str
    threshold: float
    standard_error: float
    reason: str


def standard_error(result: Scored) -> float:
    """Standard error of a candidate's mean CV score."""
    return result.std / math.sqrt(max(result.folds, 1))


def select_simplest(results: Sequence[Scored], metric: Metric) -> Selection:
    """Apply the one-standard-error rule to scored candidates."""
    if not results:
        raise ValueError("no candidate was scored")
    best = results[0]
    for result in results[1:]:
        if metric.better(result.mean, best.mean):
            best = result
    se = standard_error(best)
    threshold = best.mean - se if metric.greater_is_better else best.mean + se
    adequate = [
        r
        for r in results
        if (r.mean >= threshold if metric.greater_is_better else r.mean <= threshold)
    ]
    picked = min(adequate, key=lambda r: r.complexity)
    return Selection(picked.name, best.name, threshold, se, _reason(picked, best, se, metric))


def _reason(picked: Scored, best: Scored, se: float, metric: Metric) -> str:
    head = f"picked {picked.name}: {metric.name} {picked.mean:.4f} ± {picked.std:.4f}"
    if picked.name == best.name:
        return f"{head}, the best score, and no simpler candidate was within one SE ({se:.4f})."
    return (
        f"{head}, within one SE ({se:.4f}) of the best, {best.name} "
        f"{best.mean:.4f} ± {best.std:.4f}, and simpler."
    )
