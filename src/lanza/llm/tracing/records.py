"""The span record: one run (finished, or half-finished from LangSmith) as sinks and stores see it.

The SDK, the HTTP ingest route, the LangSmith and OTLP faces all turn what they receive
into ``SpanRecord``; the store writes nothing else. Times are seconds since the epoch.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import BaseModel, Field

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

MAX_TOKENS = 2**31 - 1  # the INTEGER column: larger counts are refused, not a 500
# Signed 64-bit nanoseconds (what MLflow and OTLP store) end in April 2262: a later time
# could be stored here but never exported, so it is refused where it enters.
MAX_TIME = 9_223_372_036.0
RUN_TYPES = ("llm", "chain", "tool", "retriever", "embedding", "prompt", "parser")


class SpanRecord(BaseModel):
    """One span of a trace; a span with no parent is the trace's root."""

    id: str = Field(min_length=1, max_length=64)
    trace_id: str = Field(min_length=1, max_length=64)
    parent_id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=512)
    run_type: str = Field(default="chain", max_length=32)
    start_time: float | None = Field(default=None, ge=0, le=MAX_TIME)
    end_time: float | None = Field(default=None, ge=0, le=MAX_TIME)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    model: str | None = Field(default=None, max_length=256)
    prompt_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    completion_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    source: str = Field(default="lanza", max_length=16)


class SpanBatch(BaseModel):
    """What the SDK's HTTP sink posts to ``POST /api/v1/traces``."""

    spans: list[SpanRecord] = Field(max_length=10_000)


def dumps(value: Any) -> str:
    """JSON for anything a traced function may take or return (unknown objects as ``repr``)."""
    try:
        return orjson.dumps(value, default=repr, option=_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):  # e.g. integers past 64 bits
        return json.dumps(value, default=repr, ensure_ascii=False, separators=(",", ":"))
