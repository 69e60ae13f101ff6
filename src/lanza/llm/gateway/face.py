"""The OpenAI face: turns OpenAI requests into gateway calls and answers in OpenAI's shape.

Responses carry ``x-lanza-served-by`` (the deployment that answered, which differs from
``model`` after a fallback) and ``x-lanza-cache: hit`` when a cached answer is replayed. A
streamed request to a cached deployment is answered from one completed generation, so
it can be cached too; other streams go token by token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse

from lanza.errors import InvalidInputError, LanzaError
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.policy import CallPolicy
from lanza.llm.gateway.schemas import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    GenerationRequest,
    chat_body,
    chunk_body,
    embeddings_body,
    new_id,
    text_body,
    usage_body,
)
from lanza.llm.gateway.service import Call, Gateway, Opener, Reply
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.prompts import PromptStore
from lanza.llm.providers.base import ChatMessage, Completion, Delta, Provider, Usage
from lanza.llm.tracing import Span


class OpenAIFace:
    """Chat, completions, embeddings and models, the OpenAI way."""

    def __init__(
        self,
        gateway: Gateway,
        prompts: PromptStore | None,
        traces: Traces,
        policy: CallPolicy | None = None,
    ) -> None:
        self.gateway = gateway
        self.prompts = prompts
        self.traces = traces
        self.policy = policy or CallPolicy(gateway.specs)

    def models(self) -> dict[str, Any]:
        """``GET /v1/models``."""
        data = [model_entry(s.name, s.provider) for s in self.gateway.store.list()]
        return {"object": "list", "data": data}

    def model(self, name: str) -> dict[str, Any]:
        """``GET /v1/models/{name}``."""
        spec = self.gateway.store.get(name)
        return model_entry(spec.name, spec.provider)

    async def chat(self, body: ChatRequest, caller: str) -> JSONResponse | StreamingResponse:
        """``POST /v1/chat/completions``."""
        await self.policy.admit(body.model, caller)  # hook: budgets
        messages = await self.messages(body)
        messages = self.policy.screen_messages(body.model, messages, self.traces)  # hook
        params = body.params()
        inputs = {"messages": [m.model_dump(exclude_none=True) for m in messages]}

        def opener(provider: Provider) -> AsyncIterator[Delta]:
            return provider.stream_chat(messages, params)

        async def call(provider: Provider) -> Completion:
            return await provider.chat(messages, params)

        key = body.model_dump(exclude={"stream", "stream_options", "model"}) | inputs
        return await self._generate(body, caller, inputs, key, call, opener, chat=True)

    async def completions(
        self, body: CompletionRequest, caller: str
    ) -> JSONResponse | StreamingResponse:
        """``POST /v1/completions``."""
        await self.policy.admit(body.model, caller)  # hook: budgets
        prompt = self.policy.screen_text(body.model, body.text(), self.traces, "completion")
        params = body.params()

        def opener(provider: Provider) -> AsyncIterator[Delta]:
            return provider.stream_complete(prompt, params)

        async def call(provider: Provider) -> Completion:
            return await provider.complete(prompt, params)

        key = body.model_dump(exclude={"stream", "stream_options", "model"})
        return await self._generate(body, caller, {"prompt": prompt}, key, call, opener, chat=False)

    async def embeddings(self, body: EmbeddingRequest, caller: str) -> JSONResponse:
        """``POST /v1/embeddings``."""
        texts = body.texts()
        await self.policy.admit(body.model, caller)  # hook: budgets
        with self.traces.call("embed", body.model, {"input": texts}, run_type="embedding") as span:
            reply = await self.gateway.call(
                body.model, lambda p: p.embed(texts), caller, {"input": texts}
            )
            span.set_outputs({"count": len(reply.result.vectors)})
            _record_usage(span, reply)
        self._charge(body.model, reply, caller)  # hook: ledger
        vectors = reply.result.vectors
        payload = embeddings_body(body.model, vectors, reply.usage, body.encoding_format)
        return JSONResponse(payload, headers=_headers(reply))

    async def messages(self, body: ChatRequest) -> list[ChatMessage]:
        """The request's messages, after the rendered prompt when one is referenced."""
        messages = list(body.messages)
        reference = self.policy.prompt_of(body)  # hook: the deployment's default, experiments
        if reference:
            if self.prompts is None:
                raise InvalidInputError("Prompt references need MLflow's prompt registry.")
            # The registry is a blocking MLflow call: keep it off the event loop.
            prompt = await asyncio.to_thread(self.prompts.get, reference)
            self.policy.remember_prompt(reference, prompt.reference)  # hook: ledger and trace
            messages = prompt.messages(body.variables) + messages
        if not messages:
            raise InvalidInputError("Field 'messages': give at least one message or a 'prompt'.")
        return messages

    async def _generate(
        self,
        body: GenerationRequest,
        caller: str,
        inputs: dict[str, Any],
        key: dict[str, Any],
        call: Call[Completion],
        opener: Opener,
        chat: bool,
    ) -> JSONResponse | StreamingResponse:
        operation = "chat" if chat else "completion"
        rid = new_id("chatcmpl" if chat else "cmpl")
        if body.stream and not self._whole(body.model):
            return await self._stream(body, caller, inputs, opener, chat, rid)
        with self.traces.call(operation, body.model, inputs) as span:
            try:
                reply = await self.gateway.call(body.model, call, caller, key)
                self._charge(body.model, reply, caller)  # hook: ledger
                completion: Completion = self.policy.screen_answer(body.model, reply.result)
            finally:
                self.policy.annotate(span)  # hook: guardrails on the trace
            span.set_outputs({"text": completion.text, "finish_reason": completion.finish_reason})
            _record_usage(span, reply)
        if body.stream:
            events = _Stream(rid, body, chat).events(_replay(completion))
            return StreamingResponse(
                events, media_type="text/event-stream", headers=_headers(reply)
            )
        build = chat_body if chat else text_body
        payload = build(rid, body.model, completion.text, completion.finish_reason, reply.usage)
        return JSONResponse(payload, headers=_headers(reply))

    async def _stream(
        self,
        body: GenerationRequest,
        caller: str,
        inputs: dict[str, Any],
        opener: Opener,
        chat: bool,
        rid: str,
    ) -> StreamingResponse:
        operation = "chat" if chat else "completion"
        try:
            served_by, pieces = await self.gateway.stream(body.model, opener, caller)
        except LanzaError:
            with self.traces.call(operation, body.model, inputs):
                raise
        spec = self.gateway.specs.get(served_by)
        stream = _Stream(rid, body, chat)
        stream.caller = caller
        events = self._traced(stream, pieces, operation, inputs, spec)
        headers = {"x-lanza-served-by": served_by}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    async def _traced(
        self,
        stream: _Stream,
        pieces: AsyncIterator[Delta],
        operation: str,
        inputs: dict[str, Any],
        spec: LLMDeploymentSpec,
    ) -> AsyncIterator[str]:
        # The span opens and closes inside the response's own task, so its context is whole.
        with self.traces.call(operation, stream.body.model, inputs) as span:
            async for event in stream.events(pieces):
                yield event
            if stream.error is not None:
                span.set_error(stream.error)
            span.set_outputs({"text": "".join(stream.text), "finish_reason": stream.reason})
            cost = self.gateway.cost(spec, stream.usage)
            usage = stream.usage
            span.set_usage(usage.prompt_tokens, usage.completion_tokens, spec.model, cost)
            # hooks: the ledger, and what the guardrails found (a stream is only flagged)
            self.policy.charge(stream.body.model, spec.name, spec.model, stream.caller, usage, cost)
            sent = Completion("".join(stream.text), "", usage)
            self.policy.screen_answer(spec.name, sent, enforce=False)
            self.policy.annotate(span)

    def _whole(self, deployment: str) -> bool:
        """Whether a stream is generated whole first: to cache it, or to screen it."""
        return self.gateway.specs.get(deployment).cache or self.policy.holds_output(deployment)

    def _charge(self, deployment: str, reply: Reply, caller: str) -> None:
        if not reply.cached:
            self.policy.charge(
                deployment, reply.served_by, reply.model, caller, reply.usage, reply.cost_usd
            )


class _Stream:
    """Turns deltas into server-sent events and remembers what went by."""

    def __init__(self, rid: str, body: GenerationRequest, chat: bool) -> None:
        self.rid, self.body, self.chat = rid, body, chat
        self.text: list[str] = []
        self.usage = Usage()
        self.reason: str | None = None
        self.error: LanzaError | None = None
        self.caller = "anonymous"

    async def events(self, pieces: AsyncIterator[Delta]) -> AsyncIterator[str]:
        """Content chunks, a finish chunk, the usage chunk when asked, then ``[DONE]``."""
        model, first = self.body.model, True
        try:
            async for piece in pieces:
                if piece.text:
                    self.text.append(piece.text)
                    yield _sse(chunk_body(self.rid, model, self.chat, piece.text, None, first))
                    first = False
                if piece.usage is not None:
                    self.usage = piece.usage
                if piece.finish_reason is not None:
                    self.reason = piece.finish_reason
                    yield _sse(chunk_body(self.rid, model, self.chat, None, self.reason, first))
            if self.body.include_usage:
                yield _sse(self._usage_chunk())
        except LanzaError as exc:
            self.error = exc
            yield _sse({"error": {"message": exc.message, "type": "api_error", "code": exc.code}})
        yield "data: [DONE]\n\n"

    def _usage_chunk(self) -> dict[str, Any]:
        chunk = chunk_body(self.rid, self.body.model, self.chat, None, None)
        return chunk | {"choices": [], "usage": usage_body(self.usage)}


async def _replay(completion: Completion) -> AsyncIterator[Delta]:
    yield Delta(text=completion.text)
    yield Delta(finish_reason=completion.finish_reason, usage=completion.usage)


def model_entry(name: str, provider: str) -> dict[str, Any]:
    """One entry of ``/v1/models``."""
    return {"id": name, "object": "model", "created": 0, "owned_by": f"lanza:{provider}"}


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _headers(reply: Reply) -> dict[str, str]:
    headers = {"x-lanza-served-by": reply.served_by}
    if reply.cached:
        headers["x-lanza-cache"] = "hit"
    return headers


def _record_usage(span: Span, reply: Reply) -> None:
    usage = reply.usage
    span.set_usage(usage.prompt_tokens, usage.completion_tokens, reply.model, reply.cost_usd)
