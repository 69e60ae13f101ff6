"""The one path from a decoded request to predictions, shared by every face and by batch.

Faces decode their wire format into an ``InferenceRequest`` and encode the
``InferenceResponse`` back; validation, routing, batching, shadowing, deadlines and
metrics happen here once. Whether a deployment (or the server) is ready and what a model
takes and answers are answered here too (``ready``, ``server_ready``, ``metadata``), in
records every face encodes in its own shape (``lanza.serving.description``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from lanza.errors import DeadlineExceededError, LanzaError, ValidationError
from lanza.records import PredictionRecord
from lanza.runtime.base import Prediction
from lanza.runtime.params import check_params
from lanza.runtime.rules import InputWarning
from lanza.runtime.schema import InputSchema
from lanza.serving.description import (
    ModelDescription,
    ModelReadiness,
    ServerReadiness,
    description,
    pinned,
    readiness,
    server_readiness,
)
from lanza.serving.live import LiveDeployment, Variant, not_served
from lanza.serving.manager import DeploymentManager
from lanza.serving.metrics import ServingMetrics
from lanza.serving.payload import Payload, check, validate

log = logging.getLogger("lanza.dataplane")
# Most characters of flags in a header (proxies and clients commonly take 8 KiB in all).
WARNINGS_LIMIT = 4096


@dataclass
class InferenceRequest:
    """A decoded prediction request, whatever face it came through."""

    deployment: str
    payload: Payload
    face: str = "native"
    probabilities: bool = False
    request_id: str = ""
    sticky: str | None = None
    params: dict[str, Any] | None = None
    # A model version number the caller named (Open Inference v2's ``versions/{v}``): the
    # data plane answers from the route serving it, not by weight.
    version: str | None = None
    # Whether the request may wait in the micro-batch queue for others (the gRPC face's
    # calls run at once on a fast model: see ``MicroBatcher.submit``).
    gather: bool = True


@dataclass
class InferenceResponse:
    """Predictions, the version that made them, the request's id, and each row's flags
    (values the model answered on thin ground; see ``lanza.runtime.rules``)."""

    prediction: Prediction
    model: str
    request_id: str
    columns: dict[str, list[Any]]
    flags: list[list[InputWarning]] = field(default_factory=list)

    @property
    def warnings(self) -> list[list[str]]:
        """Per row, its flags in plain words (an empty list for a row with none)."""
        return [[flag.text for flag in row] for row in self.flags]

    def warnings_json(self, limit: int = WARNINGS_LIMIT) -> str | None:
        """The flagged rows as ASCII JSON, ``{"flagged": n, "rows": {"index": [texts]}}``.

        None when no row is flagged. Rows past ``limit`` characters are left out (``flagged``
        still counts them), so the text fits a header; ASCII escapes keep any column name
        or value header-safe.
        """
        flagged = {str(i): texts for i, texts in enumerate(self.warnings) if texts}
        if not flagged:
            return None
        rows: dict[str, list[str]] = {}
        size = 0
        for index, texts in flagged.items():
            size += len(index) + len(json.dumps(texts)) + 4
            if size > limit:
                break
            rows[index] = texts
        return json.dumps({"flagged": len(flagged), "rows": rows}, separators=(",", ":"))

    @property
    def predictions(self) -> list[Any]:
        """JSON-ready predictions."""
        return self.prediction.to_list()

    def probabilities(self) -> list[dict[str, float]] | None:
        """Per-row class probabilities keyed by class label, when computed."""
        p = self.prediction
        if p.probabilities is None or p.classes is None:
            return None
        labels = [str(c) for c in p.classes]
        return [dict(zip(labels, map(float, row), strict=True)) for row in p.probabilities]


class PredictionObserver(Protocol):
    """Receives every answered prediction; must only enqueue (it runs on the request path)."""

    def observe(self, record: PredictionRecord) -> None:
        """Take note of one prediction without blocking."""


class DataPlane:
    """Validates, routes, batches, shadows and times every prediction."""

    def __init__(
        self,
        manager: DeploymentManager,
        metrics: ServingMetrics,
        timeout_s: float = 30.0,
        max_rows: int = 10_000,
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.max_rows = max_rows  # the most rows one request may carry, on every face
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self.observers: list[PredictionObserver] = []

    def ready(self, name: str, version: str | None = None) -> ModelReadiness:
        """Whether the deployment answers; 404 when unknown or ``version`` does not serve."""
        return readiness(self._deployment(name, version))

    def server_ready(self) -> ServerReadiness:
        """Whether every deployment answers, each one's readiness in name order."""
        return server_readiness([readiness(live) for live in self.manager.all()])

    def metadata(self, name: str, version: str | None = None) -> ModelDescription:
        """What the deployment takes and answers; 404 as ``ready``."""
        return description(self._deployment(name, version))

    def _deployment(self, name: str, version: str | None) -> LiveDeployment:
        # A named version is checked against the routes once resident; before an on-demand
        # deployment loads, against the versions its references pin (an alias is resolved
        # only as it loads), so a version it cannot serve never loads it.
        live = self.manager.get(name)
        if not version:
            return live
        if live.status == "ready":
            live.pick(version=version)  # 404 naming the versions it serves
        elif live.spec.residency == "on_demand":
            versions = pinned(live)
            if versions is not None and version not in versions:
                raise not_served(name, version, versions)
        return live

    def notify(self, record: PredictionRecord) -> None:
        """Hand a record to every observer; an observer's failure is logged, never raised."""
        for observer in self.observers:
            try:
                observer.observe(record)
            except Exception:
                log.exception("prediction observer %r failed", observer)

    async def infer(self, request: InferenceRequest) -> InferenceResponse:
        """Answer one request; raises lanza errors that faces turn into their error shape."""
        started = time.perf_counter()
        request.request_id = request.request_id or new_request_id()
        name, version, status = request.deployment, "", "error"
        self.metrics.in_flight.labels(name).inc()
        held: bool | None = None  # on demand: whether the request waited for a load (cold)
        try:
            check_count(request.payload, self.max_rows)
            live = await self.manager.find(name)
            if live.spec.residency == "on_demand":
                live, held = await self.manager.hold(name)
            variant = live.pick(request.sticky, request.version)
            version = variant.version
            schema = variant.loaded.runtime.schema
            payload = request.payload
            if live.spec.extra_columns == "ignore":
                payload = without_extra(payload, schema)
            checked = check(payload, schema, live.spec.impute_missing_columns)
            columns = checked.columns
            params = check_params(request.params, schema) if request.params else None
            prediction = await self._predict(variant, columns, request, params)
            self._mirror(live, columns, request)
            status = "ok"
            response = InferenceResponse(
                prediction, version, request.request_id, columns, checked.warnings
            )
            self._count(name, checked.warnings)
            if self.observers:
                self.notify(_record(request, response.prediction, version, columns, started))
            return response
        except LanzaError as exc:
            status = str(exc.status_code)
            raise
        finally:
            if held is not None:
                self.manager.release(name)
                start = "cold" if held else "warm"
                elapsed = time.perf_counter() - started
                self.manager.residency.metrics.start_latency.labels(name, start).observe(elapsed)
            self.metrics.in_flight.labels(name).dec()
            self.metrics.requests.labels(name, version, request.face, status).inc()
            self.metrics.duration.labels(name, request.face).observe(time.perf_counter() - started)

    def _count(self, deployment: str, flags: list[list[InputWarning]]) -> None:
        """Rows answered on flagged values, per feature and reason, on ``/metrics``."""
        counted = Counter((flag.feature, flag.reason) for row in flags for flag in row)
        for (feature, reason), rows in counted.items():
            self.metrics.input_warnings.labels(deployment, feature, reason).inc(rows)

    async def _predict(
        self,
        variant: Variant,
        columns: dict[str, list[Any]],
        request: InferenceRequest,
        params: dict[str, Any] | None = None,
    ) -> Prediction:
        count = request.payload.count
        try:
            async with asyncio.timeout(self.timeout_s):
                return await variant.batcher.submit(
                    columns, count, request.probabilities, params, request.gather
                )
        except TimeoutError as exc:
            raise DeadlineExceededError(
                f"Deployment '{request.deployment}' did not answer within {self.timeout_s:g}s."
            ) from exc

    def _mirror(
        self, live: LiveDeployment, columns: dict[str, list[Any]], request: InferenceRequest
    ) -> None:
        shadow = live.shadow
        if shadow is None:
            return
        try:
            validate(
                Payload(columns=columns, count=request.payload.count), shadow.loaded.runtime.schema
            )
        except LanzaError as exc:
            log.info(
                "shadow %s skipped request %s: %s", shadow.version, request.request_id, exc.message
            )
            return
        task = asyncio.get_running_loop().create_task(self._shadow(shadow, columns, request))
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self, shadow: Variant, columns: dict[str, list[Any]], request: InferenceRequest
    ) -> None:
        started = time.perf_counter()
        try:
            result = await shadow.batcher.submit(
                columns, request.payload.count, request.probabilities
            )
            self.metrics.requests.labels(request.deployment, shadow.version, "shadow", "ok").inc()
            if self.observers:
                # Logged beside the answer under the same request id, so the shadow model is
                # judged on the same requests and the same ground truth.
                record = _record(request, result, shadow.version, columns, started, shadow=True)
                self.notify(record)
        except Exception as exc:  # a shadow never affects the answer
            self.metrics.requests.labels(
                request.deployment, shadow.version, "shadow", "error"
            ).inc()
            log.info("shadow %s failed on %s: %s", shadow.version, request.request_id, exc)


def without_extra(payload: Payload, schema: InputSchema) -> Payload:
    """The payload without the named columns the model does not take."""
    if payload.columns is None or not schema.columns:
        return payload
    known = set(schema.names)
    if all(name in known for name in payload.columns):
        return payload
    kept = {name: values for name, values in payload.columns.items() if name in known}
    return Payload(columns=kept, count=payload.count)


def new_request_id() -> str:
    """A UUIDv7 (RFC 9562) in hex: unique, and ordered by time of creation.

    Time-ordered ids land at the end of the prediction log's ``request_id`` index, where a
    random UUID4 would land anywhere in it: inserting one costs about half as much once the
    log holds hundreds of thousands of rows, and the writer runs beside every request.
    The 80 random bits come from ``random`` (reseeded in each forked worker), not from the
    kernel: an id must be unique, not secret, and a system call per request is not free.
    """
    value = (time.time_ns() // 1_000_000) << 80 | random.getrandbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return f"{value:032x}"


def _record(
    request: InferenceRequest,
    prediction: Prediction,
    model: str,
    columns: dict[str, list[Any]],
    started: float,
    shadow: bool = False,
) -> PredictionRecord:
    probabilities = None
    if prediction.probabilities is not None:
        probabilities = prediction.probabilities.tolist()
    return PredictionRecord(
        request.request_id,
        request.deployment,
        model,
        request.face,
        columns,
        prediction.to_list(),
        probabilities,
        prediction.classes,
        (time.perf_counter() - started) * 1000,
        time.time(),
        shadow,
    )


def check_count(payload: Payload, limit: int) -> None:
    """422 for more rows than a request may carry."""
    if payload.count > limit:
        raise ValidationError(f"The request has {payload.count:,} rows; the limit is {limit:,}.")
