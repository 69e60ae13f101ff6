"""The OpenAI request bodies lanza accepts, and the response bodies it writes.

Fields lanza does not use are accepted and passed to remote providers unchanged
(``extra="allow"``). lanza adds two optional fields to chat requests: ``prompt``, a
prompt reference (``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION``) whose rendered messages
come before ``messages``, and ``variables`` for its ``{{placeholders}}``.
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lanza.errors import InvalidInputError
from lanza.llm.providers.base import (
    ChatMessage,
    Choice,
    Completion,
    Delta,
    EmbeddingInput,
    GenerationParams,
    Prompt,
    Usage,
)

LANZA_FIELDS = {"model", "messages", "prompt", "variables", "stream", "stream_options", "input"}
KNOWN = {"max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "n"}


class StreamOptions(BaseModel):
    """``stream_options``: ask for a last chunk with the usage."""

    include_usage: bool = False


class GenerationRequest(BaseModel):
    """Fields shared by chat and text completions."""

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=128, description="How many choices to generate.")
    stream: bool = False
    stream_options: StreamOptions | None = None

    def params(self) -> GenerationParams:
        """The sampling knobs, plus unknown fields for remote providers."""
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if len(stop) > 4:
            raise InvalidInputError("Field 'stop': at most 4 stop sequences.")
        extra = {k: v for k, v in (self.model_extra or {}).items() if k not in LANZA_FIELDS}
        return GenerationParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=stop,
            seed=self.seed,
            n=self.n,
            extra=extra,
        )

    @property
    def include_usage(self) -> bool:
        """Whether a streamed answer ends with a usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(GenerationRequest):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(default_factory=list)
    prompt: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class CompletionRequest(GenerationRequest):
    """``POST /v1/completions``: text or token ids, one prompt or several."""

    prompt: str | list[str] | list[int] | list[list[int]]

    def text(self) -> Prompt:
        """The prompt as given; an empty list is refused."""
        if isinstance(self.prompt, list) and not self.prompt:
            raise InvalidInputError("Field 'prompt': give a text or token ids.")
        return self.prompt


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: str = "float"
    dimensions: int | None = Field(None, ge=1)

    def texts(self) -> EmbeddingInput:
        """The inputs as a list: texts, or token-id lists (one list of ints is one input)."""
        if isinstance(self.input, str):
            return [self.input]
        if not self.input:
            raise InvalidInputError("Field 'input': give at least one text.")
        if self.encoding_format not in ("float", "base64"):
            raise InvalidInputError("Field 'encoding_format': use 'float' or 'base64'.")
        if isinstance(self.input[0], int):
            return [[int(i) for i in self.input if isinstance(i, int)]]
        return self.input


def new_id(prefix: str) -> str:
    """An id in OpenAI's style."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage_body(usage: Usage) -> dict[str, int]:
    """OpenAI's usage object."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def chat_body(rid: str, model: str, completion: Completion, usage: Usage) -> dict[str, Any]:
    """A ``chat.completion`` with every choice, tool calls and log probabilities included."""
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": _content(c)} | c.message,
            "finish_reason": c.finish_reason,
            "logprobs": c.logprobs,
        }
        for i, c in enumerate(completion.choices())
    ]
    return _envelope(rid, "chat.completion", model) | {
        "choices": choices,
        "usage": usage_body(usage),
    }


def text_body(rid: str, model: str, completion: Completion, usage: Usage) -> dict[str, Any]:
    """A ``text_completion`` with every choice."""
    choices = [
        {"index": i, "text": c.text, "finish_reason": c.finish_reason, "logprobs": c.logprobs}
        for i, c in enumerate(completion.choices())
    ]
    return _envelope(rid, "text_completion", model) | {
        "choices": choices,
        "usage": usage_body(usage),
    }


def chunk_body(
    rid: str, model: str, chat: bool, piece: Delta, first: bool = False
) -> dict[str, Any]:
    """One streamed chunk for one choice: its content, tool-call fragments or finish."""
    if chat:
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        if piece.text or first:
            delta["content"] = piece.text or (None if piece.tool_calls else "")
        if piece.tool_calls:
            delta["tool_calls"] = piece.tool_calls
        delta |= piece.message
        choice: dict[str, Any] = {"index": piece.index, "delta": delta}
        kind = "chat.completion.chunk"
    else:
        choice = {"index": piece.index, "text": piece.text}
        kind = "text_completion"
    choice |= {"finish_reason": piece.finish_reason, "logprobs": piece.logprobs}
    return _envelope(rid, kind, model) | {"choices": [choice]}


def usage_chunk(rid: str, model: str, chat: bool, usage: Usage) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage``: no choices, the usage."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    return _envelope(rid, kind, model) | {"choices": [], "usage": usage_body(usage)}


def _content(choice: Choice) -> str | None:
    """OpenAI writes ``content: null`` when a message holds only tool calls."""
    return None if not choice.text and choice.tool_calls else choice.text


def embeddings_body(
    model: str, vectors: list[list[float]], usage: Usage, encoding: str = "float"
) -> dict[str, Any]:
    """An embeddings list; ``base64`` packs each vector as little-endian float32."""
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(v, encoding)}
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def _envelope(rid: str, kind: str, model: str) -> dict[str, Any]:
    return {"id": rid, "object": kind, "created": int(time.time()), "model": model}
