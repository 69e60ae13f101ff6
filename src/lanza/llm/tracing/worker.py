"""The background writer: spans are queued by the traced program and written in batches.

The traced thread only puts a finished span on a queue (well under a microsecond);
this worker thread redacts, converts and hands batches to the sink. A failing sink or
redaction hook is logged and counted, never raised into the application.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lanza.llm.tracing.records import SpanRecord

if TYPE_CHECKING:
    from lanza.llm.tracing.span import Span

log = logging.getLogger("lanza.tracing")
Redactor = Callable[[dict[str, Any]], dict[str, Any]]


class SpanSink(Protocol):
    """Where batches of finished spans go: the local store, or a lanza server over HTTP."""

    def write(self, records: list[SpanRecord]) -> None:
        """Persist one batch; raise on failure (the worker logs and counts it)."""

    def close(self) -> None:
        """Release connections."""


@dataclass
class TracerStats:
    """Counters a program can read to see whether tracing keeps up."""

    written: int = 0
    dropped: int = 0
    failed_batches: int = 0
    redaction_failures: int = 0


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


_STOP = object()


class SpanWorker:
    """A queue and one daemon thread that drains it into a sink in batches."""

    def __init__(
        self,
        sink: SpanSink,
        redact: Redactor | None = None,
        batch_size: int = 1000,
        max_delay_s: float = 0.05,
        max_queue: int = 200_000,
    ) -> None:
        self.sink = sink
        self.redact = redact
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self.max_queue = max_queue
        self.stats = TracerStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, span: Span) -> None:
        """Queue a finished span (the hot path: no I/O, no locks once started)."""
        if self._thread is None:
            self._start()
        if self._queue.qsize() >= self.max_queue:
            self.stats.dropped += 1
            return
        self._queue.put(span)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every span queued so far is written (or failed); False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the thread and close the sink."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)
        try:
            self.sink.close()
        except Exception:
            log.exception("closing the trace sink failed")

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="lanza-tracing", daemon=True)
            thread.start()
            self._thread = thread
            atexit.register(_close_at_exit, weakref.ref(self))

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            if not _is_marker(items[0]) and self._queue.qsize() < self.batch_size:
                time.sleep(self.max_delay_s)  # let a batch gather (the GIL is free meanwhile)
            while len(items) < self.batch_size:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not self._handle(items):
                return

    def _handle(self, items: list[Any]) -> bool:
        """Write spans in order, honouring flush and stop markers; False once stopped."""
        batch: list[Span] = []
        for item in items:
            if not _is_marker(item):
                batch.append(item)
                continue
            if batch:
                self._write(batch)
                batch = []
            if item is _STOP:
                return False
            item.done.set()
        if batch:
            self._write(batch)
        return True

    def _write(self, batch: list[Span]) -> None:
        records = []
        for span in batch:
            try:
                records.append(self._record(span))
            except Exception:  # e.g. a name past 512 characters: drop this span, not the batch
                self.stats.dropped += 1
                log.exception("span %s cannot be recorded", span.name[:100])
        if not records:
            return
        try:
            self.sink.write(records)
            self.stats.written += len(records)
        except Exception:
            self.stats.failed_batches += 1
            self.stats.dropped += len(records)
            log.exception("writing %d spans to the trace sink failed", len(records))

    def _record(self, span: Span) -> SpanRecord:
        inputs, outputs = span.inputs, span.outputs
        if self.redact is not None:
            try:
                inputs = self.redact(inputs) if inputs is not None else None
                outputs = self.redact(outputs) if outputs is not None else None
            except Exception:
                # Never send what the hook was meant to clean: drop the payloads instead.
                self.stats.redaction_failures += 1
                log.exception("the redaction hook failed; span %s sent without payloads", span.id)
                inputs = outputs = {"redaction_failed": True}
        return span.to_record(inputs, outputs)


def _is_marker(item: Any) -> bool:
    return item is _STOP or isinstance(item, _Flush)


def _close_at_exit(ref: weakref.ref[SpanWorker]) -> None:
    worker = ref()
    if worker is not None:
        worker.close(timeout=5.0)
