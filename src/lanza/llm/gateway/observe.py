"""Every gateway call as a span of lanza's tracing SDK, with tokens, model and cost.

The server gives the gateway its own ``Tracer`` writing to its trace store (no process
global); elsewhere, spans go to the process's tracer (``lanza.tracing.configure``),
which costs next to nothing when nothing is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lanza.llm.tracing import Span, Tracer, get_tracer
from lanza.llm.tracing.propagation import RemoteParent


class Traces:
    """Opens the gateway's spans on a given tracer, or on the process's one."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self.tracer = tracer

    @contextmanager
    def call(
        self,
        operation: str,
        deployment: str,
        inputs: dict[str, Any],
        run_type: str = "llm",
        remote: RemoteParent | None = None,
    ) -> Iterator[Span]:
        """A span named ``"<operation> <deployment>"``; an error is recorded and re-raised.

        ``remote`` is the caller's span (from its request headers): the call's span then
        joins the caller's trace instead of starting one.
        """
        tracer = self.tracer or get_tracer()
        with tracer.span(
            f"{operation} {deployment}",
            run_type,
            inputs=inputs,
            metadata={"deployment": deployment},
            remote=remote,
        ) as current:
            try:
                yield current
            except BaseException as exc:
                current.set_error(exc)
                raise

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait for queued spans to be written."""
        return self.tracer.flush(timeout) if self.tracer is not None else True

    def close(self) -> None:
        """Write what is queued and stop the tracer this object was given."""
        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None
