"""Prometheus metrics for serving, on a registry the app injects (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The usual names: requests, duration, batch size, queue time, in-flight, load time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "lanza_requests",
            "Prediction requests.",
            ["deployment", "model_version", "face", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "lanza_request_duration_seconds",
            "Prediction request duration.",
            ["deployment", "face"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "lanza_batch_size",
            "Rows per model call.",
            ["deployment"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.queue_time = Histogram(
            "lanza_queue_seconds",
            "Time requests wait for a batch.",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "lanza_in_flight_requests",
            "Prediction requests being answered.",
            ["deployment"],
            registry=registry,
        )
        self.load_time = Gauge(
            "lanza_model_load_seconds",
            "Seconds the serving model version took to load.",
            ["deployment", "model_version"],
            registry=registry,
        )
        self.device = Gauge(
            "lanza_model_device",
            "1 for the device (cpu or cuda) each serving model version runs on.",
            ["deployment", "model_version", "device"],
            registry=registry,
        )
        self.input_warnings = Counter(
            "lanza_input_warnings",
            "Rows answered on a flagged input value, per feature and reason "
            "(missing, unseen, out_of_range).",
            ["deployment", "feature", "reason"],
            registry=registry,
        )
        self.ready = Gauge(
            "lanza_deployment_ready",
            "1 when the deployment serves.",
            ["deployment"],
            registry=registry,
        )
