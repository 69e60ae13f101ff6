"""What an LLM deployment is: a named provider, model and the policies around it."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lanza.llm.guardrails.spec import Guardrails

ProviderKind = Literal["openai", "local-transformers", "local-embeddings"]
Device = Literal["cpu", "cuda", "auto"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class LLMDeploymentSpec(BaseModel):
    """A persisted LLM deployment; the ``model`` field of OpenAI requests names it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="What clients send as 'model'.", json_schema_extra={"pattern": NAME.pattern}
    )
    provider: ProviderKind = Field(description="Who runs the model.")
    model: str = Field(
        min_length=1, description="Upstream model id, or a local folder for local providers."
    )
    base_url: str | None = Field(None, description="Endpoint of an OpenAI-compatible API.")
    api_key_env: str | None = Field(None, description="Environment variable holding the key.")
    device: Device = Field("auto", description="Where a local model runs.")
    fallback: str | None = Field(None, description="Deployment tried when this one fails.")
    timeout_s: float = Field(60.0, gt=0, description="Deadline for one upstream call.")
    retries: int = Field(2, ge=0, le=10, description="Extra tries on 429, 5xx and timeouts.")
    rate_limit_rpm: int | None = Field(
        None, ge=1, description="Requests per minute allowed per API key (token bucket)."
    )
    cache: bool = Field(False, description="Answer identical requests from a cache.")
    prompt: str | None = Field(
        None,
        description="Prompt used when a chat request names none; 'P@A=90,P@B=10' splits it.",
    )
    guardrails: Guardrails = Field(
        default_factory=Guardrails, description="Checks on what goes in and what comes out."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_', ':' or '-', not starting with a symbol"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LLMDeploymentSpec:
        if self.provider == "openai" and not self.base_url:
            raise ValueError(
                "an 'openai' deployment needs a base_url (e.g. https://api.openai.com/v1)"
            )
        if self.fallback == self.name:
            raise ValueError("a deployment cannot fall back to itself")
        return self

    def fingerprint(self) -> str:
        """Changes whenever the provider must be rebuilt."""
        keys = ("provider", "model", "base_url", "api_key_env", "device", "timeout_s")
        text = "|".join(str(getattr(self, k)) for k in keys)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
