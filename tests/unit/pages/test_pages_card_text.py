"""Model cards as Markdown and HTML: every section, with text escaped in HTML."""

from __future__ import annotations

import re
from typing import Any

from lanza.pages.card_text import to_html, to_markdown


def _card() -> dict[str, Any]:
    return {
        "ref": "churn/3",
        "aliases": ["champion"],
        "created_at": "2026-11-27T03:00:00+00:00",
        "candidate": "logistic_regression",
        "data": {
            "task": "classification",
            "target": "left",
            "classes": ["no", "yes"],
            "rows": 1200,
            "source": "/data/churn.csv",
            "digest": "abc",
            "features": [
                {"name": "tenure", "kind": "number", "missing": 0.0, "summary": "0 to 72"}
            ],
        },
        "training": {
            "metric": "roc_auc",
            "cv_mean": 0.8712,
            "cv_std": 0.012,
            "folds": 5,
            "selection": {
                "reason": "simplest within one standard error",
                "skipped": [{"name": "mlp", "reason": "estimated 90s, more than the 12s left"}],
                "failed": [{"name": "knn", "reason": "ValueError: no rows"}],
                "notes": ["column 'id' left out: it looks like an identifier"],
            },
            "leaderboard": [{"candidate": "logistic_regression", "complexity": 1, "roc_auc": 0.87}],
            "latency_ms_per_row": 0.05,
            "cost": {
                "batch_per_million": 0.0009,
                "realtime_per_million": 0.0009,
                "prices": "Cloud Run vCPU-second in us-central1, prices of 2026-01-15",
            },
        },
        "serving": [
            {
                "deployment": "churn",
                "reference": "churn@champion",
                "share": 1.0,
                "device": "cpu",
                "monitoring": {
                    "requests": 40,
                    "latency": {"p99_ms": 3.2},
                    "drift_share": 0.25,
                    "quality": {"accuracy": 0.9},
                },
            }
        ],
        "owner": {"owners": ["ana"], "intended_use": "<b>retention</b> calls", "limitations": ""},
    }


def test_markdown_has_every_section() -> None:
    text = to_markdown(_card())
    assert text.startswith("# Model card: churn/3")
    for part in [
        "(champion)",
        "Owners: ana",
        "Limits: not written yet",
        "Training metric: roc_auc 0.8712 ± 0.012 (5-fold cross-validation).",
        "CPU cost per million predictions: $0.0009 in batch",
        "Skipped mlp: estimated 90s, more than the 12s left.",
        "Failed knn: ValueError: no rows.",
        "Note: column 'id' left out: it looks like an identifier.",
        "| tenure | number | 0.0 % | 0 to 72 |",
        "| churn | churn@champion | 100 % | cpu | 40 | 3.2 | 25 % of features | accuracy 0.9 |",
    ]:
        assert part in text


def test_html_is_self_contained_and_escaped() -> None:
    page = to_html(_card())
    assert "&lt;b&gt;retention&lt;/b&gt;" in page
    assert "<b>retention" not in page
    assert "http" not in page
    assert "<script" not in page


def test_markdown_escapes_html_and_links_from_card_fields() -> None:
    card = _card()
    card["owner"] = {
        "owners": ["<script>alert(1)</script>"],
        "intended_use": "[click](javascript:alert(1)) <img src=x onerror=alert(1)>",
        "limitations": "line one\n## injected heading\n| a | b |",
    }
    text = to_markdown(card)
    assert not re.search(r"(?<!\\)[<\[]", text), "every '<' and '[' is escaped"
    assert "\\[click\\](javascript:alert(1))" in text
    assert "\\<script\\>alert(1)\\</script\\>" in text
    assert "\n## injected" not in text
    assert "line one ## injected heading \\| a \\| b \\|" in text
