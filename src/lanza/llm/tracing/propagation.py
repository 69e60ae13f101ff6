"""A caller's trace, read from request headers, so a server-side span joins it.

Two carriers are understood: LangSmith's ``langsmith-trace`` (a run tree's dotted
order: ``<time><trace uuid>. ... .<time><parent uuid>``) with its ``baggage``
(``langsmith-project``, ``langsmith-tags``, ``langsmith-metadata``), and W3C Trace
Context's ``traceparent`` (``00-<trace id>-<parent span id>-<flags>``), whose ids are
kept as lowercase hex as OTLP ingest keeps them.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TIMESTAMP = 22  # "YYYYMMDDTHHMMSSffffffZ"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


@dataclass(frozen=True)
class RemoteParent:
    """The span a request continues: its trace, its id, and what the caller's run carried."""

    trace_id: str
    parent_id: str
    project: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def remote_parent(headers: Mapping[str, str]) -> RemoteParent | None:
    """The caller's trace from ``langsmith-trace`` (first) or ``traceparent``, if valid."""
    dotted = headers.get("langsmith-trace")
    if dotted:
        found = _from_dotted_order(dotted, headers.get("baggage", ""))
        if found is not None:
            return found
    parent = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if parent is None or set(parent.group(1)) == {"0"} or set(parent.group(2)) == {"0"}:
        return None
    return RemoteParent(trace_id=parent.group(1), parent_id=parent.group(2))


def _from_dotted_order(dotted: str, baggage: str) -> RemoteParent | None:
    try:
        ids = [str(uuid.UUID(part[_TIMESTAMP:])) for part in dotted.strip().split(".")]
    except ValueError:
        return None  # a malformed header is ignored: the span starts a trace of its own
    items = _baggage(baggage)
    metadata: dict[str, Any] = {}
    try:
        loaded = json.loads(items.get("langsmith-metadata", "{}"))
        metadata = loaded if isinstance(loaded, dict) else {}
    except ValueError:
        pass
    tags = [t for t in items.get("langsmith-tags", "").split(",") if t]
    project = items.get("langsmith-project") or None
    return RemoteParent(ids[0], ids[-1], project, tags, metadata)


def _baggage(header: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip():
            items[key.strip()] = urllib.parse.unquote(value.split(";")[0].strip())
    return items
