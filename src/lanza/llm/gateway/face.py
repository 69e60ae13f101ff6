"""The OpenAI face: turns OpenAI requests into gateway calls and answers in OpenAI's shape.

Responses carry ``x-lanza-served-by`` (the deployment that answered, which differs from
``model`` after a fallback) and ``x-lanza-cache: hit`` when a cached answer is replayed. A
streamed request to a cached deployment is answered from one completed generation, so
it can be cached too; other streams go token by token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CollectorRegistry

from lanza.errors import InvalidInputError, LanzaError
from lanza.llm.gateway.metrics import CallRecord, GatewayMetrics
from lanza.llm.gateway.observe import Traces
from lanza.llm.gateway.policy import CallPolicy
from lanza.llm.gateway.schemas import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    GenerationRequest,
    chat_body,
    embeddings_body,
    new_id,
    text_body,
)
from lanza.llm.gateway.service import Call, Gateway, Opener, Reply
from lanza.llm.gateway.spec import LLMDeploymentSpec
from lanza.llm.gateway.stream import DONE, SSEStream, replay
from lanza.llm.prompts import PromptStore
from lanza.llm.providers.base import ChatMessage, Completion, Delta, Provider, Usage
from lanza.llm.tracing import Span
from lanza.llm.tracing.propagation import RemoteParent

_StreamCall = tuple[str, dict[str, Any], LLMDeploymentSpec, RemoteParent | None, CallRecord, str]
"""A stream's operation, inputs, deployment, caller's span, metrics record and caller."""


OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The OpenAI API's error body."""
    kind = OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class OpenAIFace:
    """Chat, completions, embeddings and models, the OpenAI way."""

    def __init__(
        self,
        gateway: Gateway,
        prompts: Callable[[], PromptStore] | None,
        traces: Traces,
        metrics: GatewayMetrics | None = None,
        policy: CallPolicy | None = None,
    ) -> None:
        self.gateway = gateway
        self.prompts = prompts
        self.traces = traces
        self.metrics = metrics or GatewayMetrics(CollectorRegistry())
        self.policy = policy or CallPolicy(gateway.specs)

    def models(self) -> dict[str, Any]:
        """``GET /v1/models``."""
        data = [model_entry(s.name, s.provider) for s in self.gateway.store.list()]
        return {"object": "list", "data": data}

    def model(self, name: str) -> dict[str, Any]:
        """``GET /v1/models/{name}``."""
        spec = self.gateway.store.get(name)
        return model_entry(spec.name, spec.provider)

    async def chat(
        self, body: ChatRequest, caller: str, remote: RemoteParent | None = None
    ) -> JSONResponse | StreamingResponse:
        """``POST /v1/chat/completions``; ``remote`` is the caller's span, when it sent one."""
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
        return await self._generate(body, caller, inputs, key, call, opener, True, remote)

    async def completions(
        self, body: CompletionRequest, caller: str, remote: RemoteParent | None = None
    ) -> JSONResponse | StreamingResponse:
        """``POST /v1/completions``."""
        await self.policy.admit(body.model, caller)  # hook: budgets
        prompt = body.text()
        if isinstance(prompt, str):  # token ids are not screened
            prompt = self.policy.screen_text(body.model, prompt, self.traces, "completion")
        params = body.params()

        def opener(provider: Provider) -> AsyncIterator[Delta]:
            return provider.stream_complete(prompt, params)

        async def call(provider: Provider) -> Completion:
            return await provider.complete(prompt, params)

        key = body.model_dump(exclude={"stream", "stream_options", "model"})
        inputs = {"prompt": prompt}
        return await self._generate(body, caller, inputs, key, call, opener, False, remote)

    async def embeddings(
        self, body: EmbeddingRequest, caller: str, remote: RemoteParent | None = None
    ) -> JSONResponse:
        """``POST /v1/embeddings``."""
        texts = body.texts()
        await self.policy.admit(body.model, caller)  # hook: budgets
        key = {"input": texts, "dimensions": body.dimensions}
        inputs = {"input": texts}
        with (
            self.metrics.call(body.model, "embeddings") as record,
            self.traces.call("embed", body.model, inputs, "embedding", remote) as span,
        ):
            reply = await self.gateway.call(
                body.model, lambda p: p.embed(texts, body.dimensions), caller, key
            )
            span.set_outputs({"count": len(reply.result.vectors)})
            _record_usage(span, reply)
            _answered(record, reply)
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
            prompt = await asyncio.to_thread(self.prompts().get, reference)
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
        remote: RemoteParent | None,
    ) -> JSONResponse | StreamingResponse:
        operation = "chat" if chat else "completion"
        rid = new_id("chatcmpl" if chat else "cmpl")
        if body.stream and not self._whole(body.model):
            return await self._stream(body, caller, inputs, opener, chat, rid, remote)
        with (
            self.metrics.call(body.model, operation) as record,
            self.traces.call(operation, body.model, inputs, remote=remote) as span,
        ):
            try:
                reply = await self.gateway.call(body.model, call, caller, key)
                _record_usage(span, reply)  # an answer refused below was still paid for
                self._charge(body.model, reply, caller)  # hook: ledger
                completion: Completion = self.policy.screen_answer(body.model, reply.result)
                await self.policy.judge_answer(body.model, inputs, completion, caller)  # hook
            finally:
                self.policy.annotate(span)  # hook: guardrails on the trace
            span.set_outputs(_outputs(completion))
            _answered(record, reply)
        if body.stream:
            stream = SSEStream(rid, body.model, chat, body.include_usage)
            return StreamingResponse(
                stream.events(replay(completion)),
                media_type="text/event-stream",
                headers=_headers(reply),
            )
        build = chat_body if chat else text_body
        payload = build(rid, body.model, completion, reply.usage)
        return JSONResponse(payload, headers=_headers(reply))

    async def _stream(
        self,
        body: GenerationRequest,
        caller: str,
        inputs: dict[str, Any],
        opener: Opener,
        chat: bool,
        rid: str,
        remote: RemoteParent | None,
    ) -> StreamingResponse:
        operation = "chat" if chat else "completion"
        record = CallRecord(body.model, operation)
        try:
            served_by, pieces = await self.gateway.stream(body.model, opener, caller)
        except LanzaError as exc:
            record.error = exc
            self.metrics.observe(record)
            with self.traces.call(operation, body.model, inputs, remote=remote):
                raise
        spec = self.gateway.specs.get(served_by)
        stream = SSEStream(rid, body.model, chat, body.include_usage)
        call = (operation, inputs, spec, remote, record, caller)
        events = self._traced(stream, pieces, call)
        headers = {"x-lanza-served-by": served_by}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    async def _traced(
        self, stream: SSEStream, pieces: AsyncIterator[Delta], call: _StreamCall
    ) -> AsyncIterator[str]:
        operation, inputs, spec, remote, record, caller = call
        # The span opens and closes inside the response's own task, so its context is whole.
        # ``[DONE]`` goes out last: a client that has it may hang up, and what follows the
        # stream (the judge's grade) must not be cut off by that.
        try:
            with self.traces.call(operation, stream.model, inputs, remote=remote) as span:
                async for event in stream.events(pieces):
                    if event != DONE:
                        yield event
                if stream.error is not None:
                    span.set_error(stream.error)
                span.set_outputs(stream.outputs())
                cost = self.gateway.cost(spec, stream.usage)
                usage = stream.usage
                span.set_usage(usage.prompt_tokens, usage.completion_tokens, spec.model, cost)
                record.answered(spec.name, usage, cost, stream.error)
                # hooks: the ledger, and what the guardrails found (a stream is only flagged)
                self.policy.charge(stream.model, spec.name, spec.model, caller, usage, cost)
                sent = Completion(str(stream.outputs().get("text", "")), "", usage)
                self.policy.screen_answer(spec.name, sent, enforce=False)
                await self.policy.judge_answer(spec.name, inputs, sent, caller, enforce=False)
                self.policy.annotate(span)
            yield DONE
        finally:
            if stream.first_token_at is not None:
                record.first_token_s = stream.first_token_at - record.started
            self.metrics.observe(record)

    def _whole(self, deployment: str) -> bool:
        """Whether a stream is generated whole first: to cache it, or to screen it."""
        return self.gateway.specs.get(deployment).cache or self.policy.holds_output(deployment)

    def _charge(self, deployment: str, reply: Reply, caller: str) -> None:
        if not reply.cached:
            self.policy.charge(
                deployment, reply.served_by, reply.model, caller, reply.usage, reply.cost_usd
            )


def _answered(record: CallRecord, reply: Reply) -> None:
    """Tokens and cost count only what a provider did: a cache hit costs nothing."""
    if reply.cached:
        record.answered(reply.served_by, Usage(), None)
    else:
        record.answered(reply.served_by, reply.usage, reply.cost_usd)


def _outputs(completion: Completion) -> dict[str, Any]:
    """What the trace keeps of a completion: text, finish reason, tool calls, other choices."""
    found: dict[str, Any] = {"text": completion.text, "finish_reason": completion.finish_reason}
    first = completion.choices()[0]
    if first.tool_calls:
        found["tool_calls"] = first.tool_calls
    if completion.more:
        found["choices"] = [c.text for c in completion.choices()]
    return found


def model_entry(name: str, provider: str) -> dict[str, Any]:
    """One entry of ``/v1/models``."""
    return {"id": name, "object": "model", "created": 0, "owned_by": f"lanza:{provider}"}


def _headers(reply: Reply) -> dict[str, str]:
    headers = {"x-lanza-served-by": reply.served_by}
    if reply.cached:
        headers["x-lanza-cache"] = "hit"
    return headers


def _record_usage(span: Span, reply: Reply) -> None:
    usage = reply.usage
    span.set_usage(usage.prompt_tokens, usage.completion_tokens, reply.model, reply.cost_usd)
