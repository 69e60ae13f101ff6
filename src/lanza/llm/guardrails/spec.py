"""What a deployment's guardrails check, and what each check does when it finds something.

``redact`` rewrites the text (PII becomes ``[EMAIL]``, a banned word ``[REDACTED]``, a
text over the limit is cut), ``block`` refuses the call with a 422 naming the check,
``flag`` lets the text through and records the finding on the trace. The optional judge
check asks another LLM deployment to grade each answer 1-5 against a rule in words; a
grade under ``judge_below`` blocks or flags the answer (a judge that does not answer
lets it through, flagged).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Action = Literal["redact", "block", "flag"]
Side = Literal["input", "output"]
PiiKind = Literal["email", "phone", "card", "iban"]
PII_KINDS: tuple[str, ...] = ("email", "phone", "card", "iban")
SIDES: tuple[Side, ...] = ("input", "output")


class Guardrails(BaseModel):
    """The checks of one LLM deployment; the default checks nothing."""

    model_config = ConfigDict(extra="forbid")

    pii: list[PiiKind] = Field(default_factory=list, description="PII patterns to look for.")
    pii_action: Action = Field("redact", description="What a PII finding does.")
    banned_words: list[str] = Field(default_factory=list, description="Words never allowed.")
    banned_action: Action = Field("block", description="What a banned word does.")
    max_chars: int | None = Field(None, ge=1, description="Longest text allowed per side.")
    length_action: Action = Field("block", description="What an overlong text does.")
    json_schema: dict[str, Any] | None = Field(
        None, description="JSON schema every answer must be valid against (output only)."
    )
    schema_action: Literal["block", "flag"] = Field(
        "block", description="What an answer that is not valid JSON for the schema does."
    )
    judge: str | None = Field(
        None, description="LLM deployment that grades each answer 1-5 against 'judge_rule'."
    )
    judge_rule: str = Field(
        "The answer is safe, polite and about the question.",
        min_length=1,
        max_length=2000,
        description="What the judge checks, in words.",
    )
    judge_below: float = Field(3.0, ge=1, le=5, description="Grades under this fail.")
    judge_action: Literal["block", "flag"] = Field(
        "flag", description="What an answer the judge fails does."
    )
    sides: list[Side] = Field(
        default_factory=lambda: list(SIDES), description="Where the checks apply."
    )

    @field_validator("banned_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        return [w.strip() for w in value if w.strip()]

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
        return value

    @property
    def active(self) -> bool:
        """Whether any check is set."""
        return bool(
            self.pii or self.banned_words or self.max_chars or self.json_schema or self.judge
        )

    def holds_output(self) -> bool:
        """Whether answers must be complete before they are sent (they may be rewritten)."""
        if "output" not in self.sides:
            return False
        return (
            (self.json_schema is not None and self.schema_action == "block")
            or (self.judge is not None and self.judge_action == "block")
            or (bool(self.pii) and self.pii_action != "flag")
            or (bool(self.banned_words) and self.banned_action != "flag")
            or (self.max_chars is not None and self.length_action != "flag")
        )
