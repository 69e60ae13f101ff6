"""The health verdict: the worst level any check reaches, with its reasons in words."""

from __future__ import annotations

from typing import Any

from lanza.monitoring.health import judge
from lanza.settings import MonitoringSettings

S = MonitoringSettings(min_rows=30)


def _report(**parts: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "traffic": {"requests": 500},
        "latency": {"p50_ms": 2.0, "p99_ms": 9.0},
        "errors": {"rate": 0.0},
        "drift": {"features": [{"drifted": False}] * 4, "prediction": None, "drifting": []},
        "quality": {
            "labelled": 300,
            "metrics": {"accuracy": 0.97},
            "training": {"metric": "accuracy", "cv_mean": 0.98},
        },
    }
    report.update(parts)
    return report


def test_healthy_says_what_it_checked() -> None:
    verdict = judge(_report(), S)
    assert verdict["status"] == "healthy"
    assert verdict["level"] == 0
    assert "within bounds" in verdict["reasons"][0]["text"]


def test_live_quality_far_below_training_degrades_in_red_words() -> None:
    quality = {
        "labelled": 300,
        "metrics": {"accuracy": 0.72},
        "training": {"metric": "accuracy", "cv_mean": 0.99},
    }
    verdict = judge(_report(quality=quality), S)
    assert verdict["status"] == "degraded"
    assert verdict["reasons"][0] == {
        "level": "degraded",
        "text": "live accuracy 0.720 is 0.270 below training's 0.990",
    }


def test_few_labels_do_not_judge_live_quality() -> None:
    quality = {
        "labelled": 10,
        "metrics": {"accuracy": 0.5},
        "training": {"metric": "accuracy", "cv_mean": 0.99},
    }
    assert judge(_report(quality=quality), S)["status"] == "healthy"


def test_estimated_quality_judges_before_labels_with_held_out_baseline() -> None:
    estimated = {"metrics": {"accuracy": 0.955, "f1": 0.8}, "baseline": {"accuracy": 0.98}}
    quality = {"labelled": 0, "metrics": {}, "training": {"metric": "roc_auc", "cv_mean": 0.99}}
    verdict = judge(_report(quality=quality, estimated=estimated), S)
    assert verdict["status"] == "watch"
    assert verdict["reasons"][0]["text"] == (
        "estimated accuracy 0.955 is 0.025 below training's 0.980"
    )


def test_regression_errors_compare_relatively() -> None:
    quality = {
        "labelled": 100,
        "metrics": {"rmse": 12.0, "mae": 10.2},
        "training": {"metric": "rmse", "cv_mean": 10.0},
    }
    verdict = judge(_report(quality=quality, estimated={"baseline": {"mae": 10.0}}), S)
    assert verdict["status"] == "degraded"
    texts = [r["text"] for r in verdict["reasons"]]
    assert texts == ["live rmse 12 is 20% above training's 10"]  # mae 2 % worse: fine


def test_drift_puts_on_watch_and_dataset_drift_degrades() -> None:
    drift = {
        "features": [{"drifted": True}, {"drifted": False}, {"drifted": False}],
        "drifting": ["a moved 0.31 SD, p < 0.001"],
        "dataset_drift": False,
        "prediction": {"drifted": True},
    }
    verdict = judge(_report(drift=drift), S)
    assert verdict["status"] == "watch"
    assert [r["text"] for r in verdict["reasons"]] == [
        "1 of 3 features drift: a moved 0.31 SD, p < 0.001",
        "the predictions' distribution drifts from training's target",
    ]
    assert judge(_report(drift={**drift, "dataset_drift": True}), S)["status"] == "degraded"


def test_data_quality_errors_and_latency_objective() -> None:
    data = {"rows": 1000, "counts": {"unseen_category": 80, "missing": 10}}
    verdict = judge(_report(data_quality=data), S)
    assert verdict["status"] == "watch"
    assert verdict["reasons"][0]["text"] == "8% of rows had unseen category input values"
    assert judge(_report(errors={"rate": 0.02}), S)["status"] == "degraded"
    assert judge(_report(errors={"rate": 0.003}), S)["status"] == "watch"
    assert judge(_report(latency={"p99_ms": 50.0}), S)["status"] == "healthy"  # no objective
    slow = MonitoringSettings(objective_p99_ms=40)
    assert judge(_report(latency={"p99_ms": 50.0}), slow)["status"] == "degraded"
    assert judge(_report(latency={"p99_ms": 35.0}), slow)["status"] == "watch"


def test_no_traffic_is_healthy_and_says_so() -> None:
    verdict = judge({"traffic": {"requests": 0}}, S)
    assert verdict["status"] == "healthy"
    assert verdict["reasons"][0]["text"] == "no requests in the window yet"


def test_only_lanzas_own_failures_count_against_the_error_objective() -> None:
    # A round where every tenth request was a caller's 422 and none failed on lanza's side.
    callers_fault = _report(errors={"rate": 0.1, "server_rate": 0.0})
    assert judge(callers_fault, S)["status"] == "healthy"
    ours = _report(errors={"rate": 0.1, "server_rate": 0.05})
    verdict = judge(ours, S)
    assert verdict["status"] == "degraded"
    assert "5.0% of requests failed" in verdict["reasons"][0]["text"]
