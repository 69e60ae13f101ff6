"""The online evaluation loop: finished traces in, sampled, queued, scored, written back.

Every ``interval_s`` the poller reads traces that settled since the last round (never
the evaluators' own judge calls, tagged ``lanza:evaluator``), keeps those an evaluator's
filter matches, samples them and queues them. The queue is bounded: a trace that does
not fit is dropped and counted, and the evaluator's sampling rate halves; it recovers
by a quarter per round while the queue is under a quarter full. Workers score queued
traces, write each score as feedback on the trace (``value.source = "evaluator"``)
and in the scores table, and check the evaluator's alert. A server that starts looks back
``RESUME_S`` for traces that settled while it was stopped, or that were queued when it
stopped (what is scored already is skipped), so a restart loses no trace to its gap.
Under ``lanza serve --workers N`` one process at a time scores, the holder of the
``online-evaluation`` lease; the others keep their watermark recent and take over when
the holder stops renewing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lanza.llm.online.scoring import Ask, Embed, Scorers, exchange
from lanza.llm.online.spec import EvaluatorSpec
from lanza.llm.online.store import EvaluatorStore
from lanza.llm.tracing.queries import FeedbackIn, TraceReader
from lanza.llm.tracing.records import dumps
from lanza.llm.tracing.tables import TraceSummary
from lanza.store import Database
from lanza.store.lease import Lease

log = logging.getLogger("lanza.llm")
EVALUATOR_TAG = "lanza:evaluator"
SEEN = 20_000
RESUME_S = 600.0


@dataclass
class RuleState:
    """What the loop knows about one evaluator between rounds."""

    spec: EvaluatorSpec
    rate: float
    queued: int = 0
    scored: int = 0
    dropped: int = 0
    sampled_out: int = 0
    alerting: bool = False
    last_mean: dict[str, float] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The evaluator's live counters as JSON."""
        return {
            "sample": self.spec.sample,
            "effective_sample": round(self.rate, 6),
            "queued": self.queued,
            "scored": self.scored,
            "dropped": self.dropped,
            "sampled_out": self.sampled_out,
            "alerting": self.alerting,
            "window_mean": self.last_mean,
        }


class OnlineEvaluator:
    """Polls the trace store, samples, queues and scores; one per server."""

    def __init__(
        self,
        database: Database,
        ask: Ask,
        embed: Embed,
        metrics: CollectorRegistry,
        capacity: int = 1000,
        interval_s: float = 1.0,
        workers: int = 2,
        lease: Lease | None = None,
    ) -> None:
        self.database = database
        self.store = EvaluatorStore(database)
        self.reader = TraceReader(database)
        self.ask, self.embed = ask, embed
        self.capacity, self.interval_s, self.workers = capacity, interval_s, workers
        self.lease = lease
        self.holding = lease is None  # whether this process is the one that scores
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(capacity)
        self.rules: dict[str, RuleState] = {}
        self.watermark = time.time() - RESUME_S
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._alert_lock = threading.Lock()
        self._scored = Counter(
            "lanza_llm_evaluator_scores", "Scores given", ["evaluator", "scorer"], registry=metrics
        )
        self._dropped = Counter(
            "lanza_llm_evaluator_dropped",
            "Traces dropped (queue full)",
            ["evaluator"],
            registry=metrics,
        )
        self._mean = Gauge(
            "lanza_llm_evaluator_score_mean",
            "Mean score over the alert window",
            ["evaluator", "scorer"],
            registry=metrics,
        )
        self._alerting = Gauge(
            "lanza_llm_evaluator_alerting",
            "1 while the evaluator's alert holds",
            ["evaluator"],
            registry=metrics,
        )
        self._backlog = Gauge(
            "lanza_llm_evaluator_backlog", "Traces waiting to be scored", registry=metrics
        )

    def start(self) -> None:
        """Start the poller and the workers."""
        self._stopping = asyncio.Event()
        self._tasks = [asyncio.create_task(self._poll_loop(), name="lanza-eval-poll")]
        self._tasks += [
            asyncio.create_task(self._work_loop(), name=f"lanza-eval-{i}")
            for i in range(self.workers)
        ]

    async def stop(self) -> None:
        """Stop polling and scoring; queued traces are left (counted as queued)."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.lease is not None and self.holding:  # another process takes over at once
            self.holding = False
            await run_in_threadpool(self.lease.release)

    def status(self, name: str) -> dict[str, Any]:
        """Live counters of one evaluator (zeros before its first round)."""
        state = self.rules.get(name)
        return state.view() if state is not None else {}

    async def poll(self) -> int:
        """One round: refresh rules, queue new settled traces; returns how many were queued."""
        specs = await run_in_threadpool(self.store.list)
        self._refresh(specs)
        if self.lease is not None:
            self.holding = await run_in_threadpool(self.lease.acquire)
        if not self.holding:
            # Another process scores; on taking over, look back no further than a restart.
            self.watermark = max(self.watermark, time.time() - RESUME_S)
            return 0
        if not self.rules:
            self.watermark = time.time()
            return 0
        rows = await run_in_threadpool(self._settled)
        queued = 0
        for row in rows:
            self.watermark = max(self.watermark, row.updated_at)
            tags = set(_loads_list(row.tags))
            if EVALUATOR_TAG in tags:
                continue
            for state in self.rules.values():
                if not _matches_summary(state.spec.terms, row, tags):
                    continue
                if (state.spec.name, row.trace_id) in self._seen:
                    continue
                self._remember((state.spec.name, row.trace_id))
                if random.random() >= state.rate:
                    state.sampled_out += 1
                    continue
                queued += self._enqueue(state, row.trace_id)
        self._adapt()
        self._backlog.set(self.queue.qsize())
        return queued

    async def score_one(self, rule: str, trace_id: str) -> dict[str, float]:
        """Score one trace with one evaluator and write the results."""
        state = self.rules.get(rule)
        if state is None:
            return {}
        state.queued = max(0, state.queued - 1)
        if await run_in_threadpool(self.store.scored, rule, trace_id):
            return {}
        trace = await run_in_threadpool(self.reader.get, trace_id)
        roots = trace["spans"]
        if not roots or not _matches_root(state.spec.terms, roots[0]):
            return {}
        root = roots[0]
        arm = prompt_arm(root)
        scores = await Scorers(state.spec, self.ask, self.embed).score(exchange(root))
        if not scores:
            return {}
        await run_in_threadpool(self._write, state.spec, trace_id, scores, arm)
        state.scored += 1
        for scorer in scores:
            self._scored.labels(rule, scorer).inc()
        await run_in_threadpool(self._check_alert_once, state)
        return scores

    def _settled(self) -> list[TraceSummary]:
        stmt = (
            select(TraceSummary)
            .where(TraceSummary.updated_at > self.watermark, TraceSummary.status != "running")
            .order_by(TraceSummary.updated_at)
            .limit(500)
        )
        with self.database.session() as session:
            return list(session.scalars(stmt))

    def _refresh(self, specs: list[EvaluatorSpec]) -> None:
        fresh = {}
        for spec in specs:
            old = self.rules.get(spec.name)
            if old is not None and old.spec == spec:
                fresh[spec.name] = old
            else:
                fresh[spec.name] = RuleState(spec, spec.sample)
        self.rules = fresh

    def _enqueue(self, state: RuleState, trace_id: str) -> int:
        try:
            self.queue.put_nowait((state.spec.name, trace_id))
        except asyncio.QueueFull:
            state.dropped += 1
            self._dropped.labels(state.spec.name).inc()
            state.rate = max(state.spec.sample / 1000.0, state.rate / 2.0)
            return 0
        state.queued += 1
        return 1

    def _adapt(self) -> None:
        if self.queue.qsize() < self.capacity / 4:
            for state in self.rules.values():
                state.rate = min(state.spec.sample, state.rate * 1.25)

    def _remember(self, key: tuple[str, str]) -> None:
        self._seen[key] = None
        while len(self._seen) > SEEN:
            self._seen.popitem(last=False)

    def _write(
        self, spec: EvaluatorSpec, trace_id: str, scores: dict[str, float], arm: str | None
    ) -> None:
        now = time.time()
        self.store.record(
            [
                {
                    "rule": spec.name,
                    "trace_id": trace_id,
                    "scorer": s,
                    "score": v,
                    "arm": arm,
                    "at": now,
                }
                for s, v in scores.items()
            ]
        )
        for scorer, value in scores.items():
            source = {"source": "evaluator", "evaluator": spec.name, "scorer": scorer}
            feedback = FeedbackIn(
                key=f"{spec.name}.{scorer}", score=value, value=source, comment="evaluator"
            )
            self.reader.add_feedback(trace_id, feedback, require_trace=False)

    def _check_alert_once(self, state: RuleState) -> None:
        # Two workers finishing together must not both see the window cross and both fire.
        with self._alert_lock:
            self._check_alert(state)

    def _check_alert(self, state: RuleState) -> None:
        spec = state.spec
        for each in spec.scorers:
            window = self.store.window(spec.name, each, spec.alert_window)
            if window:
                state.last_mean[each] = sum(window) / len(window)
                self._mean.labels(spec.name, each).set(state.last_mean[each])
        if spec.alert_below is None:
            return
        scorer = spec.alert_scorer or spec.scorers[0]
        window = self.store.window(spec.name, scorer, spec.alert_window)
        mean = sum(window) / len(window) if window else None
        below = mean is not None and len(window) >= spec.alert_window and mean < spec.alert_below
        if below and not state.alerting:
            log.warning(
                "evaluator '%s': %s mean %.3f over the last %d traces is below %g",
                spec.name,
                scorer,
                mean,
                len(window),
                spec.alert_below,
            )
            if spec.webhook:
                _post(spec.webhook, spec, scorer, mean or 0.0, len(window))
        state.alerting = below
        self._alerting.labels(spec.name).set(1.0 if below else 0.0)

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll()
            except Exception:
                log.exception("online evaluation: polling traces failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)

    async def _work_loop(self) -> None:
        while True:
            rule, trace_id = await self.queue.get()
            try:
                await self.score_one(rule, trace_id)
            except Exception:
                log.exception(
                    "online evaluation: scoring trace %s with '%s' failed", trace_id, rule
                )
            finally:
                self.queue.task_done()
                self._backlog.set(self.queue.qsize())


def _matches_summary(terms: dict[str, str], row: TraceSummary, tags: set[str]) -> bool:
    if "name" in terms and terms["name"] not in row.name:
        return False
    if "status" in terms and terms["status"] != row.status:
        return False
    return "tag" not in terms or terms["tag"] in tags


def _matches_root(terms: dict[str, str], root: dict[str, Any]) -> bool:
    if "run_type" in terms and terms["run_type"] != root.get("run_type"):
        return False
    deployment = (root.get("metadata") or {}).get("deployment")
    return "deployment" not in terms or terms["deployment"] == deployment


def prompt_arm(span: dict[str, Any]) -> str | None:
    """The prompt a trace used: the first span, root first, whose metadata names one (an app's
    chain that calls the gateway carries it on its LLM call's span)."""
    prompt = (span.get("metadata") or {}).get("prompt")
    if prompt:
        return str(prompt)
    for child in span.get("children") or []:
        if (found := prompt_arm(child)) is not None:
            return found
    return None


def _loads_list(text: str) -> list[str]:
    import json

    value = json.loads(text) if text else []
    return [str(v) for v in value] if isinstance(value, list) else []


def _post(url: str, spec: EvaluatorSpec, scorer: str, mean: float, n: int) -> None:
    payload = {
        "event": "llm_evaluator_alert",
        "evaluator": spec.name,
        "scorer": scorer,
        "mean": mean,
        "window": n,
        "threshold": spec.alert_below,
    }
    try:
        httpx.post(
            url, content=dumps(payload), timeout=5.0, headers={"content-type": "application/json"}
        )
    except httpx.HTTPError as exc:
        log.warning("evaluator webhook %s failed: %s", url, exc)
