"""What a deployment is: a named, persisted serving configuration."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lanza.registry.references import parse_reference

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
Device = Literal["cpu", "cuda", "auto"]
ExtraColumns = Literal["refuse", "ignore"]


class Route(BaseModel):
    """One model reference that gets a share of the traffic."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="NAME@ALIAS, NAME/VERSION or an MLflow URI.")
    weight: float = Field(1.0, gt=0, description="Relative share of requests.")

    @field_validator("model")
    @classmethod
    def _reference(cls, value: str) -> str:
        parse_reference(value)
        return value


class DeploymentSpec(BaseModel):
    """A deployment as users write it (API body, CLI flags, lanza.yaml)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case letters, digits, '-' and '_'.")
    model: str | None = Field(None, description="The model reference when there is one route.")
    traffic: list[Route] = Field(default_factory=list, description="Weighted routes (canary).")
    sticky_header: str | None = Field(
        None, description="Requests with the same value of this header go to the same route."
    )
    shadow: str | None = Field(None, description="Model that sees every request; never answers.")
    max_batch_size: int = Field(32, ge=1, le=4096, description="1 turns batching off.")
    max_delay_ms: float = Field(2.0, ge=0, le=1000, description="Wait for a batch to fill.")
    device: Device = "cpu"
    extra_columns: ExtraColumns = Field(
        "refuse",
        description=(
            "A request column the model does not take: 'refuse' (422 naming it, the default) "
            "or 'ignore' (dropped, as mlflow models serve does)."
        ),
    )
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                "must be 1-63 lower-case letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("shadow")
    @classmethod
    def _shadow(cls, value: str | None) -> str | None:
        if value is not None:
            parse_reference(value)
        return value

    @model_validator(mode="after")
    def _routes(self) -> DeploymentSpec:
        if self.model and self.traffic:
            raise ValueError("give either 'model' or 'traffic', not both")
        if not self.model and not self.traffic:
            raise ValueError("give 'model' (a model reference) or 'traffic' (weighted routes)")
        return self

    @property
    def routes(self) -> list[Route]:
        """The weighted routes (one route when ``model`` is set)."""
        return self.traffic or [Route(model=self.model or "")]


class DeploymentUpdate(BaseModel):
    """A partial change to a deployment (PUT)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    traffic: list[Route] | None = None
    sticky_header: str | None = None
    shadow: str | None = None
    max_batch_size: int | None = Field(None, ge=1, le=4096)
    max_delay_ms: float | None = Field(None, ge=0, le=1000)
    device: Device | None = None
    extra_columns: ExtraColumns | None = None
    description: str | None = None

    def apply(self, spec: DeploymentSpec) -> DeploymentSpec:
        """The spec with these changes; a new model replaces a traffic split and vice versa."""
        changes = self.model_dump(exclude_unset=True)
        if "model" in changes and changes["model"] is not None:
            changes["traffic"] = []
        elif changes.get("traffic"):
            changes["model"] = None
        return DeploymentSpec.model_validate({**spec.model_dump(), **changes})
