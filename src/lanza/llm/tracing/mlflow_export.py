"""Export finished traces to MLflow's tracing, in batches, so the MLflow UI shows them too.

MLflow 3's tracking store takes complete spans of many traces in one call
(``log_spans``), creating each trace's record from its spans; lanza reaches it through
``TracingClient`` on the explicit client's tracking URI, never through the fluent
globals. A trace is exported once, after it has settled (no write for ``settle_s``);
spans that arrive for it later stay in lanza's store only. MLflow is connected when the
first batch is ready: a server with no trace to export never imports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from lanza.llm.tracing.tables import TraceSpan, TraceSummary
from lanza.store import Database

if TYPE_CHECKING:  # the client comes built; MLflow is imported by whoever builds it
    from mlflow.tracking import MlflowClient

log = logging.getLogger("lanza.tracing.mlflow")
SPAN_TYPES = {
    "llm": "LLM",
    "chain": "CHAIN",
    "tool": "TOOL",
    "retriever": "RETRIEVER",
    "embedding": "EMBEDDING",
    "parser": "PARSER",
    "prompt": "UNKNOWN",
}


class MlflowExporter:
    """Copies settled traces from lanza's store into one MLflow experiment.

    ``connect`` gives the MLflow client; it is called when the first batch is exported.
    """

    def __init__(
        self,
        database: Database,
        connect: Callable[[], MlflowClient],
        experiment: str = "lanza-traces",
        settle_s: float = 2.0,
        batch_size: int = 200,
    ) -> None:
        self.database = database
        self._connect = connect
        self.experiment = experiment
        self.settle_s = settle_s
        self.batch_size = batch_size
        self._experiment_id: str | None = None
        self.skipped = 0  # traces MLflow could not take, kept in lanza's store only

    @cached_property
    def client(self) -> MlflowClient:
        """The MLflow client, connected on first use."""
        return self._connect()

    def export_once(self) -> int:
        """Export one batch of settled traces; returns how many were handled.

        A trace MLflow cannot take (a time past what it stores, a value it refuses) is
        skipped and recorded (logged, counted in ``skipped``, marked done) so that it
        never blocks the traces after it; a failure of MLflow itself (unreachable, its
        database down) is raised, and the whole batch is tried again next round.
        """
        pending = self._pending()
        if not pending:
            return 0
        with self.database.session() as session:
            rows = session.scalars(select(TraceSpan).where(TraceSpan.trace_id.in_(pending)))
            by_trace: dict[str, list[TraceSpan]] = {t: [] for t in pending}
            for row in rows:
                by_trace[row.trace_id].append(row)
        spans, bad = self._converted(by_trace)
        try:
            self._log([s for trace in spans.values() for s in trace])
        except Exception as exc:
            if _outage(exc):
                raise
            for trace_id, trace_spans in spans.items():  # find the trace MLflow refuses
                try:
                    self._log(trace_spans)
                except Exception as one:
                    if _outage(one):
                        raise
                    bad[trace_id] = f"{type(one).__name__}: {one}"
        for trace_id, reason in bad.items():
            self.skipped += 1
            log.warning("trace %s not exported to MLflow (kept in lanza): %s", trace_id, reason)
        with self.database.session() as session:
            session.execute(
                update(TraceSummary).where(TraceSummary.trace_id.in_(pending)).values(exported=True)
            )
        return len(pending)

    def _converted(
        self, by_trace: dict[str, list[TraceSpan]]
    ) -> tuple[dict[str, list[Any]], dict[str, str]]:
        """MLflow spans per trace, and the traces that cannot be converted, with why."""
        from mlflow.entities import Span

        spans: dict[str, list[Any]] = {}
        bad: dict[str, str] = {}
        for trace_id, rows in by_trace.items():
            try:
                for row in rows:
                    _check_times(row)
                spans[trace_id] = [Span.from_dict(mlflow_span(r)) for r in rows if r.start_time]
            except Exception as exc:
                bad[trace_id] = f"{type(exc).__name__}: {exc}"
        return spans, bad

    def _log(self, spans: list[Any]) -> None:
        from mlflow.tracing.client import TracingClient

        if spans:
            TracingClient(self.client.tracking_uri).log_spans(self.experiment_id(), spans)

    def experiment_id(self) -> str:
        """The experiment traces go to, created on first use."""
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            self._experiment_id = (
                found.experiment_id if found else self.client.create_experiment(self.experiment)
            )
        return self._experiment_id

    def _pending(self) -> list[str]:
        settled = time.time() - self.settle_s
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(TraceSummary.trace_id)
                    .where(
                        TraceSummary.exported.is_(False),
                        TraceSummary.status != "running",
                        TraceSummary.updated_at < settled,
                    )
                    .order_by(TraceSummary.updated_at)
                    .limit(self.batch_size)
                )
            )


MAX_NANOS = 2**63 - 1  # MLflow stores times as signed 64-bit nanoseconds


def _check_times(row: TraceSpan) -> None:
    for value in (row.start_time, row.end_time):
        if value is not None and not 0 <= value * 1e9 <= MAX_NANOS:
            raise ValueError(f"span {row.id} has a time ({value}) MLflow cannot store")


def _outage(exc: Exception) -> bool:
    """Whether an export failure is MLflow (or its database) being away, not the data."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or type(exc).__name__ == "OperationalError"
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


def mlflow_trace_id(trace_id: str) -> str:
    """MLflow's ``tr-<32 hex>`` id for a lanza trace id (a UUID's hex, or a hash)."""
    return "tr-" + _hex(trace_id, 16)


def mlflow_span(row: TraceSpan) -> dict[str, Any]:
    """A stored span in the dictionary form ``mlflow.entities.Span.from_dict`` reads."""
    trace_id = mlflow_trace_id(row.trace_id)
    attributes = {
        "mlflow.traceRequestId": json.dumps(trace_id),
        "mlflow.spanType": json.dumps(SPAN_TYPES.get(row.run_type, "UNKNOWN")),
        "mlflow.spanInputs": row.inputs or "null",
        "mlflow.spanOutputs": row.outputs or "null",
        "lanza.span_id": json.dumps(row.id),
    }
    if row.model:
        attributes["mlflow.llm.model"] = json.dumps(row.model)
    if row.prompt_tokens is not None or row.completion_tokens is not None:
        prompt, completion = row.prompt_tokens or 0, row.completion_tokens or 0
        usage = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
        }
        attributes["mlflow.chat.tokenUsage"] = json.dumps(usage)
    start = int((row.start_time or 0.0) * 1e9)
    return {
        "trace_id": trace_id,
        "span_id": _hex(row.id, 8),
        "parent_span_id": _hex(row.parent_id, 8) if row.parent_id else None,
        "name": row.name or row.run_type,
        "start_time_unix_nano": start,
        "end_time_unix_nano": int(row.end_time * 1e9) if row.end_time else start,
        "events": [],
        "status": {
            "code": "STATUS_CODE_ERROR" if row.error else "STATUS_CODE_OK",
            "message": row.error or "",
        },
        "attributes": attributes,
    }


def _hex(value: str, size: int) -> str:
    """``size`` bytes of hex for an id: the id itself when it already is that, else a hash."""
    plain = value.replace("-", "").lower()
    if len(plain) == size * 2 and all(c in "0123456789abcdef" for c in plain):
        return plain
    return hashlib.blake2b(value.encode(), digest_size=size).hexdigest()
