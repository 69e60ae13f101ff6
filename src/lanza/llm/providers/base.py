"""The provider interface: chat, completion, streaming and embeddings, async-first.

The gateway speaks to every provider through these typed messages; providers never see
HTTP requests and never build OpenAI responses, so retries, caching, cost and tracing
live in one place (the gateway) whatever the model is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from lanza.errors import InvalidInputError

Prompt = str | list[str] | list[int] | list[list[int]]
"""A completion prompt: text, or token ids, one or several."""
EmbeddingInput = list[str] | list[list[int]]
"""Texts or token-id lists to embed."""


class ChatMessage(BaseModel):
    """One message of a conversation, as the OpenAI API writes it."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, joining the text parts of a multi-part content."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


@dataclass(frozen=True)
class GenerationParams:
    """How to generate: the sampling knobs every provider understands."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def greedy(self) -> bool:
        """Greedy decoding: no temperature given, or zero."""
        return not self.temperature


@dataclass(frozen=True)
class Usage:
    """Tokens read and written by one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Both together."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Choice:
    """One generated answer; ``message`` holds what the wire adds to the text.

    ``message`` carries an upstream's message fields other than role and content
    (``tool_calls``, ``refusal``, ``annotations``, ...) so that they reach the caller whole.
    """

    text: str
    finish_reason: str
    message: dict[str, Any] = field(default_factory=dict)
    logprobs: Any = None

    @property
    def tool_calls(self) -> list[dict[str, Any]] | None:
        """The tool calls the model asked for, if any."""
        calls = self.message.get("tool_calls")
        return calls if isinstance(calls, list) and calls else None


@dataclass(frozen=True)
class Completion:
    """A finished generation: its first choice, and the others when ``n`` asked for more."""

    text: str
    finish_reason: str
    usage: Usage
    message: dict[str, Any] = field(default_factory=dict)
    logprobs: Any = None
    more: tuple[Choice, ...] = ()

    def choices(self) -> list[Choice]:
        """Every choice, in order."""
        return [Choice(self.text, self.finish_reason, self.message, self.logprobs), *self.more]

    @classmethod
    def of(cls, choices: list[Choice], usage: Usage) -> Completion:
        """A completion from its choices (at least one)."""
        first = choices[0]
        return cls(
            first.text,
            first.finish_reason,
            usage,
            first.message,
            first.logprobs,
            tuple(choices[1:]),
        )


@dataclass(frozen=True)
class Delta:
    """One streamed piece of choice ``index``: text, then a finish reason; the usage last.

    ``tool_calls`` are the wire's tool-call fragments (each with its own ``index``);
    ``message`` carries other delta fields (``refusal``, ...) unchanged.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    index: int = 0
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: Any = None
    message: dict[str, Any] = field(default_factory=dict)

    @property
    def has_content(self) -> bool:
        """Whether the piece carries anything for the caller besides the end."""
        return bool(self.text or self.tool_calls or self.logprobs or self.message)


@dataclass(frozen=True)
class Embeddings:
    """Vectors for a list of inputs, in order."""

    vectors: list[list[float]]
    usage: Usage


class Provider(ABC):
    """A model behind the gateway; each method fails with a ``LanzaError``."""

    kind: str = "provider"

    async def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open connections; called once before the first request."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``load`` took."""

    @abstractmethod
    async def chat(self, messages: list[ChatMessage], params: GenerationParams) -> Completion:
        """Answer a conversation."""

    @abstractmethod
    def stream_chat(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Delta]:
        """Answer a conversation piece by piece; the last delta has the usage."""

    @abstractmethod
    async def complete(self, prompt: Prompt, params: GenerationParams) -> Completion:
        """Continue a text."""

    @abstractmethod
    def stream_complete(self, prompt: Prompt, params: GenerationParams) -> AsyncIterator[Delta]:
        """Continue a text piece by piece."""

    async def embed(self, inputs: EmbeddingInput, dimensions: int | None = None) -> Embeddings:
        """Vectors for texts (or token ids), ``dimensions`` long when given."""
        raise InvalidInputError(f"A '{self.kind}' deployment does not make embeddings.")
