"""The trace store: batched, merging writes of spans into lanza's database.

A batch is written in one transaction: spans new to the store are bulk-inserted,
spans seen before (a LangSmith post, then its patch) are merged field by field, and
the summary row of every trace the batch touched is recomputed from its spans.
Spans are deleted (with their feedback) or given new metadata here too, under the
same writer lock. Reading (lists, trees, feedback) lives in ``queries.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from lanza.llm.tracing.records import SpanRecord, dumps
from lanza.llm.tracing.tables import TraceFeedback, TraceSpan, TraceSummary
from lanza.store import Database

CHUNK = 500  # ids per IN (...) clause, well under every driver's parameter limit
_MERGED = (
    *("parent_id", "name", "run_type", "start_time", "end_time", "error", "model"),
    *("prompt_tokens", "completion_tokens", "cost_usd"),
)
# Core inserts: one executemany per batch, without the ORM's per-row bookkeeping.
_SPANS = cast(Table, TraceSpan.__table__)
_SUMMARIES = cast(Table, TraceSummary.__table__)
_SUMMARY_COLUMNS = (
    TraceSpan.trace_id,
    TraceSpan.parent_id,
    TraceSpan.name,
    TraceSpan.status,
    TraceSpan.start_time,
    TraceSpan.end_time,
    TraceSpan.prompt_tokens,
    TraceSpan.completion_tokens,
    TraceSpan.cost_usd,
    TraceSpan.tags,
    TraceSpan.source,
)


Pricer = Callable[[str, int, int], float | None]
"""USD for a model's prompt and completion tokens, or None when the model is not priced."""


class TraceStore:
    """Writes spans and their traces' summaries; one instance per database.

    With ``price``, a span that knows its model and tokens but not its cost (an OTLP
    span, a LangSmith run whose tokens came in its patch) is priced when written.
    """

    def __init__(self, database: Database, price: Pricer | None = None) -> None:
        self.database = database
        self.price = price
        # One writer at a time: a post and its patch in two concurrent requests must merge,
        # not race to insert the same id (and sqlite takes one writer anyway).
        self._lock = threading.Lock()

    def write(self, records: Sequence[SpanRecord]) -> int:
        """Write one batch in one transaction; returns the number of traces touched."""
        batch = _merge_batch(records)
        if not batch:
            return 0
        with self._lock, self.database.session() as session:
            existing = {
                row.id: row
                for chunk in _chunks(list(batch))
                for row in session.scalars(select(TraceSpan).where(TraceSpan.id.in_(chunk)))
            }
            fresh = []
            for span_id, record in batch.items():
                row = existing.get(span_id)
                if row is None:
                    fresh.append(self._priced(_new_row(record)))
                else:
                    _merge_row(row, record)
                    if row.cost_usd is None:
                        row.cost_usd = self._cost(
                            row.model, row.prompt_tokens, row.completion_tokens
                        )
            if fresh:
                _bulk_insert(session, _SPANS, fresh)
            session.flush()
            traces = {record.trace_id for record in batch.values()}
            _summarise(session, traces, fresh)
        return len(traces)

    def delete(self, span_ids: Collection[str]) -> int:
        """Delete these spans and the feedback on them; returns how many were deleted.

        A trace left without a span loses its summary and its feedback; the summary of
        one that keeps spans (a trace across projects) is recomputed from them.
        """
        ids = sorted(span_ids)
        with self._lock, self.database.session() as session:
            traces: set[str] = set()
            for chunk in _chunks(ids):
                found = select(TraceSpan.trace_id).where(TraceSpan.id.in_(chunk))
                traces.update(session.scalars(found))
                session.execute(delete(TraceFeedback).where(TraceFeedback.run_id.in_(chunk)))
                session.execute(delete(TraceSpan).where(TraceSpan.id.in_(chunk)))
            kept: set[str] = set()
            for chunk in _chunks(sorted(traces)):
                left = select(TraceSpan.trace_id).where(TraceSpan.trace_id.in_(chunk))
                kept.update(session.scalars(left))
            for chunk in _chunks(sorted(traces - kept)):
                session.execute(delete(TraceFeedback).where(TraceFeedback.trace_id.in_(chunk)))
                session.execute(delete(TraceSummary).where(TraceSummary.trace_id.in_(chunk)))
            if kept:
                _summarise(session, kept, [])
        return len(ids)

    def set_metadata(self, metadata: Mapping[str, str]) -> None:
        """Replace the metadata (JSON text) of these spans, by span id."""
        rows = [{"id": span_id, "meta": meta} for span_id, meta in metadata.items()]
        with self._lock, self.database.session() as session:
            for start in range(0, len(rows), CHUNK):
                session.execute(update(TraceSpan), rows[start : start + CHUNK])

    def _priced(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["cost_usd"] is None:
            row["cost_usd"] = self._cost(
                row["model"], row["prompt_tokens"], row["completion_tokens"]
            )
        return row

    def _cost(self, model: str | None, prompt: int | None, completion: int | None) -> float | None:
        if self.price is None or not model or prompt is None:
            return None
        return self.price(model, prompt, completion or 0)


def _merge_batch(records: Iterable[SpanRecord]) -> dict[str, SpanRecord]:
    """Records of one batch by id; a later record with the same id updates the earlier."""
    batch: dict[str, SpanRecord] = {}
    for record in records:
        earlier = batch.get(record.id)
        if earlier is None:
            batch[record.id] = record
            continue
        values = earlier.model_dump(exclude_unset=True)
        for field in record.model_fields_set:
            value = getattr(record, field)
            if value is not None:
                values[field] = _combined(field, values.get(field), value)
        batch[record.id] = SpanRecord.model_validate(values)
    return batch


def _combined(field: str, old: Any, new: Any) -> Any:
    if field == "tags" and old:
        return list(dict.fromkeys([*old, *new]))
    if field == "metadata" and old:
        return {**old, **new}
    return new


def _status(error: str | None, end_time: float | None) -> str:
    if error:
        return "error"
    return "running" if end_time is None else "success"


def _new_row(record: SpanRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "trace_id": record.trace_id,
        "parent_id": record.parent_id,
        "name": record.name,
        "run_type": record.run_type,
        "status": _status(record.error, record.end_time),
        "start_time": record.start_time,
        "end_time": record.end_time,
        "inputs": None if record.inputs is None else dumps(record.inputs),
        "outputs": None if record.outputs is None else dumps(record.outputs),
        "error": record.error,
        "tags": dumps(list(record.tags)),
        "meta": dumps(record.metadata),
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cost_usd": record.cost_usd,
        "source": record.source,
    }


def _merge_row(row: TraceSpan, record: SpanRecord) -> None:
    """Fields the record carries override the stored ones; tags and metadata accumulate."""
    given = record.model_fields_set
    for field in _MERGED:
        value = getattr(record, field)
        if field in given and value is not None:
            setattr(row, field, value)
    if record.name:
        row.name = record.name
    if record.inputs is not None:
        row.inputs = dumps(record.inputs)
    if record.outputs is not None:
        row.outputs = dumps(record.outputs)
    if record.tags:
        row.tags = dumps(list(dict.fromkeys([*json.loads(row.tags), *record.tags])))
    if record.metadata:
        stored = json.loads(row.meta)
        # A run stays in the project it was first written to: the end of a run begun
        # before its project was renamed still names the old one.
        kept = {"project": stored["project"]} if "project" in stored else {}
        row.meta = dumps({**stored, **record.metadata, **kept})
    row.status = _status(row.error, row.end_time)


def _summarise(session: Session, trace_ids: set[str], fresh: list[dict[str, Any]]) -> None:
    """Recompute the summary rows of these traces from all their spans.

    A trace with no summary yet has no stored spans either (every write summarises what
    it touches), so its spans are all in ``fresh``: no need to read them back.
    """
    stored: dict[str, TraceSummary] = {}
    for chunk in _chunks(sorted(trace_ids)):
        for summary in session.scalars(
            select(TraceSummary).where(TraceSummary.trace_id.in_(chunk))
        ):
            stored[summary.trace_id] = summary
    spans: dict[str, list[dict[str, Any]]] = {}
    for row in fresh:
        if row["trace_id"] not in stored:
            spans.setdefault(row["trace_id"], []).append(row)
    for chunk in _chunks(sorted(stored)):
        query = select(*_SUMMARY_COLUMNS).where(TraceSpan.trace_id.in_(chunk))
        for span in session.execute(query):
            spans.setdefault(span.trace_id, []).append(dict(span._mapping))
    created: list[dict[str, Any]] = []
    now = time.time()
    for trace_id, members in spans.items():
        values = _summary(members)
        values["updated_at"] = now
        known = stored.get(trace_id)
        if known is None:
            created.append({"trace_id": trace_id, "exported": False, **values})
        else:
            for key, value in values.items():
                setattr(known, key, value)
    if created:
        _bulk_insert(session, _SUMMARIES, created)


def _summary(members: list[dict[str, Any]]) -> dict[str, Any]:
    """Name, status and timing from the root; tokens and cost summed over every span."""
    roots = [s for s in members if s["parent_id"] is None]
    root = roots[0] if roots else min(members, key=lambda s: s["start_time"] or 0.0)
    prompt = sum(s["prompt_tokens"] or 0 for s in members)
    completion = sum(s["completion_tokens"] or 0 for s in members)
    costs = [s["cost_usd"] for s in members if s["cost_usd"] is not None]
    tags = {t for s in members if s["tags"] != "[]" for t in json.loads(s["tags"])}
    latency = None
    if root["start_time"] is not None and root["end_time"] is not None:
        latency = (root["end_time"] - root["start_time"]) * 1000.0
    return {
        "name": root["name"],
        "status": root["status"] if roots else "running",
        "start_time": root["start_time"],
        "end_time": root["end_time"],
        "latency_ms": latency,
        "span_count": len(members),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": sum(costs) if costs else None,
        "source": root["source"],
        "tags": dumps(sorted(tags)),
    }


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One driver-level executemany: SQLAlchemy's per-row parameter work would double the
    cost of a batch. Drivers with other parameter styles take the Core insert."""
    connection = session.connection()
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(connection.dialect.paramstyle)
    if marker is None:
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
