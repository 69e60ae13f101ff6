"""Builds the provider a deployment names, once per deployment version."""

from __future__ import annotations

from lanza.errors import InvalidInputError
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.providers.base import Provider


def build_provider(spec: LLMDeploymentSpec) -> Provider:
    """The provider for a spec; local ones import torch only here."""
    if spec.provider == "openai":
        from lanza.llm.providers.remote import OpenAICompatibleProvider

        assert spec.base_url is not None  # the spec validates it
        return OpenAICompatibleProvider(spec.base_url, spec.model, spec.api_key_env, spec.timeout_s)
    try:
        if spec.provider == "local-transformers":
            from lanza.llm.providers.local import TransformersProvider

            return TransformersProvider(spec.model, spec.device)
        from lanza.llm.providers.embeddings import SentenceTransformersProvider

        return SentenceTransformersProvider(spec.model, spec.device)
    except ImportError as exc:
        raise InvalidInputError(
            f"Local models need the 'llm' extra ({exc.name} is missing): pip install 'lanza[llm]'."
        ) from exc
