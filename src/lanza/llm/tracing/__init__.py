"""Tracing for LLM applications: the SDK, the trace store and the ingest faces.

``from lanza import tracing`` (or this package) gives ``span``, ``trace``, ``configure``,
``current_span``, ``Span`` and ``Tracer``.
"""

from lanza.llm.tracing.sdk import Span, Tracer, configure, current_span, get_tracer, span, trace

__all__ = ["Span", "Tracer", "configure", "current_span", "get_tracer", "span", "trace"]
