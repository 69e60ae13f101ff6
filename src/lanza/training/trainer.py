"""Cross-validate every candidate, time it, size it, and pick by the simplest-adequate rule.

Without a time budget every candidate runs, simplest first. With one, each candidate's
cost is first estimated from a fit on a small sample, candidates run in order of prior
value per estimated second, one that would not fit in what is left is skipped with the
reason, and one whose folds run longer than estimated is stopped between folds. The
budget counts from when the run began (``started``, the command's start) and keeps
``reserve`` seconds for registering the pick, so a whole ``lanza train`` stays within
the budget (and at worst 10 % past it).

A candidate that raises is recorded as failed, with its reason, and the run goes on.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from lanza.errors import DataError
from lanza.runtime.serialization import dump_model
from lanza.training.candidates import Candidate, build_pipeline, candidates_for, worth
from lanza.training.data import TrainingData
from lanza.training.metrics import Metric
from lanza.training.selection import Selection, select_simplest

LATENCY_CALLS = 30
SAMPLE_ROWS = 1000
OVERRUN_SHARE = 0.05
"""How far past the budget a candidate's remaining folds may be projected before it stops."""
ESTIMATE_SHARE = 0.3
SMALL_TABLE = 2 * SAMPLE_ROWS
"""Rows up to which candidates run without a cost estimate, most promising first."""


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


@dataclass(frozen=True)
class Failed:
    """A candidate that raised while being trained or measured, and why."""

    name: str
    complexity: int
    description: str
    reason: str


@dataclass
class Leaderboard:
    """Every candidate's result in complexity order, the failed and skipped ones, and the pick."""

    metric: Metric
    results: list[CandidateResult]
    skipped: list[Skipped]
    selection: Selection
    failed: list[Failed] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pick(self) -> CandidateResult:
        """The picked candidate's result (with its fitted model)."""
        return next(r for r in self.results if r.name == self.selection.picked)

    def rows(self) -> list[dict[str, Any]]:
        """The leaderboard as plain rows, failed candidates included, for tables, JSON, MLflow."""
        rows = [
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
                "status": "ok",
            }
            for r in self.results
        ]
        rows += [
            {
                "candidate": f.name,
                "complexity": f.complexity,
                self.metric.name: None,
                "std": None,
                "fit_s": None,
                "latency_ms_per_row": None,
                "batch_us_per_row": None,
                "size_kb": None,
                "picked": False,
                "status": f"failed: {f.reason}",
            }
            for f in self.failed
        ]
        return sorted(rows, key=lambda r: int(r["complexity"]))


@dataclass(frozen=True)
class Step:
    """One event of a training run, for progress displays.

    ``state`` is ``started`` before a candidate runs, then ``finished``, ``failed`` or
    ``skipped`` with ``detail`` saying the score or the reason.
    """

    candidate: str
    index: int
    total: int
    state: Literal["started", "finished", "failed", "skipped"]
    detail: str = ""
    elapsed: float = 0.0


Progress = Callable[[Step], None]


class OverBudgetError(Exception):
    """A candidate's folds were on course to run past the time budget."""


class Trainer:
    """Runs the candidates on one data set under one metric and an optional time budget."""

    def __init__(
        self,
        metric: Metric,
        folds: int = 5,
        seed: int = 0,
        time_budget: float | None = None,
        only: list[str] | None = None,
        reserve: float = 0.0,
    ) -> None:
        self.metric = metric
        self.reserve = reserve
        self.folds = folds
        self.seed = seed
        self.time_budget = time_budget
        self.only = only
        self.scorer = metric.scoring()
        self._started = 0.0

    def run(
        self, data: TrainingData, progress: Progress | None = None, started: float | None = None
    ) -> Leaderboard:
        """Cross-validate, refit and measure each candidate; then pick.

        ``started`` is when the budget began (``time.perf_counter``), by default now.
        """
        self._started = time.perf_counter() if started is None else started
        with _threads():
            return self._run(data, progress)

    def _run(self, data: TrainingData, progress: Progress | None) -> Leaderboard:
        report = progress or (lambda step: None)
        results: list[CandidateResult] = []
        failed: list[Failed] = []
        skipped: list[Skipped] = []
        pool, estimates = self._plan(data, skipped)
        total = len(pool) + len(skipped)
        for step in skipped:
            report(Step(step.name, 0, total, "skipped", step.reason, self._elapsed()))
        for index, candidate in enumerate(pool, start=len(skipped) + 1):
            reason = self._budget_reason(estimates.get(candidate.name), bool(results))
            if reason:
                skipped.append(Skipped(candidate.name, reason))
                report(Step(candidate.name, index, total, "skipped", reason, self._elapsed()))
                continue
            report(Step(candidate.name, index, total, "started", "", self._elapsed()))
            try:
                result = self._evaluate(candidate, data, guarded=bool(results))
            except OverBudgetError as exc:
                skipped.append(Skipped(candidate.name, str(exc)))
                report(Step(candidate.name, index, total, "skipped", str(exc), self._elapsed()))
                continue
            except Exception as exc:
                reason = _reason(exc)
                failed.append(
                    Failed(candidate.name, candidate.complexity, candidate.description, reason)
                )
                report(Step(candidate.name, index, total, "failed", reason, self._elapsed()))
                continue
            results.append(result)
            detail = f"{self.metric.name} {result.mean:.4f} ± {result.std:.4f}"
            report(Step(candidate.name, index, total, "finished", detail, self._elapsed()))
        if not results:
            raise DataError(_nothing_trained(failed, skipped))
        results.sort(key=lambda r: r.complexity)
        selection = select_simplest(results, self.metric)
        return Leaderboard(self.metric, results, skipped, selection, failed, self._elapsed())

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    def _plan(
        self, data: TrainingData, skipped: list[Skipped]
    ) -> tuple[list[Candidate], dict[str, float]]:
        """The candidates to try, in the order to try them, and each one's estimated seconds."""
        pool = []
        for candidate in candidates_for(data.task, self.only):
            reason = _static_reason(candidate, data)
            if reason:
                skipped.append(Skipped(candidate.name, reason))
            else:
                pool.append(candidate)
        if self.time_budget is None or len(pool) < 2:
            return pool, {}
        first, rest = pool[0], pool[1:]
        rows = len(data.features)
        if rows <= SMALL_TABLE:
            # Sampling would cost about what the candidates do: run the most promising
            # first and let the check between folds stop one that would overrun.
            rest.sort(key=lambda c: -worth(c, rows))
            return [first, *rest], dict.fromkeys((c.name for c in rest), 0.0)
        estimates: dict[str, float] = {}
        # Estimating may take a share of what is left; what it cannot reach is skipped.
        deadline = self._elapsed() + ESTIMATE_SHARE * max(self._limit() - self._elapsed(), 0.0)
        for candidate in sorted(rest, key=lambda c: -worth(c, len(data.features))):
            if self._elapsed() >= deadline:
                break
            estimates[candidate.name] = self._estimate(candidate, data)
        rest.sort(key=lambda c: -worth(c, rows) / max(estimates.get(c.name, float("inf")), 1e-3))
        return [first, *rest], estimates

    def _limit(self) -> float:
        return (self.time_budget or 0.0) - self.reserve

    def _estimate(self, candidate: Candidate, data: TrainingData) -> float:
        """Seconds to cross-validate and refit, from fits on two samples.

        Two sizes separate a fixed cost (start-up, a fixed number of boosting rounds) from
        the cost per row, which grows as ``rows ** candidate.scaling``.
        """
        rows = len(data.features)
        small, large = min(rows, SAMPLE_ROWS // 4), min(rows, SAMPLE_ROWS)
        try:
            self._time_fit(candidate, data, min(rows, 50))  # warm-up: imports and first calls
            t_small = self._time_fit(candidate, data, small)
            t_large = self._time_fit(candidate, data, large) if large > small else t_small
        except Exception:  # it will fail in cross-validation too, quickly, and say why
            return 0.0
        fold_rows = rows * (self.folds - 1) / self.folds
        s = candidate.scaling
        if large <= small or t_large <= t_small:
            per_fold = t_large
        else:
            per_row = (t_large - t_small) / (large**s - small**s)
            fixed = max(t_small - per_row * small**s, 0.0)
            per_fold = fixed + per_row * max(fold_rows, large) ** s
        return float(per_fold * (self.folds + 1.25))

    def _time_fit(self, candidate: Candidate, data: TrainingData, size: int) -> float:
        rows = len(data.features)
        sample = (
            data.features.sample(size, random_state=self.seed) if size < rows else data.features
        )
        target = data.target.loc[sample.index]
        began = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build_pipeline(candidate, data, self.seed).fit(sample, target)
            model.predict(sample.iloc[: max(1, size // self.folds)])
        return time.perf_counter() - began

    def _budget_reason(self, estimate: float | None, any_result: bool) -> str:
        """Why a candidate cannot run in what is left of the budget ('' when it can)."""
        # The first candidate (the baseline) always runs: there is always something to pick.
        if self.time_budget is None or not any_result:
            return ""
        left = self._limit() - self._elapsed()
        if left <= 0:
            return f"the time budget of {self.time_budget:g}s was used up"
        if estimate is None:
            return "no time was left to estimate its cost on a sample"
        if estimate > left:
            return (
                f"estimated {estimate:,.1f}s from a sample, more than the {left:,.1f}s left "
                f"of the {self.time_budget:g}s budget"
            )
        return ""

    def _evaluate(
        self, candidate: Candidate, data: TrainingData, guarded: bool = True
    ) -> CandidateResult:
        """Cross-validate, refit and measure; ``guarded`` stops it on course past the budget."""
        pipeline = build_pipeline(candidate, data, self.seed)
        x, y = data.features, data.target
        scores = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fold, (train, test) in enumerate(self._splitter(data).split(x, y), start=1):
                began = time.perf_counter()
                fitted = clone(pipeline).fit(x.iloc[train], y.iloc[train])
                scores.append(
                    self.metric.natural(float(self.scorer(fitted, x.iloc[test], y.iloc[test])))
                )
                if guarded:
                    self._check_course(time.perf_counter() - began, fold)
            model = clone(pipeline)
            began = time.perf_counter()
            model.fit(x, y)
            fit_seconds = time.perf_counter() - began
        if not all(np.isfinite(scores)):
            raise ValueError(f"its {self.metric.name} is not a number on some folds")
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

    def _check_course(self, fold_seconds: float, fold: int) -> None:
        """Stop a candidate between folds when its remaining folds and refit would overrun."""
        if self.time_budget is None:
            return
        remaining = (self.folds - fold + 1.25) * fold_seconds
        if self._elapsed() + remaining > self._limit() + OVERRUN_SHARE * self.time_budget:
            raise OverBudgetError(
                f"stopped after {fold} of {self.folds} folds: finishing would have run past "
                f"the {self.time_budget:g}s budget"
            )

    def _splitter(self, data: TrainingData) -> KFold | StratifiedKFold:
        if data.task == "classification":
            return StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        return KFold(self.folds, shuffle=True, random_state=self.seed)


def _threads() -> Any:
    """One thread per candidate, as XGBoost and the forest are already configured.

    Candidates are then timed on equal terms, estimates from a sample hold, and
    OpenMP's start-up and contention cannot dominate: on a busy two-core machine
    histogram boosting took seconds, not tenths, on a few hundred rows with two threads.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _static_reason(candidate: Candidate, data: TrainingData) -> str:
    if not candidate.available():
        return f"needs the '{candidate.requires}' package (pip install 'lanza[xgboost]')"
    if candidate.max_rows is not None and len(data.features) > candidate.max_rows:
        return f"too slow above {candidate.max_rows:,} rows"
    return ""


def _reason(exc: Exception) -> str:
    """The first line of an exception, as a reason on the leaderboard."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def _nothing_trained(failed: list[Failed], skipped: list[Skipped]) -> str:
    if failed:
        return f"Every candidate failed; {failed[0].name}: {failed[0].reason}."
    if skipped:
        return f"Every candidate was skipped; {skipped[0].name}: {skipped[0].reason}."
    return "No candidate matches --candidates for this task."


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
