"""Streamed answers: deltas become server-sent events, and the stream is remembered.

Each choice's first chunk carries ``role``; text, tool-call fragments and log
probabilities go out as they arrive, per choice ``index``; a finish chunk ends each
choice; a usage chunk and ``[DONE]`` end the stream. What went by (texts, tool calls
joined from their fragments, usage, time to the first token) is kept for the trace
and the metrics.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from lanza.errors import LanzaError
from lanza.llm.gateway.schemas import chunk_body, usage_chunk
from lanza.llm.providers.base import Completion, Delta, Usage

DONE = "data: [DONE]\n\n"
"""The event that ends a stream."""


class SSEStream:
    """Turns deltas into server-sent events and remembers what went by."""

    def __init__(self, rid: str, model: str, chat: bool, include_usage: bool) -> None:
        self.rid, self.model, self.chat, self.include_usage = rid, model, chat, include_usage
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, ToolCalls] = {}
        self.reasons: dict[int, str] = {}
        self.seen: set[int] = set()
        self.usage = Usage()
        self.error: LanzaError | None = None
        self.first_token_at: float | None = None  # ``time.perf_counter()`` of the first content

    async def events(self, pieces: AsyncIterator[Delta]) -> AsyncIterator[str]:
        """Content chunks, finish chunks, the usage chunk when asked, then ``[DONE]``."""
        try:
            async for piece in pieces:
                if piece.usage is not None:
                    self.usage = piece.usage
                if piece.has_content:
                    yield sse(self._content(piece))
                if piece.finish_reason is not None:
                    self.reasons[piece.index] = piece.finish_reason
                    end = Delta(finish_reason=piece.finish_reason, index=piece.index)
                    yield sse(chunk_body(self.rid, self.model, self.chat, end, self._first(end)))
            if self.include_usage:
                yield sse(usage_chunk(self.rid, self.model, self.chat, self.usage))
        except LanzaError as exc:
            self.error = exc
            error = exc.upstream or {"message": exc.message, "type": "api_error", "code": exc.code}
            yield sse({"error": error})
        yield DONE

    def outputs(self) -> dict[str, Any]:
        """What the trace keeps: the first choice's text, tool calls and finish reason."""
        found: dict[str, Any] = {
            "text": "".join(self.texts.get(0, [])),
            "finish_reason": self.reasons.get(0),
        }
        if 0 in self.tools:
            found["tool_calls"] = self.tools[0].calls()
        if len(self.texts) > 1:
            found["choices"] = ["".join(self.texts[i]) for i in sorted(self.texts)]
        return found

    def _content(self, piece: Delta) -> dict[str, Any]:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.texts.setdefault(piece.index, []).append(piece.text)
        if piece.tool_calls:
            self.tools.setdefault(piece.index, ToolCalls()).add(piece.tool_calls)
        return chunk_body(self.rid, self.model, self.chat, piece, self._first(piece))

    def _first(self, piece: Delta) -> bool:
        """Whether this is choice ``index``'s first chunk (which carries the role)."""
        if piece.index in self.seen:
            return False
        self.seen.add(piece.index)
        return True


class ToolCalls:
    """Tool calls joined from streamed fragments: ids and names once, arguments appended."""

    def __init__(self) -> None:
        self.by_index: dict[int, dict[str, Any]] = {}

    def add(self, fragments: list[dict[str, Any]]) -> None:
        """Merge the fragments of one delta."""
        for fragment in fragments:
            call = self.by_index.setdefault(
                int(fragment.get("index") or 0),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if fragment.get("id"):
                call["id"] = fragment["id"]
            function = fragment.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""

    def calls(self) -> list[dict[str, Any]]:
        """The whole calls, in order."""
        return [self.by_index[i] for i in sorted(self.by_index)]


async def replay(completion: Completion) -> AsyncIterator[Delta]:
    """A finished completion as the deltas a stream of it would have carried."""
    for index, choice in enumerate(completion.choices()):
        message = {k: v for k, v in choice.message.items() if k != "tool_calls"}
        calls = [{"index": i, **call} for i, call in enumerate(choice.tool_calls or [])]
        yield Delta(
            text=choice.text,
            index=index,
            tool_calls=calls or None,
            logprobs=choice.logprobs,
            message=message,
        )
        yield Delta(finish_reason=choice.finish_reason, index=index)
    yield Delta(usage=completion.usage)


def sse(payload: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"data: {json.dumps(payload)}\n\n"
