"""LLM providers: remote OpenAI-compatible APIs and local models behind one interface."""

from lanza.llm.providers.base import (
    ChatMessage,
    Completion,
    Delta,
    Embeddings,
    GenerationParams,
    Provider,
    ProviderError,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Completion",
    "Delta",
    "Embeddings",
    "GenerationParams",
    "Provider",
    "ProviderError",
    "Usage",
]
