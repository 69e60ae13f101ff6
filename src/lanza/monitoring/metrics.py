"""Prometheus metrics of monitoring, on the registry the app injects (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class MonitoringMetrics:
    """Log health (written, dropped, failed writes), the latest drift, quality and verdict,
    and the flagged inputs of watched batch jobs."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.logged = Counter(
            "lanza_monitoring_logged_rows", "Prediction log rows written.", registry=registry
        )
        self.dropped = Counter(
            "lanza_monitoring_dropped_rows",
            "Prediction log rows dropped because the buffer was full.",
            registry=registry,
        )
        self.write_errors = Counter(
            "lanza_monitoring_write_errors",
            "Failed writes of the prediction log (rows are kept and retried).",
            registry=registry,
        )
        self.drift = Gauge(
            "lanza_drift_score",
            "Drift effect size of a feature (or the prediction) in the latest window: "
            "Wasserstein distance in reference SDs, or the share of rows that changed category.",
            ["deployment", "feature", "effect"],
            registry=registry,
        )
        self.p_value = Gauge(
            "lanza_drift_p_value",
            "p-value of a feature's drift test (KS or chi-squared) in the latest window.",
            ["deployment", "feature", "test"],
            registry=registry,
        )
        self.drifted = Gauge(
            "lanza_feature_drifted",
            "1 when the feature drifts in the latest window.",
            ["deployment", "feature"],
            registry=registry,
        )
        self.dataset_drift = Gauge(
            "lanza_dataset_drift_share",
            "Share of features drifting in the latest window.",
            ["deployment"],
            registry=registry,
        )
        self.quality = Gauge(
            "lanza_live_quality",
            "Live quality against ground truth in the latest window.",
            ["deployment", "metric"],
            registry=registry,
        )
        self.estimated = Gauge(
            "lanza_estimated_quality",
            "Quality estimated without labels (calibrated confidence or a loss model).",
            ["deployment", "metric"],
            registry=registry,
        )
        self.batch_input_warnings = Gauge(
            "lanza_batch_input_warnings",
            "Rows watched batch jobs (lanza batch --log-rate) scored on a flagged input value, "
            "per feature and reason (missing, unseen, out_of_range); the batch sibling of "
            "lanza_input_warnings_total, read from the database each monitoring round.",
            ["deployment", "feature", "reason", "source"],
            registry=registry,
        )
        self.batch_rows = Gauge(
            "lanza_batch_scored_rows",
            "Rows watched batch jobs scored, the denominator of lanza_batch_input_warnings.",
            ["deployment", "source"],
            registry=registry,
        )
        self.health = Gauge(
            "lanza_deployment_health",
            "Health verdict of the latest window: 0 healthy, 1 watch, 2 degraded.",
            ["deployment"],
            registry=registry,
        )
