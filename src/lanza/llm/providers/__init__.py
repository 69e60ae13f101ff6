"""LLM providers: remote OpenAI-compatible APIs and local models behind one interface."""

from lanza.errors import ProviderError
from lanza.llm.providers.base import (
    ChatMessage,
    Completion,
    Delta,
    Embeddings,
    GenerationParams,
    Provider,
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
