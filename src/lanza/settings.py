"""One typed settings object for the whole of lanza.

Values come from ``LANZA_``-prefixed environment variables (nested sections use
``__``, e.g. ``LANZA_TRAINING__CV_FOLDS=10``) and from CLI flags, which override them.
Every default needs no server: state lives under ``LANZA_HOME``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainingSettings(BaseModel):
    """How ``lanza train`` searches and picks."""

    cv_folds: int = Field(5, ge=2, description="Folds of cross-validation per candidate.")
    reference_rows: int = Field(
        5000, ge=10, description="Rows of training data kept with the model for drift checks."
    )
    random_state: int = Field(0, description="Seed for splits and stochastic candidates.")


class ServerSettings(BaseModel):
    """The HTTP server."""

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, description="Port to listen on (Cloud Run's PORT is honoured).")
    workers: int = Field(1, ge=1, description="Server processes sharing the database.")
    grpc_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description=(
            "Port for Open Inference v2 over gRPC; `lanza serve` sets 8081 unless told "
            "--grpc-port 0. None or 0: no gRPC."
        ),
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, description="Largest request body accepted.")
    insecure: bool = Field(False, description="Allow a public interface without API keys.")
    request_timeout_s: float = Field(30.0, description="Deadline for one prediction request.")
    shutdown_grace_s: float = Field(10.0, description="Time in-flight requests get on SIGTERM.")
    poll_interval_s: float = Field(
        5.0, gt=0, description="How often deployments re-read the store and follow aliases."
    )
    max_rows_per_request: int = Field(10_000, ge=1, description="Rows one request may carry.")
    key_rpm: int = Field(
        0, ge=0, description="Requests per minute one API key may make (429 past it); 0: no limit."
    )
    model_memory_mb: float | None = Field(
        None,
        gt=0,
        description="Budget for resident models (artifact size on disk) of the whole server: "
        "each of its workers holds at most its share (the budget over the workers), and "
        "evicts on-demand deployments least-recently-used past it; none: no budget.",
    )
    model_idle_s: float | None = Field(
        None, gt=0, description="Unload an on-demand deployment unused this long; none: never."
    )
    ready_cache_mb: float = Field(
        10240,
        ge=0,
        description="Disk for the ready-to-load form of models (fast cold starts), under "
        "the model cache; least recently used entries go past it; 0: no such cache.",
    )
    expose_metrics: bool = Field(
        False,
        description="Serve /metrics to anyone; by default it needs a 'read' key once keys exist "
        "(it names deployments and versions).",
    )
    expose_docs: bool = Field(
        False,
        description="Serve /docs and /openapi.json to anyone; by default they need a 'read' "
        "key once keys exist.",
    )


class LLMSettings(BaseModel):
    """The LLM gateway, prompts and evaluations."""

    prices_path: Path | None = Field(
        None, description="JSON price table that extends or overrides the one lanza ships."
    )
    retry_backoff_s: float = Field(
        0.5, ge=0, description="First retry delay on 429/5xx; doubles on each retry."
    )
    cache_entries: int = Field(1024, ge=1, description="Answers kept in the exact-match cache.")
    eval_concurrency: int = Field(4, ge=1, description="Dataset rows evaluated at once.")
    eval_experiment: str = Field(
        "lanza-evaluations", description="MLflow experiment that holds evaluation runs."
    )


class TracingSettings(BaseModel):
    """The trace store and its export to MLflow."""

    mlflow_export_interval_s: float = Field(
        5.0, ge=0, description="Seconds between exports of settled traces to MLflow; 0 turns off."
    )
    mlflow_experiment: str = Field(
        "lanza-traces", description="MLflow experiment whose Traces view shows lanza's traces."
    )


class MonitoringSettings(BaseModel):
    """The prediction log, drift and quality windows, and alerts."""

    enabled: bool = Field(True, description="Log predictions and watch deployments.")
    sample_rate: float = Field(1.0, ge=0, le=1, description="Share of requests logged.")
    flush_interval_s: float = Field(
        0.5, gt=0, description="Seconds between batched writes of the prediction log."
    )
    batch_rows: int = Field(500, ge=1, description="Most log rows written in one insert.")
    buffer_rows: int = Field(
        50_000, ge=1, description="Log rows held in memory at most; beyond it rows are dropped."
    )
    fsync: bool = Field(
        False, description="fsync the prediction journal per row: survives power loss, slower."
    )
    retention_days: float = Field(30, gt=0, description="Days log rows and alerts are kept.")
    window: int = Field(1000, ge=1, description="Latest predictions in a monitoring window.")
    window_s: float | None = Field(
        None, gt=0, description="A time window in seconds instead of the last N predictions."
    )
    interval_s: float = Field(
        30.0, gt=0, description="Seconds between drift, quality and alert computations."
    )
    min_rows: int = Field(30, ge=1, description="Rows a window needs before drift is judged.")
    p_value: float = Field(
        0.01, gt=0, lt=1, description="A drifting column's test must reach this p-value."
    )
    significance: bool = Field(
        True, description="Require significance (p < p_value) besides the effect size."
    )
    distance: float = Field(
        0.1, gt=0, description="Numeric drift: Wasserstein distance in reference SDs."
    )
    category_share: float = Field(
        0.05, gt=0, le=1, description="Categorical drift: share of rows that changed category."
    )
    dataset_share: float = Field(
        0.5, gt=0, le=1, description="Share of drifting features that makes the dataset drift."
    )
    quality_drop: float = Field(
        0.05,
        gt=0,
        description="Quality drop below training that degrades a deployment (absolute for "
        "scores, relative for RMSE/MAE); half of it puts it on watch.",
    )
    objective_error_rate: float = Field(
        0.01, gt=0, le=1, description="Share of failed requests that degrades a deployment."
    )
    objective_p99_ms: float | None = Field(
        None, gt=0, description="p99 latency objective in ms; above it a deployment degrades."
    )
    mlflow_experiment: str = Field(
        "lanza-monitoring", description="MLflow experiment holding one run per deployment."
    )


class AdvisorSettings(BaseModel):
    """``lanza advise``."""

    prices_path: Path | None = Field(
        None, description="A price table (JSON, same shape as lanza's) to use instead."
    )


class AutomationSettings(BaseModel):
    """The scheduler of ``lanza serve`` and ``lanza scheduler``: scheduled jobs and pipelines."""

    enabled: bool = Field(True, description="Run the scheduler inside ``lanza serve``.")
    tick_s: float = Field(30.0, gt=0, description="Seconds between two looks for due schedules.")
    grace_s: float = Field(
        300.0, ge=0, description="With catch_up none, a missed run this recent still fires."
    )


class Settings(BaseSettings):
    """lanza's configuration: where state lives and how components behave."""

    model_config = SettingsConfigDict(
        env_prefix="LANZA_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Field(Path(".lanza"), description="Folder for local state; created on first use.")
    tracking_uri: str | None = Field(
        None,
        description=(
            "MLflow tracking and registry URI. Defaults to MLFLOW_TRACKING_URI when set, "
            "else sqlite:///<home>/mlflow.db."
        ),
    )
    database_url: str | None = Field(
        None,
        description="lanza's own database (SQLAlchemy URL). Defaults to sqlite:///<home>/lanza.db.",
    )
    artifact_root: str | None = Field(
        None,
        description="Where new MLflow experiments store artifacts. Defaults to <home>/artifacts.",
    )
    actor: str | None = Field(
        None, description="Name recorded in audit history; defaults to the OS user."
    )
    allow_pickle: bool = Field(
        False,
        description="Load pickle-based model files (they can run any code); skops needs no flag.",
    )
    serve_deployment: str | None = Field(
        None,
        description=(
            "The deployment un-prefixed routes serve (MLflow's /invocations, Vertex AI's "
            "predict route); by default the server's only deployment. lanza package and the "
            "cloud targets set it."
        ),
    )
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    advisor: AdvisorSettings = Field(default_factory=AdvisorSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    automation: AutomationSettings = Field(default_factory=AutomationSettings)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.tracking_uri is None:
            self.tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or _sqlite_url(
                self.home / "mlflow.db"
            )
        if self.database_url is None:
            self.database_url = _sqlite_url(self.home / "lanza.db")
        if self.artifact_root is None:
            self.artifact_root = (self.home / "artifacts").as_uri()
        if self.actor is None:
            self.actor = _os_user()
        return self

    @property
    def tracking(self) -> str:
        """The resolved MLflow tracking URI."""
        assert self.tracking_uri is not None
        return self.tracking_uri

    @property
    def database(self) -> str:
        """The resolved database URL."""
        assert self.database_url is not None
        return self.database_url

    @property
    def model_cache(self) -> Path:
        """Where downloaded model artifacts are kept, per name and version."""
        return self.home / "models"

    def ensure_home(self) -> Path:
        """Create the home folder if it is missing and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"
