"""The online evaluation loop's backlog on a real trace store: bounded, with drops counted
and sampling that halves under pressure and recovers once the queue drains."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from lanza.llm.online.spec import EvaluatorSpec
from lanza.llm.online.store import EvaluatorStore
from lanza.llm.online.worker import OnlineEvaluator
from lanza.llm.tracing.records import SpanRecord
from lanza.llm.tracing.store import TraceStore
from lanza.settings import Settings
from lanza.workspace import Workspace


async def _never(*_: object) -> str:
    raise AssertionError("no judge in this test")


def _traces(store: TraceStore, count: int, name: str, tags: list[str] | None = None) -> None:
    now = time.time()
    store.write(
        [
            SpanRecord(
                id=f"{name}-{i}",
                trace_id=f"{name}-{i}",
                name=name,
                run_type="chain",
                start_time=now,
                end_time=now + 0.01,
                inputs={"question": "where is my parcel"},
                outputs={"output": "your parcel is on its way"},
                tags=tags or [],
            )
            for i in range(count)
        ]
    )


def test_a_full_queue_drops_counts_and_lowers_the_sample(tmp_path: Path) -> None:
    workspace = Workspace(Settings(home=tmp_path))
    try:
        EvaluatorStore(workspace.database).create(
            EvaluatorSpec(name="parcels", filter="name=parcel", scorers=["similarity"])
        )
        traces = TraceStore(workspace.database)
        registry = CollectorRegistry()

        async def run() -> None:
            loop = OnlineEvaluator(workspace.database, _never, _never, registry, capacity=4)
            loop.watermark = 0.0
            _traces(traces, 10, "parcel")
            _traces(traces, 5, "judge parcel", tags=["lanza:evaluator"])  # never evaluated
            _traces(traces, 3, "other")  # not matched
            assert await loop.poll() == 4
            status = loop.status("parcels")
            assert status["queued"] == 4
            # The first trace that does not fit is dropped and halves the rate, so the rest
            # are partly sampled out rather than dropped; none is lost without a count.
            assert status["dropped"] >= 1
            assert status["queued"] + status["dropped"] + status["sampled_out"] == 10
            assert status["effective_sample"] < 1.0
            assert registry.get_sample_value(
                "lanza_llm_evaluator_dropped_total", {"evaluator": "parcels"}
            ) == float(status["dropped"])
            assert await loop.poll() == 0  # seen traces are not queued twice
            while not loop.queue.empty():
                rule, trace_id = loop.queue.get_nowait()
                scores = await loop.score_one(rule, trace_id)
                assert 0.3 < scores["similarity"] < 1.0
            for _ in range(20):  # an empty queue lets the rate climb back to the sample
                await loop.poll()
            assert loop.status("parcels")["effective_sample"] == 1.0
            assert loop.status("parcels")["scored"] == 4

        asyncio.run(run())
    finally:
        workspace.close()
