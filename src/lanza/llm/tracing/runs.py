"""LangSmith runs (and their feedback) turned into lanza's span records.

A run posted at its start and patched at its end arrives as two records with the same
id; only the fields a payload carries are set, so the store can merge them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from lanza.errors import InvalidInputError
from lanza.llm.tracing.queries import FeedbackIn
from lanza.llm.tracing.records import SpanRecord

TraceLookup = Callable[[str], str | None]


def record_from_run(op: str, run: Any, trace_of: TraceLookup) -> SpanRecord:
    """A span record from a LangSmith run payload (``op`` is ``post`` or ``patch``)."""
    if not isinstance(run, dict) or not run.get("id"):
        raise InvalidInputError(f"Each run to {op} is a JSON object with an 'id'.")
    run_id = str(run["id"])
    values: dict[str, Any] = {"id": run_id, "source": "langsmith"}
    trace_id = run.get("trace_id") or (trace_of(run_id) if op == "patch" else None)
    values["trace_id"] = str(trace_id or run_id)
    if run.get("parent_run_id"):
        values["parent_id"] = str(run["parent_run_id"])
    for key in ("name", "run_type", "error"):
        if run.get(key) is not None:
            values[key] = str(run[key])
    for key in ("start_time", "end_time"):
        if run.get(key) is not None:
            values[key] = _epoch(run[key], key)
    for key in ("inputs", "outputs"):
        if run.get(key) is not None:
            value = run[key]
            values[key] = value if isinstance(value, dict) else {key[:-1]: value}
    if run.get("tags"):
        values["tags"] = [str(tag) for tag in run["tags"]]
    metadata = _metadata(run)
    if metadata:
        values["metadata"] = metadata
    values.update(_usage(run.get("outputs"), metadata))
    try:
        return SpanRecord.model_validate(values)
    except ValidationError as exc:
        raise InvalidInputError(
            f"Run '{run_id}' cannot be read: {exc.errors()[0]['msg']}."
        ) from exc


def feedback_from_run_api(payload: Any) -> tuple[str | None, FeedbackIn]:
    """The trace id (if given) and the feedback of a LangSmith feedback payload."""
    if not isinstance(payload, dict):
        raise InvalidInputError("Feedback is a JSON object.")
    score = payload.get("score")
    try:
        feedback = FeedbackIn(
            key=payload.get("key") or "unnamed",
            score=float(score) if isinstance(score, (int, float)) else None,
            value=payload.get("value"),
            comment=payload.get("comment"),
            correction=payload.get("correction"),
            run_id=str(payload["run_id"]) if payload.get("run_id") else None,
            id=str(payload["id"]) if payload.get("id") else None,
        )
    except ValidationError as exc:
        raise InvalidInputError(f"Feedback cannot be read: {exc.errors()[0]['msg']}.") from exc
    trace_id = payload.get("trace_id")
    return (str(trace_id) if trace_id else None), feedback


def _epoch(value: Any, key: str) -> float:
    """Seconds since the epoch from an ISO string or a number of milliseconds."""
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"'{key}' is not an ISO 8601 time: {value!r}.") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _metadata(run: dict[str, Any]) -> dict[str, Any]:
    extra = run.get("extra") or {}
    metadata = dict(extra.get("metadata") or {}) if isinstance(extra, dict) else {}
    if run.get("session_name"):
        metadata["project"] = run["session_name"]
    return metadata


def _usage(outputs: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    """Tokens, model and cost where LangChain and the SDK's wrappers put them."""
    found: dict[str, Any] = {}
    model = metadata.get("ls_model_name")
    if model:
        found["model"] = str(model)
    usage = outputs.get("usage_metadata") if isinstance(outputs, dict) else None
    if not isinstance(usage, dict) and isinstance(outputs, dict):
        llm_output = outputs.get("llm_output") or {}
        usage = llm_output.get("token_usage") if isinstance(llm_output, dict) else None
    if not isinstance(usage, dict):
        usage = metadata.get("usage_metadata")
    if isinstance(usage, dict):
        prompt = usage.get("input_tokens", usage.get("prompt_tokens"))
        completion = usage.get("output_tokens", usage.get("completion_tokens"))
        if isinstance(prompt, int) and isinstance(completion, int):
            found.update(prompt_tokens=prompt, completion_tokens=completion)
        if isinstance(usage.get("total_cost"), (int, float)):
            found["cost_usd"] = float(usage["total_cost"])
    return found
