"""``from lanza import tracing``: trace an application with lanza's SDK.

See ``lanza.llm.tracing.sdk`` for the full story; this module only re-exports it.
"""

from lanza.llm.tracing.sdk import Span, Tracer, configure, current_span, get_tracer, span, trace

__all__ = ["Span", "Tracer", "configure", "current_span", "get_tracer", "span", "trace"]
