"""A remote provider that speaks the OpenAI API: OpenAI, Vertex AI (Gemini), vLLM, Ollama.

Requests go out with ``httpx``; the key is read from the environment variable the
deployment names, at call time, so rotating it needs no redeploy.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from lanza.errors import DeadlineExceededError, InvalidInputError, ProviderError
from lanza.llm.providers.base import (
    ChatMessage,
    Choice,
    Completion,
    Delta,
    EmbeddingInput,
    Embeddings,
    GenerationParams,
    Prompt,
    Provider,
    Usage,
)

# Message and delta fields lanza reads itself; every other field passes through.
_OWN = {"role", "content"}


class OpenAICompatibleProvider(Provider):
    """Calls ``{base_url}/chat/completions``, ``/completions`` and ``/embeddings``."""

    kind = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str | None, timeout_s: float):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def load(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def chat(self, messages: list[ChatMessage], params: GenerationParams) -> Completion:
        data = await self._post("/chat/completions", self._chat_body(messages, params))
        return Completion.of([_chat_choice(c) for c in _choices(data)], _usage(data))

    async def stream_chat(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Delta]:
        body = self._chat_body(messages, params) | _streaming()
        async for delta in self._stream("/chat/completions", body, "delta"):
            yield delta

    async def complete(self, prompt: Prompt, params: GenerationParams) -> Completion:
        data = await self._post("/completions", self._body(params) | {"prompt": prompt})
        return Completion.of([_text_choice(c) for c in _choices(data)], _usage(data))

    async def stream_complete(
        self, prompt: Prompt, params: GenerationParams
    ) -> AsyncIterator[Delta]:
        body = self._body(params) | {"prompt": prompt} | _streaming()
        async for delta in self._stream("/completions", body, "text"):
            yield delta

    async def embed(self, inputs: EmbeddingInput, dimensions: int | None = None) -> Embeddings:
        body: dict[str, Any] = {"model": self.model, "input": inputs}
        if dimensions is not None:
            body["dimensions"] = dimensions
        data = await self._post("/embeddings", body)
        rows = sorted(data.get("data") or [], key=lambda r: int(r.get("index", 0)))
        return Embeddings([list(map(float, r["embedding"])) for r in rows], _usage(data))

    def _chat_body(self, messages: list[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        wire = [m.model_dump(exclude_none=True) for m in messages]
        return self._body(params) | {"messages": wire}

    def _body(self, params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, **params.extra}
        for key in ("max_tokens", "temperature", "top_p", "seed"):
            if getattr(params, key) is not None:
                body[key] = getattr(params, key)
        if params.stop:
            body["stop"] = list(params.stop)
        if params.n != 1:
            body["n"] = params.n
        return body

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise InvalidInputError(
                f"The environment variable {self.api_key_env} that holds the API key is not set."
            )
        return {"Authorization": f"Bearer {key}"}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise ProviderError("The provider is not loaded.", 503)
        return self._client

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http().post(path, json=body, headers=self._headers())
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError(f"{self.base_url}{path} did not answer in time.") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.base_url}{path} cannot be reached: {exc}.", 502) from exc
        _raise_for_status(response, self.base_url + path)
        data = response.json()
        if not isinstance(data, dict):
            raise ProviderError(f"{self.base_url}{path} answered something that is not JSON.")
        return data

    async def _stream(self, path: str, body: dict[str, Any], field: str) -> AsyncIterator[Delta]:
        try:
            async with self._http().stream(
                "POST", path, json=body, headers=self._headers()
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response, self.base_url + path)
                async for line in response.aiter_lines():
                    for delta in _parse_event(line, field):
                        yield delta
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError(f"{self.base_url}{path} did not answer in time.") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.base_url}{path} cannot be reached: {exc}.", 502) from exc


def _streaming() -> dict[str, Any]:
    return {"stream": True, "stream_options": {"include_usage": True}}


def _parse_event(line: str, field: str) -> list[Delta]:
    """One SSE ``data:`` line as deltas, one per choice (none for keep-alives and ``[DONE]``)."""
    if not line.startswith("data:"):
        return []
    payload = line[5:].strip()
    if not payload or payload == "[DONE]":
        return []
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ProviderError(f"The provider streamed an event that is not JSON: {exc}.") from exc
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        raise ProviderError(str(data["error"].get("message") or data["error"]), 502, data["error"])
    usage = _usage(data) if data.get("usage") else None
    deltas = [_delta(choice, field) for choice in data.get("choices") or []]
    if usage is not None:
        deltas.append(Delta(usage=usage))
    return deltas


def _delta(choice: dict[str, Any], field: str) -> Delta:
    """A streamed choice: ``delta`` (chat) or ``text`` (completions), with its extras."""
    part = choice.get(field)
    rest: dict[str, Any] = {}
    tool_calls = None
    if isinstance(part, dict):
        text = str(part.get("content") or "")
        rest = {k: v for k, v in part.items() if k not in _OWN and v is not None}
        tool_calls = rest.pop("tool_calls", None) or None
    else:
        text = str(part or "")
    return Delta(
        text=text,
        finish_reason=choice.get("finish_reason"),
        index=int(choice.get("index") or 0),
        tool_calls=tool_calls,
        logprobs=choice.get("logprobs"),
        message=rest,
    )


def _raise_for_status(response: httpx.Response, where: str) -> None:
    if response.status_code < 400:
        return
    upstream = None
    try:
        found = response.json().get("error")
        upstream = found if isinstance(found, dict) else None
        detail = (upstream or {}).get("message") or found or response.text
    except (ValueError, AttributeError):
        detail = response.text
    raise ProviderError(
        f"{where} answered {response.status_code}: {str(detail)[:300]}",
        response.status_code,
        upstream,
    )


def _choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    choices = sorted(
        (c for c in data.get("choices") or [] if isinstance(c, dict)),
        key=lambda c: int(c.get("index") or 0),
    )
    if not choices:
        raise ProviderError("The provider answered with no choices.")
    return choices


def _chat_choice(choice: dict[str, Any]) -> Choice:
    message = choice.get("message") or {}
    rest = {k: v for k, v in message.items() if k not in _OWN and v is not None}
    return Choice(
        str(message.get("content") or ""),
        str(choice.get("finish_reason") or "stop"),
        rest,
        choice.get("logprobs"),
    )


def _text_choice(choice: dict[str, Any]) -> Choice:
    return Choice(
        str(choice.get("text") or ""),
        str(choice.get("finish_reason") or "stop"),
        logprobs=choice.get("logprobs"),
    )


def _usage(data: dict[str, Any]) -> Usage:
    usage = data.get("usage") or {}
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
