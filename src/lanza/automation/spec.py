"""What ``lanza.yaml`` may say: models to train, deployments, alert rules, scheduled
batch jobs and retrain-and-promote pipelines, as typed pydantic models.

Deployments reuse the serving spec and alert rules the monitoring one, so a file is
checked by the same rules as the API and the CLI.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lanza.automation.cron import parse_cron, parse_interval
from lanza.batch.spec import DEFAULT_CHUNK_ROWS, Format
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.online.spec import EvaluatorSpec
from lanza.monitoring.alerts import METRICS, AlertRule
from lanza.registry.references import parse_reference
from lanza.serving.spec import NAME, DeploymentSpec

CatchUp = Literal["all", "latest", "none"]
Rollout = Literal["shadow", "canary"]
Task = Literal["classification", "regression"]


class Strict(BaseModel):
    """Unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("must be 1-63 lower-case letters, digits, '-' or '_'")
    return value


class Timing(Strict):
    """A cron expression or an interval (exactly one)."""

    cron: str | None = Field(None, description="Five-field cron, in UTC: '0 2 * * *'.")
    every: str | None = Field(None, description="An interval: 30s, 15m, 2h, 1d.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value)
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value

    def has_timing(self) -> bool:
        """Whether a cron or an interval is set."""
        return self.cron is not None or self.every is not None


class ModelSpec(Strict):
    """A model to train from a table and register (``lanza train`` written down)."""

    name: str
    data: str = Field(description="CSV or Parquet table, relative to lanza.yaml.")
    target: str
    task: Task | None = None
    metric: str | None = None
    candidates: list[str] | None = None
    time_budget: float | None = Field(None, gt=0)
    folds: int | None = Field(None, ge=2, le=20)

    _check_name = field_validator("name")(_name)


class PromptSpec(Strict):
    """A prompt template in the registry; a changed template becomes a new version."""

    name: str
    template: str | list[dict[str, Any]] = Field(
        description="Text with {{variables}}, or chat messages [{role, content}]."
    )
    aliases: list[str] = Field(
        default_factory=list, description="Aliases moved to the newest version, e.g. production."
    )

    @field_validator("template")
    @classmethod
    def _not_empty(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if not value:
            raise ValueError("a prompt template cannot be empty")
        return value

    @field_validator("aliases")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class AlertSpec(AlertRule, Strict):
    """An alert rule of a deployment."""

    deployment: str

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS and not value.startswith("drift."):
            raise ValueError(f"unknown metric; use one of {', '.join(METRICS)} or drift.<feature>")
        return value

    @property
    def key(self) -> str:
        """How a rule is recognised between the file and the database."""
        return f"{self.deployment}:{self.metric}{self.comparison}"


class ScheduleSpec(Timing):
    """A batch job run on a schedule; ``{date}`` in paths is the run's due date."""

    name: str
    model: str = Field(description="Model reference, e.g. churn@champion.")
    input: str = Field(description="Input path; may contain {date}, {datetime} or {date:%Y/%m/%d}.")
    output: str = Field(description="Output folder; may contain the same fields.")
    format: Format = "parquet"
    catch_up: CatchUp = Field(
        "latest", description="After downtime run every missed time, the latest, or none."
    )
    keep_columns: list[str] = Field(default_factory=list)
    probabilities: bool = False
    chunk_rows: int = Field(DEFAULT_CHUNK_ROWS, ge=1)

    _check_name = field_validator("name")(_name)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        parse_reference(value)
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of 'cron' or 'every'")
        return self


class Triggers(Timing):
    """What starts a pipeline besides a person: a schedule and alert firings."""

    alerts: list[str] = Field(
        default_factory=list, description="Alert metrics of the deployment that start a run."
    )
    catch_up: CatchUp = "latest"


class PipelineSpec(Strict):
    """Retrain on fresh data, try the result beside the champion, promote only if better."""

    name: str
    model: str = Field(description="Registered model name that is retrained.")
    deployment: str = Field(description="Deployment that serves NAME@champion.")
    data: str = Field(description="Training table, relative to lanza.yaml.")
    target: str
    task: Task | None = None
    metric: str = Field("accuracy", description="accuracy, f1, rmse or mae.")
    candidates: list[str] | None = None
    time_budget: float | None = Field(None, gt=0)
    folds: int | None = Field(None, ge=2, le=20)
    include_feedback: bool = Field(True, description="Add labelled production rows.")
    rollout: Rollout = "shadow"
    canary_weight: float = Field(0.1, gt=0, lt=1)
    window: str = Field("1h", description="How long the challenger is tried: 30m, 1d.")
    min_labelled: int = Field(50, ge=1, description="Labelled requests needed to decide.")
    margin: float = Field(0.0, ge=0, description="How much better the challenger must be.")
    triggers: Triggers = Field(default_factory=Triggers)

    _check_name = field_validator("name")(_name)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_interval(value)
        return value

    @field_validator("metric")
    @classmethod
    def _metric_known(cls, value: str) -> str:
        if value not in LOWER_IS_BETTER and value not in HIGHER_IS_BETTER:
            raise ValueError("must be accuracy, f1, rmse or mae")
        return value

    @property
    def window_delta(self) -> timedelta:
        """The trial window."""
        return parse_interval(self.window)


HIGHER_IS_BETTER = ("accuracy", "f1")
LOWER_IS_BETTER = ("rmse", "mae")


class LanzaFile(Strict):
    """The whole of a ``lanza.yaml``."""

    version: Literal[1] = 1
    models: list[ModelSpec] = Field(default_factory=list)
    deployments: list[DeploymentSpec] = Field(default_factory=list)
    llm_deployments: list[LLMDeploymentSpec] = Field(default_factory=list)
    prompts: list[PromptSpec] = Field(default_factory=list)
    evaluators: list[EvaluatorSpec] = Field(default_factory=list)
    alerts: list[AlertSpec] = Field(default_factory=list)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    pipelines: list[PipelineSpec] = Field(default_factory=list)
