"""What an online evaluator is: a filter over finished traces, a sample rate, scorers, an alert.

The filter is written ``name=support run_type=chain tag=prod status=success
deployment=gpt``: every term must hold for the trace's root span (``name`` matches
a part of the name). Scorers: ``judge`` (an LLM deployment grades the answer 1 to 5),
``regex`` (1 when ``pattern`` matches the answer), ``similarity`` (cosine of question
and answer: the ``embedder`` deployment's vectors, else word counts).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ONLINE_SCORERS = ("judge", "regex", "similarity")
FILTER_FIELDS = ("name", "run_type", "tag", "status", "deployment")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class EvaluatorSpec(BaseModel):
    """An online evaluator as users write it (CLI, HTTP, ``lanza.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"pattern": NAME.pattern})
    filter: str = Field("", description="Terms like 'name=support run_type=chain'.")
    sample: float = Field(1.0, gt=0, le=1, description="Share of matching traces scored.")
    scorers: list[Literal["judge", "regex", "similarity"]] = Field(min_length=1)
    judge: str | None = Field(None, description="LLM deployment that grades (judge).")
    embedder: str | None = Field(None, description="Embeddings deployment (similarity).")
    pattern: str | None = Field(None, description="Regular expression (regex).")
    alert_below: float | None = Field(
        None, description="Alert when a scorer's mean over the window falls below this."
    )
    alert_scorer: str | None = Field(None, description="The scorer alerted on (first if none).")
    alert_window: int = Field(200, ge=1, description="Latest scores the mean is taken over.")
    webhook: str | None = Field(None, description="URL POSTed when the alert fires.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        parse_filter(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EvaluatorSpec:
        if "judge" in self.scorers and not self.judge:
            raise ValueError("the judge scorer needs a judge deployment (--judge NAME)")
        if "regex" in self.scorers:
            if not self.pattern:
                raise ValueError("the regex scorer needs a pattern (--pattern REGEX)")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'{self.pattern}' is not a regular expression: {exc}") from exc
        if self.alert_scorer and self.alert_scorer not in self.scorers:
            raise ValueError(f"alert_scorer '{self.alert_scorer}' is not one of the scorers")
        return self

    @property
    def terms(self) -> dict[str, str]:
        """The filter as field -> value."""
        return parse_filter(self.filter)


def parse_filter(text: str) -> dict[str, str]:
    """``name=support run_type=chain`` into a dict; an unknown field is a ValueError."""
    terms: dict[str, str] = {}
    for term in text.split():
        field, sep, value = term.partition("=")
        if not sep or not value:
            raise ValueError(f"filter term '{term}' is not FIELD=VALUE")
        if field not in FILTER_FIELDS:
            raise ValueError(f"filter field '{field}' is unknown; use {', '.join(FILTER_FIELDS)}")
        terms[field] = value
    return terms
