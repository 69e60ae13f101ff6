"""Flagged inputs reach the MLflow monitoring run as one figure per feature and reason."""

from __future__ import annotations

from lanza.monitoring.tracking import figures


def test_flagged_rows_are_figures() -> None:
    report = {
        "traffic": {"requests": 4, "per_second": None},
        "latency": {},
        "drift": {"features": [], "prediction": None, "share": None},
        "quality": {"metrics": {}},
        "data_quality": {
            "flagged": 3,
            "by_feature": [
                {"feature": "island", "reason": "unseen", "rows": 2},
                {"feature": "bill (mm)", "reason": "out_of_range", "rows": 1},
            ],
        },
    }
    out = figures(report)
    assert out["flagged_unseen_island"] == 2.0
    assert out["flagged_out_of_range_bill _mm_"] == 1.0  # MLflow-safe key
