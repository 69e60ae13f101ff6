"""Cross-validate every candidate, time it, size it, pick by the simplest-adequate rule, refit.

Without a time budget every candidate runs, simplest first. With one, candidates run in
order of prior value (on a large table, gradient boosting first), and the time budget is
kept by three checks, all counted from when the run began (``started``, the command's
start) and leaving ``reserve`` seconds for registering the pick:

- before a candidate on a table of more than ``SMALL_TABLE`` rows, its fold is timed on a
  sample of ``1/SAMPLE_SHARE`` of a fold's rows and scaled up (``rows ** scaling``); one
  whose folds and refit would not fit in what is left is skipped, with the reason;
- before every fold, the folds left (at the pace measured so far) plus a refit are
  projected; a candidate on course past the budget is stopped there (a fold that has
  begun is never interrupted: its length is what the sample and the folds before it say);
- only the pick is refitted on every row, after the choice, and only when that fits;
  otherwise the model of its last fold (trained on ``(folds - 1) / folds`` of the rows)
  is registered, and a note says so.

The whole ``lanza train`` then stays within the budget, and at worst 10 % past it.
Each candidate's out-of-fold outputs are kept, so the pick's quality estimator for
monitoring needs no fit of its own. A candidate that raises is recorded as failed, with
its reason, and the run goes on.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold

from lanza.errors import DataError
from lanza.runtime.serialization import dump_model
from lanza.training.candidates import Candidate, build_pipeline, candidates_for, worth
from lanza.training.data import TrainingData
from lanza.training.metrics import Metric
from lanza.training.selection import Selection, select_simplest

LATENCY_CALLS = 10
SAMPLE_ROWS = 1000
"""The smallest sample a candidate's cost is estimated on."""
SAMPLE_SHARE = 8
"""A cost estimate fits on this fraction of a fold's rows (at least ``SAMPLE_ROWS``)."""
OVERRUN_SHARE = 0.05
"""How far past the budget a started candidate's remaining folds may be projected."""
RECORDING_SHARE = 0.4
"""Recording the pick, in shares of the baseline's run (measured: 0.25 to 0.75 on the zoo)."""
SMALL_TABLE = 2 * SAMPLE_ROWS
LINEAR = ("logistic_regression", "ridge_regression")
"""Tried right after the baseline under a time budget: cheap on any table, often enough."""
"""Rows up to which candidates run without a cost estimate: a fold costs about a sample."""


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
    """The last fold's model; the pick's is replaced by one refitted on every row."""
    held_out: Any = field(repr=False, default=None)
    """Out-of-fold outputs on every row: class probabilities or predictions (None: none)."""
    refitted: bool = False

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
    notes: list[str] = field(default_factory=list)

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


class _SampleFailedError(Exception):
    """A fit on a sample, for a cost estimate, raised."""


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
        self.reserve = self._reserve = reserve
        self.folds = folds
        self.seed = seed
        self.time_budget = time_budget
        self.only = only
        self.scorer = metric.scoring()
        self._started = 0.0
        self._refit_reserve = 0.0
        self._measuring = 0.0

    def run(
        self, data: TrainingData, progress: Progress | None = None, started: float | None = None
    ) -> Leaderboard:
        """Cross-validate and measure each candidate; pick; refit the pick on every row.

        ``started`` is when the budget began (``time.perf_counter``), by default now.
        """
        self._started = time.perf_counter() if started is None else started
        self._refit_reserve = 0.0
        self._measuring = 0.0
        self.reserve = self._reserve
        with _threads():
            return self._run(data, progress)

    def _run(self, data: TrainingData, progress: Progress | None) -> Leaderboard:
        report = progress or (lambda step: None)
        results: list[CandidateResult] = []
        failed: list[Failed] = []
        skipped: list[Skipped] = []
        pool = self._plan(data, skipped)
        total = len(pool) + len(skipped)
        for step in skipped:
            report(Step(step.name, 0, total, "skipped", step.reason, self._elapsed()))
        for index, candidate in enumerate(pool, start=len(skipped) + 1):
            guarded = self.time_budget is not None and (bool(results) or candidate.complexity > 0)
            began = self._elapsed()
            try:
                pace = self._admit(candidate, data) if guarded else None
                report(Step(candidate.name, index, total, "started", "", self._elapsed()))
                result = self._evaluate(candidate, data, guarded, pace)
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
            if not results and self.time_budget is not None:
                # Recording the pick costs a share of what the first candidate did (the
                # same preprocessing, a few predictions, files): on a busy machine or a
                # large table more than the fixed share kept for it.
                self.reserve = max(self.reserve, RECORDING_SHARE * (self._elapsed() - began))
            results.append(result)
            self._refit_reserve = max(self._refit_reserve, self._refit_seconds(result, candidate))
            detail = f"{self.metric.name} {result.mean:.4f} ± {result.std:.4f}"
            report(Step(candidate.name, index, total, "finished", detail, self._elapsed()))
        if not results:
            raise DataError(_nothing_trained(failed, skipped))
        results.sort(key=lambda r: r.complexity)
        selection = select_simplest(results, self.metric)
        board = Leaderboard(self.metric, results, skipped, selection, failed)
        board.notes += self._refit(board.pick, pool, data)
        board.seconds = self._elapsed()
        return board

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    def _plan(self, data: TrainingData, skipped: list[Skipped]) -> list[Candidate]:
        """The candidates to try, in the order to try them.

        Under a budget the first (the baseline, cheap) runs first, then the linear model
        (its cost grows only with rows times columns: seconds where others take minutes,
        and often within a standard error of the best, so a short budget still ends with
        a model that learned something), then the others by prior value on a table this
        size, so what the budget cannot reach is the least promising; without one, in
        complexity order.
        """
        pool = []
        for candidate in candidates_for(data.task, self.only):
            reason = _static_reason(candidate, data)
            if reason:
                skipped.append(Skipped(candidate.name, reason))
            else:
                pool.append(candidate)
        if self.time_budget is None or len(pool) < 2:
            return pool
        rows = len(data.features)
        linear = [c for c in pool[1:] if c.name in LINEAR]
        rest = sorted((c for c in pool[1:] if c.name not in LINEAR), key=lambda c: -worth(c, rows))
        return [pool[0], *linear, *rest]

    def _limit(self) -> float:
        return (self.time_budget or 0.0) - self.reserve

    def _admit(self, candidate: Candidate, data: TrainingData) -> float | None:
        """A candidate's estimated seconds per fold, or OverBudgetError when it cannot fit.

        On a small table no estimate is made (None): a fold costs about what a sample
        would, and the check before the second fold uses the first's measured time.
        """
        if self._limit() - self._elapsed() <= 0:
            raise OverBudgetError(f"the time budget of {self.time_budget:g}s was used up")
        if len(data.features) <= SMALL_TABLE:
            return None
        try:
            return self._estimate(candidate, data)
        except _SampleFailedError:
            return None

    def _estimate(self, candidate: Candidate, data: TrainingData) -> float:
        """Seconds per fold (fit and held-out predictions), from fits on samples.

        After a warm-up fit on a few rows (imports, first calls), a fit on
        ``SAMPLE_ROWS`` rows gives a first guess; a candidate that even at half that
        guess would not fit is skipped there, cheaply. Otherwise a fit on
        ``1/SAMPLE_SHARE`` of a fold's rows gives the estimate. Times scale by
        ``(fold rows / sample rows) ** candidate.scaling``.
        """
        rows = len(data.features)
        fold_rows = rows * (self.folds - 1) / self.folds
        self._time_fit(candidate, data, min(rows, 50))
        size = SAMPLE_ROWS
        pace = self._time_fit(candidate, data, size) * (fold_rows / size) ** candidate.scaling
        self._check_admission(0.5 * pace, candidate, "at least")
        larger = int(min(fold_rows, fold_rows / SAMPLE_SHARE))
        if larger > 2 * size:
            scale = (fold_rows / larger) ** candidate.scaling
            pace = self._time_fit(candidate, data, larger) * scale
            self._check_admission(pace, candidate, "")
        return float(pace)

    def _check_admission(self, pace: float, candidate: Candidate, bound: str) -> None:
        """OverBudgetError when the candidate's folds and refit, at ``pace``, would not fit."""
        need = self._projected(pace, 1, candidate) - self._elapsed()
        left = self._limit() - self._elapsed()
        if need > left:
            raise OverBudgetError(
                f"estimated {bound + ' ' if bound else ''}{need:,.1f}s from a sample, more "
                f"than the {max(left, 0.0):,.1f}s left of the {self.time_budget:g}s budget"
            )

    def _time_fit(self, candidate: Candidate, data: TrainingData, size: int) -> float:
        """Seconds to fit on ``size`` rows and predict, twice, a fold's share of them.

        A fit that raises is ``_SampleFailedError``: cross-validation will fail quickly
        too, and say why on the leaderboard.
        """
        rows = len(data.features)
        sample = (
            data.features.sample(size, random_state=self.seed) if size < rows else data.features
        )
        target = data.target.loc[sample.index]
        began = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = build_pipeline(candidate, data, self.seed).fit(sample, target)
                test = sample.iloc[: max(1, size // (self.folds - 1))]
                model.predict(test)
                model.predict(test)
        except Exception as exc:
            raise _SampleFailedError from exc
        return time.perf_counter() - began

    def _projected(self, pace: float, fold: int, candidate: Candidate) -> float:
        """When the candidate would end, folds ``fold``.. at ``pace`` and a refit included.

        The refit kept is the largest of any finished candidate's and this one's, so
        whichever is picked can still be refitted.
        """
        refit = max(self._refit_reserve, pace * _refit_share(self.folds, candidate.scaling))
        return self._elapsed() + (self.folds - fold + 1) * pace + refit + self._measuring

    def _evaluate(
        self, candidate: Candidate, data: TrainingData, guarded: bool, pace: float | None
    ) -> CandidateResult:
        """Cross-validate, keep held-out outputs, measure the last fold's model.

        ``guarded`` stops it before a fold when the folds left and a refit, at ``pace``
        (the estimate, then the mean fold so far), would run past the budget.
        """
        pipeline = build_pipeline(candidate, data, self.seed)
        x, y = data.features, data.target
        scores: list[float] = []
        fit_times: list[float] = []
        fold_times: list[float] = []
        held_out: Any = None
        fitted: Any = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fold, (train, test) in enumerate(self._splitter(data).split(x, y), start=1):
                if guarded and pace is not None:
                    self._check_course(pace, fold, candidate)
                began = time.perf_counter()
                fitted = clone(pipeline).fit(x.iloc[train], y.iloc[train])
                fit_times.append(time.perf_counter() - began)
                scores.append(
                    self.metric.natural(float(self.scorer(fitted, x.iloc[test], y.iloc[test])))
                )
                held_out = _keep_held_out(held_out, fitted, x.iloc[test], test, len(x))
                fold_times.append(time.perf_counter() - began)
                pace = float(np.mean(fold_times))
        if not all(np.isfinite(scores)):
            raise ValueError(f"its {self.metric.name} is not a number on some folds")
        began = time.perf_counter()
        latency_ms, batch_us = _latency(fitted, data)
        size = len(dump_model(fitted))
        # Timing and sizing the next candidate costs about what this one's did.
        self._measuring = max(self._measuring, time.perf_counter() - began)
        return CandidateResult(
            candidate.name,
            candidate.complexity,
            candidate.description,
            scores,
            float(np.mean(fit_times)),
            latency_ms,
            batch_us,
            size,
            fitted,
            None if held_out is False else held_out,
        )

    def _check_course(self, pace: float, fold: int, candidate: Candidate) -> None:
        """Stop a candidate before a fold when it and a refit would overrun."""
        allowed = self._limit() + OVERRUN_SHARE * (self.time_budget or 0.0)
        if self._projected(pace, fold, candidate) > allowed:
            done = f"stopped after {fold - 1} of {self.folds} folds" if fold > 1 else "not started"
            raise OverBudgetError(
                f"{done}: at {pace:,.1f}s a fold, finishing would have run past the "
                f"{self.time_budget:g}s budget"
            )

    def _refit_seconds(self, result: CandidateResult, candidate: Candidate) -> float:
        pace = result.fit_seconds
        return pace * _refit_share(self.folds, candidate.scaling)

    def _refit(self, pick: CandidateResult, pool: list[Candidate], data: TrainingData) -> list[str]:
        """Refit the pick on every row when the budget allows; else a note why not."""
        candidate = next(c for c in pool if c.name == pick.name)
        need = self._refit_seconds(pick, candidate)
        if (
            self.time_budget is not None
            and self._elapsed() + need > self._limit() + OVERRUN_SHARE * self.time_budget
        ):
            share = (self.folds - 1) / self.folds
            return [
                f"{pick.name} is the model of its last cross-validation fold, trained on "
                f"{share:.0%} of the rows: refitting it on every row (about {need:,.1f}s) "
                f"would have run past the {self.time_budget:g}s budget."
            ]
        model = clone(pick.model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data.features, data.target)
        pick.model, pick.refitted = model, True
        return []

    def _splitter(self, data: TrainingData) -> KFold | StratifiedKFold:
        if data.task == "classification":
            return StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        return KFold(self.folds, shuffle=True, random_state=self.seed)


def _refit_share(folds: int, scaling: float) -> float:
    """A refit on every row, in folds: ``(folds / (folds - 1)) ** scaling``."""
    return float((folds / (folds - 1)) ** max(scaling, 1.0))


def _keep_held_out(kept: Any, fitted: Any, x_test: Any, test: np.ndarray, rows: int) -> Any:
    """Add one fold's held-out outputs (probabilities or predictions) to ``kept``.

    ``False`` once a fold has none to give (a classifier without probabilities, or a
    fold missing a class): the estimator is then fitted from fresh folds instead.
    """
    if kept is False:
        return False
    if is_classifier(fitted):
        if not hasattr(fitted, "predict_proba"):
            return False
        out = np.asarray(fitted.predict_proba(x_test), dtype=float)
    else:
        out = np.asarray(fitted.predict(x_test), dtype=float)
    if kept is None:
        kept = np.full((rows, *out.shape[1:]), np.nan)
    if kept.shape[1:] != out.shape[1:]:
        return False
    kept[test] = out
    return kept


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
