"""Evaluation runs listed and compared: aggregate metrics side by side, rows aligned by id.

``lanza eval compare``, ``GET /api/v1/evaluations/compare`` and the dashboard's
``/evaluations`` page all read the same comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lanza.llm.evaluation.tracking import EvaluationLog, LoggedRun

# Metrics where a lower value is better; every other metric is better higher.
LOWER_IS_BETTER = ("error_rate", "latency_ms_mean", "latency_ms_p50", "cost_usd")


@dataclass(frozen=True)
class RunSummary:
    """One evaluation run as a list shows it."""

    run_id: str
    name: str
    status: str
    start_time: int | None
    params: dict[str, str]
    metrics: dict[str, float]


def list_runs(log: EvaluationLog, limit: int = 100) -> list[RunSummary]:
    """The newest evaluation runs of the experiment (none when it does not exist yet)."""
    found = log.client.get_experiment_by_name(log.experiment)
    if found is None:
        return []
    runs = log.client.search_runs(
        [found.experiment_id],
        filter_string="tags.`lanza.kind` = 'evaluation'",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
    )
    return [
        RunSummary(
            run_id=run.info.run_id,
            name=run.data.tags.get("mlflow.runName", run.info.run_id),
            status=run.info.status,
            start_time=run.info.start_time,
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
        )
        for run in runs
    ]


def compare(a: LoggedRun, b: LoggedRun) -> dict[str, Any]:
    """Two runs side by side: metric rows with deltas, and every row id of either run."""
    return {
        "a": _side(a),
        "b": _side(b),
        "metrics": metric_rows(a, b),
        "rows": aligned_rows(a, b),
    }


def metric_rows(a: LoggedRun, b: LoggedRun) -> list[dict[str, Any]]:
    """Each metric of either run: A, B, B - A, and which side is better (None on a tie)."""
    out = []
    for name in sorted(set(a.metrics) | set(b.metrics)):
        left, right = a.metrics.get(name), b.metrics.get(name)
        delta = right - left if left is not None and right is not None else None
        better = None
        if delta and name not in ("rows", "prompt_tokens", "completion_tokens"):
            better = "b" if (delta < 0) == (name in LOWER_IS_BETTER) else "a"
        out.append({"metric": name, "a": left, "b": right, "delta": delta, "better": better})
    return out


def aligned_rows(a: LoggedRun, b: LoggedRun) -> list[dict[str, Any]]:
    """Rows by id in A's order (then B's extras); ``differs`` when a shared score or the
    output differs."""
    right_by_id = {str(r["id"]): r for r in b.rows}
    shared = score_columns(a.rows) & score_columns(b.rows)
    ids = [str(r["id"]) for r in a.rows]
    ids += [i for i in right_by_id if i not in set(ids)]
    left_by_id = {str(r["id"]): r for r in a.rows}
    out = []
    for row_id in ids:
        left, right = left_by_id.get(row_id), right_by_id.get(row_id)
        a_scores, b_scores = _scores(left, shared), _scores(right, shared)
        a_output, b_output = _answer(left), _answer(right)
        out.append(
            {
                "id": row_id,
                "input": (left or right or {}).get("input"),
                "expected": (left or right or {}).get("expected"),
                "a_output": a_output,
                "b_output": b_output,
                "a_scores": a_scores,
                "b_scores": b_scores,
                "scores_differ": a_scores != b_scores,
                "differs": a_scores != b_scores or a_output != b_output,
            }
        )
    return out


def score_columns(rows: list[dict[str, Any]]) -> set[str]:
    """The ``score_*`` columns of a run's table."""
    return {k for row in rows[:1] for k in row if k.startswith("score_")}


def _side(run: LoggedRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "name": run.name, "params": run.params}


def _scores(row: dict[str, Any] | None, shared: set[str]) -> dict[str, float | None] | None:
    if row is None:
        return None
    return {k.removeprefix("score_"): _number(row.get(k)) for k in sorted(shared)}


def _answer(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    value = row.get("output") if row.get("output") is not None else row.get("error")
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    # The table round-trips through pandas: a missing score can come back as NaN.
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None
