"""lanza's tracing SDK: ``span`` (a context manager), ``trace`` (a decorator) and the Tracer.

::

    from lanza import tracing

    tracing.configure(sink="local")            # or "http://127.0.0.1:8000", or a sink object

    @tracing.trace(run_type="chain")
    def answer(question: str) -> str:
        with tracing.span("retrieve", run_type="retriever", inputs={"q": question}) as s:
            s.set_outputs({"documents": [...]})
        ...

The current span travels in a context variable, so asyncio tasks inherit their parent;
a thread inherits it when started with ``contextvars.copy_context().run``. Sampling is
decided once per trace, at its root. With no sink configured, spans cost next to nothing.
"""

from __future__ import annotations

import functools
import inspect
import random
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from lanza.llm.tracing.propagation import RemoteParent
from lanza.llm.tracing.span import Span
from lanza.llm.tracing.worker import Redactor, SpanSink, SpanWorker, TracerStats

__all__ = ["Span", "Tracer", "configure", "current_span", "get_tracer", "span", "trace"]

F = TypeVar("F", bound=Callable[..., Any])
_current: ContextVar[Span | None] = ContextVar("lanza_tracing_span", default=None)


class _Scope:
    """The context manager ``span()`` returns: opens the span on enter, queues it on exit."""

    __slots__ = ("_args", "_span", "_token", "_tracer")

    def __init__(self, tracer: Tracer, args: tuple[Any, ...]) -> None:
        self._tracer, self._args = tracer, args
        self._token: Token[Span | None] | None = None

    def __enter__(self) -> Span:
        self._span, self._token = self._tracer._open(*self._args)
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
        current = self._span
        if current.recording:
            if exc is not None and current.error is None:
                current.set_error(exc)
            current.end_time = time.time()
            self._tracer._submit(current)


class Tracer:
    """Opens spans, samples traces at their root and queues finished spans for a sink."""

    def __init__(
        self,
        sink: SpanSink | None = None,
        sample_rate: float = 1.0,
        redact: Redactor | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be between 0 and 1, not {sample_rate}.")
        self.sample_rate = sample_rate
        self._worker = SpanWorker(sink, redact) if sink is not None else None
        self._unsampled = Span("unsampled", "chain", None, recording=False)

    @property
    def enabled(self) -> bool:
        """Whether spans go anywhere (a sink is configured)."""
        return self._worker is not None

    @property
    def stats(self) -> TracerStats:
        """Spans written, dropped and failed batches so far."""
        return self._worker.stats if self._worker is not None else TracerStats()

    def span(
        self,
        name: str,
        run_type: str = "chain",
        *,
        inputs: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        remote: RemoteParent | None = None,
    ) -> _Scope:
        """A context manager for one span, child of the current one.

        With no current span, ``remote`` (a caller's span, from request headers) is the
        parent: the span joins the caller's trace, and is always recorded.
        """
        return _Scope(self, (name, run_type, inputs, tags, metadata, remote))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every finished span is written; False on timeout."""
        return self._worker.flush(timeout) if self._worker is not None else True

    def close(self) -> None:
        """Write what is queued and release the sink."""
        if self._worker is not None:
            self._worker.close()

    def _open(
        self,
        name: str,
        run_type: str,
        inputs: dict[str, Any] | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        remote: RemoteParent | None = None,
    ) -> tuple[Span, Token[Span | None] | None]:
        parent = _current.get()
        if self._worker is None:
            return self._unsampled, None
        if parent is None and remote is not None:
            opened = Span(name, run_type, None, recording=True)
            opened.trace_id, opened.parent_id = remote.trace_id, remote.parent_id
            opened.inputs = inputs
            opened.tags = [*remote.tags, *(tags or [])]
            opened.metadata = {**remote.metadata, **(metadata or {})}
            if remote.project:
                opened.metadata["project"] = remote.project
            return opened, _current.set(opened)
        if parent is None:
            if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
                return self._unsampled, _current.set(self._unsampled)
        elif not parent.recording:
            return parent, None
        opened = Span(name, run_type, parent, recording=True)
        opened.inputs = inputs
        if tags:
            opened.tags = list(tags)
        if metadata:
            opened.metadata = dict(metadata)
        return opened, _current.set(opened)

    def _submit(self, finished: Span) -> None:
        if self._worker is not None:
            self._worker.submit(finished)


class _DefaultTracer:
    """Holds the process's tracer; created lazily, replaced by ``configure``."""

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.lock = threading.Lock()


@functools.cache
def _default() -> _DefaultTracer:
    return _DefaultTracer()


def get_tracer() -> Tracer:
    """The process's tracer (one with no sink until ``configure`` is called)."""
    holder = _default()
    if holder.tracer is None:
        with holder.lock:
            holder.tracer = holder.tracer or Tracer()
    return holder.tracer


def configure(
    sink: SpanSink | str | None = None,
    sample_rate: float = 1.0,
    redact: Redactor | None = None,
) -> Tracer:
    """Set the process's tracer: ``sink`` is a sink, ``"local"``, or a lanza server's URL."""
    from lanza.llm.tracing.sinks import sink_from

    tracer = Tracer(sink_from(sink), sample_rate, redact)
    holder = _default()
    with holder.lock:
        previous, holder.tracer = holder.tracer, tracer
    if previous is not None:
        previous.close()
    return tracer


def span(
    name: str,
    run_type: str = "chain",
    *,
    inputs: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> _Scope:
    """A span on the process's tracer: ``with span("retrieve", "retriever") as s: ...``."""
    return get_tracer().span(name, run_type, inputs=inputs, tags=tags, metadata=metadata)


def current_span() -> Span | None:
    """The innermost open span in this context, if any."""
    return _current.get()


@overload
def trace(name: F) -> F: ...
@overload
def trace(
    name: str | None = None,
    run_type: str = "chain",
    *,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> Callable[[F], F]: ...
def trace(
    name: str | Callable[..., Any] | None = None,
    run_type: str = "chain",
    *,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> Any:
    """Trace every call of a sync or async function: arguments in, return value out.

    Errors are recorded on the span and re-raised. ``tracer`` defaults to the process's.
    """
    if callable(name):
        return trace()(name)

    def decorate(fn: F) -> F:
        label = name or fn.__qualname__
        signature = inspect.signature(fn)

        def scope(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Scope:
            inputs = _inputs(signature, args, kwargs)
            return (tracer or get_tracer()).span(
                label, run_type, inputs=inputs, tags=tags, metadata=metadata
            )

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with scope(args, kwargs) as current:
                    result = await fn(*args, **kwargs)
                    current.set_outputs(_outputs(result))
                    return result

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with scope(args, kwargs) as current:
                result = fn(*args, **kwargs)
                current.set_outputs(_outputs(result))
                return result

        return cast(F, run)

    return decorate


def _inputs(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return {"args": args, "kwargs": kwargs}
    return {k: v for k, v in bound.items() if k not in ("self", "cls")}


def _outputs(result: Any) -> dict[str, Any]:
    return result if isinstance(result, dict) else {"output": result}
