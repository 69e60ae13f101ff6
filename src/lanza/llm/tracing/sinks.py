"""Sinks for the SDK: the local trace store (in-process) and a lanza server over HTTP."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import httpx

from lanza.llm.tracing.records import SpanRecord, dumps
from lanza.llm.tracing.worker import SpanSink

if TYPE_CHECKING:
    from lanza.llm.tracing.store import TraceStore


class StoreSink:
    """Writes batches straight into lanza's database, for apps on the same machine."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store

    @classmethod
    def local(cls, database_url: str | None = None) -> StoreSink:
        """A sink on the database of the current settings (``LANZA_DATABASE_URL``)."""
        from lanza.llm.tracing.store import TraceStore
        from lanza.settings import Settings
        from lanza.store import Database

        settings = Settings()
        url = database_url or settings.database
        if url.startswith("sqlite"):
            settings.ensure_home()
        database = Database(url)
        database.migrate()
        return cls(TraceStore(database))

    def write(self, records: list[SpanRecord]) -> None:
        """Write one batch in one transaction."""
        self.store.write(records)

    def close(self) -> None:
        """Nothing to release: the database belongs to whoever made the store."""


class HttpSink:
    """Posts batches to a lanza server's ``POST /api/v1/traces`` (a ``predict`` key is enough)."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        headers = {"content-type": "application/json"}
        key = api_key or os.environ.get("LANZA_API_KEY")
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.url = url.rstrip("/") + "/api/v1/traces"
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def write(self, records: list[SpanRecord]) -> None:
        """Post one batch; an error status raises (the worker logs and counts it)."""
        body = dumps({"spans": [r.model_dump() for r in records]})
        self._client.post(self.url, content=body.encode()).raise_for_status()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def sink_from(sink: SpanSink | str | None) -> SpanSink | None:
    """A sink from ``configure``'s argument: a sink, ``"local"``, a server URL, or None."""
    if sink is None or not isinstance(sink, str):
        return sink
    if sink == "local":
        return StoreSink.local()
    if sink.startswith(("http://", "https://")):
        return HttpSink(sink)
    raise ValueError(f"sink must be 'local', an http(s) URL or a sink object, not {sink!r}.")
