"""A span: one unit of work in a trace, filled in by the traced program.

Spans are plain slotted objects so opening one costs a few microseconds; the worker
thread turns finished spans into ``SpanRecord`` for the sinks.
"""

from __future__ import annotations

import random
import time
from typing import Any

from lanza.llm.tracing.records import SpanRecord


class Span:
    """One unit of work in a trace: timings, inputs, outputs, error, tokens and cost."""

    __slots__ = (
        "completion_tokens",
        "cost_usd",
        "end_time",
        "error",
        "id",
        "inputs",
        "metadata",
        "model",
        "name",
        "outputs",
        "parent_id",
        "prompt_tokens",
        "recording",
        "run_type",
        "start_time",
        "tags",
        "trace_id",
    )

    def __init__(self, name: str, run_type: str, parent: Span | None, recording: bool) -> None:
        # 128 random bits as hex: a fraction of uuid4's cost (no system call per span).
        self.id: str = f"{random.getrandbits(128):032x}" if recording else ""
        self.trace_id: str = parent.trace_id if parent is not None else self.id
        self.parent_id: str | None = parent.id if parent is not None else None
        self.name: str = name
        self.run_type: str = run_type
        self.recording: bool = recording
        self.inputs: dict[str, Any] | None = None
        self.outputs: dict[str, Any] | None = None
        self.error: str | None = None
        self.tags: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.model: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cost_usd: float | None = None
        self.start_time = time.time()
        self.end_time: float | None = None

    def set_inputs(self, inputs: dict[str, Any]) -> None:
        """What the work was given."""
        if self.recording:
            self.inputs = inputs

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        """What the work produced."""
        if self.recording:
            self.outputs = outputs

    def set_usage(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        model: str | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Tokens used by an LLM call, the model that answered and its cost."""
        if not self.recording:
            return
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        if model is not None:
            self.model = model
        if cost_usd is not None:
            self.cost_usd = cost_usd

    def set_error(self, exc: BaseException) -> None:
        """Mark the span failed with this exception."""
        if self.recording:
            self.error = f"{type(exc).__name__}: {exc}"

    def add_tags(self, tags: list[str]) -> None:
        """Labels to search traces by."""
        if self.recording:
            self.tags.extend(tags)

    def add_metadata(self, metadata: dict[str, Any]) -> None:
        """Free-form key-value facts about the span."""
        if self.recording:
            self.metadata.update(metadata)

    def to_record(
        self, inputs: dict[str, Any] | None, outputs: dict[str, Any] | None
    ) -> SpanRecord:
        """The span as a record for sinks (called on the worker thread)."""
        # Validation is both the check and, in pydantic 2, faster than model_construct.
        return SpanRecord.model_validate(
            {
                "id": self.id,
                "trace_id": self.trace_id,
                "parent_id": self.parent_id,
                "name": self.name,
                "run_type": self.run_type,
                "start_time": self.start_time,
                "end_time": self.end_time,
                "inputs": inputs,
                "outputs": outputs,
                "error": self.error,
                "tags": self.tags,
                "metadata": self.metadata,
                "model": self.model,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd,
                "source": "lanza",
            }
        )
