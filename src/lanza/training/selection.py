"""The simplest-adequate rule: the simplest candidate within one standard error of the best.

The best candidate's standard error is ``std(fold scores) / sqrt(folds)``. Any candidate
whose mean score is within that distance of the best mean is statistically as good, so
the simplest of them (earliest in the complexity order) is picked, unless another of
them is clearly cheaper to run: at most 90 % of its size and of its latency per row.
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
    @property
    def size_bytes(self) -> int: ...
    @property
    def latency_ms(self) -> float: ...


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
    simplest = min(adequate, key=lambda r: r.complexity)
    cheaper = [r for r in adequate if _cheaper(r, simplest)]
    picked = min(cheaper, key=lambda r: r.complexity) if cheaper else simplest
    reason = _reason(picked, best, se, metric)
    if picked is not simplest:
        reason += (
            f" It is smaller ({_kb(picked.size_bytes)} vs {_kb(simplest.size_bytes)}) and faster "
            f"({picked.latency_ms:.2f} vs {simplest.latency_ms:.2f} ms per row) than "
            f"{simplest.name}, also within one SE."
        )
    return Selection(picked.name, best.name, threshold, se, reason)


CHEAPER = 0.9
"""A candidate is clearly cheaper at no more than this share of the other's size and latency."""


def _cheaper(result: Scored, other: Scored) -> bool:
    return (
        result.size_bytes <= CHEAPER * other.size_bytes
        and result.latency_ms <= CHEAPER * other.latency_ms
    )


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB"


def _reason(picked: Scored, best: Scored, se: float, metric: Metric) -> str:
    head = f"picked {picked.name}: {metric.name} {picked.mean:.4f} ± {picked.std:.4f}"
    if picked.name == best.name:
        return f"{head}, the best score, and no simpler candidate was within one SE ({se:.4f})."
    why = "cheaper" if picked.complexity > best.complexity else "simpler"
    return (
        f"{head}, within one SE ({se:.4f}) of the best, {best.name} "
        f"{best.mean:.4f} ± {best.std:.4f}, and {why}."
    )
