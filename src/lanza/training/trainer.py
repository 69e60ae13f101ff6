"""Cross-validate every candidate, time it, size it, and pick by the simplest-adequate rule."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

from lanza.training.candidates import Candidate, build_pipeline, candidates_for
from lanza.training.data import TrainingData
from lanza.training.metrics import Metric
from lanza.training.selection import Selection, select_simplest
from lanza.training.serialization import dump_model

LATENCY_CALLS = 30


@dataclass
class CandidateResult:
    """How one candidate did in cross-validation and what it costs to run."""

    name: str
    complexity: int
    description: str
    scores: list[float]
    fit_seconds: float
    latency_ms: float
    batch_latency_us: float
    size_bytes: int
    model: Any = field(repr=False, default=None)

    @property
    def mean(self) -> float:
        """Mean CV score in the metric's natural sign."""
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Standard deviation of the CV scores."""
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def folds(self) -> int:
        """How many folds were scored."""
        return len(self.scores)


@dataclass(frozen=True)
class Skipped:
    """A candidate that was not trained, and why."""

    name: str
    reason: str


@dataclass
class Leaderboard:
    """Every candidate's result in complexity order, the skipped ones, and the pick."""

    metric: Metric
    results: list[CandidateResult]
    skipped: list[Skipped]
    selection: Selection

    @property
    def pick(self) -> CandidateResult:
        """The picked candidate's result (with its fitted model)."""
        return next(r for r in self.results if r.name == self.selection.picked)

    def rows(self) -> list[dict[str, Any]]:
        """The leaderboard as plain rows, for tables, JSON and MLflow."""
        return [
            {
                "candidate": r.name,
                "complexity": r.complexity,
                self.metric.name: round(r.mean, 6),
                "std": round(r.std, 6),
                "fit_s": round(r.fit_seconds, 4),
                "latency_ms_per_row": round(r.latency_ms, 4),
                "batch_us_per_row": round(r.batch_latency_us, 3),
                "size_kb": round(r.size_bytes / 1024, 1),
                "picked": r.name == self.selection.picked,
            }
            for r in self.results
        ]


Progress = Callable[[str, int, int], None]


class Trainer:
    """Runs the candidates on one data set under one metric and an optional time budget."""

    def __init__(
        self,
        metric: Metric,
        folds: int = 5,
        seed: int = 0,
        time_budget: float | None = None,
        only: list[str] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.metric = metric
        self.folds = folds
        self.seed = seed
        self.time_budget = time_budget
        self.only = only
        self.n_jobs = n_jobs

    def run(self, data: TrainingData, progress: Progress | None = None) -> Leaderboard:
        """Cross-validate, refit and measure each candidate; then pick."""
        pool = candidates_for(data.task, self.only)
        results: list[CandidateResult] = []
        skipped: list[Skipped] = []
        started = time.perf_counter()
        for index, candidate in enumerate(pool):
            if progress:
                progress(candidate.name, index, len(pool))
            elapsed = time.perf_counter() - started if results else 0.0
            reason = self._skip_reason(candidate, data, elapsed)
            if reason:
                skipped.append(Skipped(candidate.name, reason))
                continue
            results.append(self._evaluate(candidate, data))
        if progress:
            progress("done", len(pool), len(pool))
        if not results:
            raise ValueError("every candidate was skipped")
        return Leaderboard(self.metric, results, skipped, select_simplest(results, self.metric))

    def _skip_reason(self, candidate: Candidate, data: TrainingData, elapsed: float) -> str:
        if not candidate.available():
            return f"needs the '{candidate.requires}' package (pip install 'lanza[xgboost]')"
        if candidate.max_rows is not None and len(data.features) > candidate.max_rows:
            return f"too slow above {candidate.max_rows:,} rows"
        # The budget is checked once something is scored: the simplest candidate always runs.
        if self.time_budget is not None and elapsed > 0 and elapsed >= self.time_budget:
            return f"time budget of {self.time_budget:g}s used up"
        return ""

    def _evaluate(self, candidate: Candidate, data: TrainingData) -> CandidateResult:
        pipeline = build_pipeline(candidate, data, self.seed)
        y = data.target
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = cross_validate(
                pipeline,
                data.features,
                y,
                cv=self._splitter(data),
                scoring=self.metric.scorer,
                n_jobs=self.n_jobs,
                error_score="raise",
            )
            model = clone(pipeline)
            began = time.perf_counter()
            model.fit(data.features, y)
            fit_seconds = time.perf_counter() - began
        scores = [self.metric.natural(float(s)) for s in cv["test_score"]]
        latency_ms, batch_us = _latency(model, data)
        return CandidateResult(
            candidate.name,
            candidate.complexity,
            candidate.description,
            scores,
            fit_seconds,
            latency_ms,
            batch_us,
            len(dump_model(model)),
            model,
        )

    def _splitter(self, data: TrainingData) -> KFold | StratifiedKFold:
        if data.task == "classification":
            return StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        return KFold(self.folds, shuffle=True, random_state=self.seed)


def _latency(model: Any, data: TrainingData) -> tuple[float, float]:
    """Median single-row predict latency (ms) and per-row cost in a 1,000-row batch (µs)."""
    one = data.features.iloc[:1]
    timings = []
    for _ in range(LATENCY_CALLS):
        began = time.perf_counter()
        model.predict(one)
        timings.append(time.perf_counter() - began)
    batch = data.features.iloc[:1000]
    began = time.perf_counter()
    model.predict(batch)
    batch_us = (time.perf_counter() - began) / len(batch) * 1e6
    return float(np.median(timings) * 1000), batch_us
