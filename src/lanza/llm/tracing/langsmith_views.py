"""LangSmith's shapes of lanza's trace rows: runs, projects (sessions) and feedback.

A project's id is a UUID derived from its name, so it is stable without a table of
projects; a project made or changed through the API keeps its id in its row. Ids that
are not UUIDs (OTLP's 16-hex span ids) are shown as UUIDs padded with zeros, and
``stored_ids`` finds them again from those.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lanza.llm.tracing.tables import TraceFeedback, TraceSpan

DEFAULT_PROJECT = "default"
_NAMESPACE = uuid.UUID("5b0d6a3e-3f0e-4a53-9a64-6c616e7a6131")
TENANT_ID = str(uuid.uuid5(_NAMESPACE, "lanza"))
_SHORT_HEX = re.compile(r"^[0-9a-f]{1,31}$")
_STATUS = {"success": "success", "error": "error", "running": "pending"}


def project_id(name: str, made: Mapping[str, str] | None = None) -> str:
    """The id of a project: a made one's own (``made``: ids by name), else one derived
    from its name, derived once more if a renamed project kept that one."""
    if made and name in made:
        return made[name]
    derived = str(uuid.uuid5(_NAMESPACE, name))
    if made and derived in made.values():
        return str(uuid.uuid5(_NAMESPACE, derived))
    return derived


def as_uuid(value: str | None) -> str | None:
    """An id as the UUID the SDK expects."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        pass
    if _SHORT_HEX.match(value.lower()):
        return str(uuid.UUID(value.lower().rjust(32, "0")))
    return str(uuid.uuid5(_NAMESPACE, value))


def stored_ids(value: str) -> list[str]:
    """The forms an id given as a UUID may be stored in."""
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        return [str(value)]
    forms = [str(parsed), parsed.hex]
    if parsed.hex.startswith("0" * 16):
        forms.append(parsed.hex[16:])
    return forms


def run_view(row: TraceSpan, made: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A span as a LangSmith run; ``made`` holds the ids of made projects, by name."""
    metadata = json.loads(row.meta)
    project = str(metadata.pop("project", None) or DEFAULT_PROJECT)
    total = None
    if row.prompt_tokens is not None or row.completion_tokens is not None:
        total = (row.prompt_tokens or 0) + (row.completion_tokens or 0)
    return {
        "id": as_uuid(row.id),
        "name": row.name,
        "run_type": row.run_type,
        "start_time": iso(row.start_time if row.start_time is not None else row.end_time or 0.0),
        "end_time": iso(row.end_time),
        "extra": {"metadata": metadata},
        "error": row.error,
        "inputs": loads(row.inputs) or {},
        "outputs": loads(row.outputs),
        "events": [],
        "parent_run_id": as_uuid(row.parent_id),
        "tags": json.loads(row.tags),
        "session_id": project_id(project, made),
        "status": _STATUS.get(row.status, row.status),
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": total,
        "total_cost": row.cost_usd,
        "trace_id": as_uuid(row.trace_id),
        "dotted_order": "",
        "reference_example_id": None,
    }


def project_view(
    name: str, stats: dict[str, Any], made: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A project as a LangSmith session, with its statistics."""
    prompt, completion = stats["prompt_tokens"], stats["completion_tokens"]
    return {
        "id": project_id(name, made),
        "name": name,
        "start_time": iso(stats["first"] or 0.0),
        "end_time": None,
        "description": None,
        "extra": {},
        "tenant_id": TENANT_ID,
        "reference_dataset_id": None,
        "run_count": stats["runs"],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "total_cost": stats["cost"],
        "last_run_start_time": iso(stats["last"]),
    }


def feedback_view(row: TraceFeedback) -> dict[str, Any]:
    """Feedback as LangSmith writes it."""
    created = iso(row.created_at)
    return {
        "id": as_uuid(row.id),
        "run_id": as_uuid(row.run_id),
        "trace_id": as_uuid(row.trace_id),
        "key": row.key,
        "score": row.score,
        "value": loads(row.value),
        "comment": row.comment,
        "correction": loads(row.correction),
        "created_at": created,
        "modified_at": created,
        "feedback_source": {"type": "api", "metadata": {}},
    }


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
